/// CTAP 2.2's PIN complexity policy, which getInfo's pinComplexityPolicy (0x1B) says is
/// enforced: the specification leaves its rules to the authenticator (FIDO MDS lists them).
/// vfido's follow what YubiKey 5.7 publishes of its own and NIST SP 800-63B asks of a
/// blocklist: no PIN of one repeated character, no run of consecutive characters ("123456",
/// "987654", "abcdef"), none of the most common PINs. Only a new PIN is checked (setPIN,
/// changePIN); a PIN set before the policy was turned on stays usable, as on the YubiKey.
enum PinComplexity {
    /// The commonest PINs and passwords that no rule above already refuses (lower-cased).
    static let blocklist: Set<String> = [
        "0000", "1122", "1212", "1313", "2000", "2580", "4545", "6969",
        "111222", "112233", "121212", "123123", "123321", "131313", "159753", "654321", "666666", "696969", "520520",
        "11223344", "12121212", "12341234", "123123123", "147258369", "1q2w3e4r", "qwerty", "qwertyui", "qwertyuiop",
        "asdfgh", "asdfghjk", "zxcvbn", "password", "password1", "passw0rd", "iloveyou", "letmein", "welcome",
        "admin", "abc123", "monkey", "dragon", "football", "baseball", "master", "sunshine", "princess", "trustno1",
    ]

    /// Why `pin` is too weak, or nil if it passes.
    static func weakness(of pin: String) -> String? {
        let scalars = Array(pin.lowercased().unicodeScalars.map(\.value))
        if Set(scalars).count < 2 { return "a PIN of one repeated character" }
        let steps = Set(zip(scalars.dropFirst(), scalars).map { Int64($0) - Int64($1) })
        if steps == [1] || steps == [-1] { return "a run of consecutive characters" }
        if blocklist.contains(pin.lowercased()) { return "one of the most common PINs" }
        return nil
    }
}
