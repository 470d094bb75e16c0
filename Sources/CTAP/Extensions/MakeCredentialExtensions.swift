import CBOR

/// The extensions makeCredential understands (CTAP 2.1 §12), parsed from the request's
/// extensions map, and what they put in the authenticator data. Unknown extensions are ignored.
struct MakeCredentialExtensions {
    /// credProtect (§12.1): 1 userVerificationOptional, 2 ...OptionalWithCredentialIDList,
    /// 3 userVerificationRequired.
    var credProtect: UInt8?

    init(_ extensions: CBORValue?) throws(CTAPError) {
        guard let extensions else { return }
        if let level = extensions[text: "credProtect"] {
            let value = try level.expectInt("credProtect")
            guard (1...3).contains(value) else { throw CTAPError(.invalidOption, "credProtect \(value)") }
            credProtect = UInt8(value)
        }
    }

    /// The extension outputs for authData (ED flag), nil when there are none.
    var output: CBORValue? {
        let entries: [(String, CBORValue?)] = [("credProtect", credProtect.map { .int(Int($0)) })]
        let present = entries.filter { $0.1 != nil }
        return present.isEmpty ? nil : .textMap(present)
    }
}
