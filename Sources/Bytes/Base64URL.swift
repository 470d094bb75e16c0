/// WebAuthn's binary-to-text encoding (RFC 4648 §5): written unpadded, as browsers' toJSON()
/// does. Read leniently where that is unambiguous: with or without padding, and in the standard
/// alphabet too (the Mosaic SDK wrapper writes `btoa`'s). A length of 1 mod 4 (no whole byte),
/// other characters, or padding in the middle are refused. The relying party's verifier keeps
/// its own implementation of the same rules, checked against the same vectors.
public enum Base64URL {
    static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)
    static let standardAlphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    public static func encode(_ bytes: some Collection<UInt8>) -> String { encode(bytes, alphabet: alphabet, padded: false) }

    /// Padded standard base64, as `btoa` writes it.
    public static func encodeStandard(_ bytes: some Collection<UInt8>) -> String { encode(bytes, alphabet: standardAlphabet, padded: true) }

    static func encode(_ bytes: some Collection<UInt8>, alphabet: [UInt8], padded: Bool) -> String {
        let input = Array(bytes)
        var out: [UInt8] = []
        out.reserveCapacity((input.count + 2) / 3 * 4)
        var i = 0
        while i < input.count {
            let chunk = input[i..<min(i + 3, input.count)]
            let value = chunk.enumerated().reduce(UInt32(0)) { $0 | UInt32($1.element) << (16 - 8 * UInt32($1.offset)) }
            for j in 0..<(chunk.count + 1) { out.append(alphabet[Int(value >> (18 - 6 * UInt32(j)) & 0x3F)]) }
            if padded { out += [UInt8](repeating: UInt8(ascii: "="), count: 3 - chunk.count) }
            i += 3
        }
        return String(decoding: out, as: UTF8.self)
    }

    public static func decode(_ text: String) -> [UInt8]? {
        var utf8 = Array(text.utf8)
        if utf8.last == UInt8(ascii: "=") {
            // Padding is all-or-nothing: it completes the last group of four.
            guard utf8.count % 4 == 0 else { return nil }
            utf8.removeLast()
            if utf8.last == UInt8(ascii: "=") { utf8.removeLast() }
        }
        guard utf8.count % 4 != 1 else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(utf8.count * 3 / 4)
        var value: UInt32 = 0, bits = 0  // bits waiting in `value`'s low end
        for c in utf8 {
            guard let sextet = sextet(c) else { return nil }
            value = value << 6 | UInt32(sextet)
            bits += 6
            if bits >= 8 {
                bits -= 8
                out.append(UInt8(truncatingIfNeeded: value >> UInt32(bits)))
            }
        }
        return out
    }

    static func sextet(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"): c - UInt8(ascii: "A")
        case UInt8(ascii: "a")...UInt8(ascii: "z"): c - UInt8(ascii: "a") + 26
        case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0") + 52
        case UInt8(ascii: "-"), UInt8(ascii: "+"): 62
        case UInt8(ascii: "_"), UInt8(ascii: "/"): 63
        default: nil
        }
    }
}
