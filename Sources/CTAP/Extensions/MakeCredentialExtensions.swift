import CBOR
import CTAPWire

/// The extensions makeCredential understands (CTAP 2.1 §12; hmac-secret-mc from CTAP 2.2),
/// parsed from the request's extensions map. Unknown extensions are ignored.
struct MakeCredentialExtensions {
    /// credProtect (§12.1): 1 userVerificationOptional, 2 ...OptionalWithCredentialIDList,
    /// 3 userVerificationRequired.
    var credProtect: UInt8?
    /// hmac-secret (§12.5): create the credential with CredRandom secrets.
    var hmacSecret = false
    /// hmac-secret-mc: outputs for these salts already at creation.
    var hmacSecretMC: HMACSecretInput?
    /// credBlob (§12.2): a small blob stored with the credential.
    var credBlob: [UInt8]?
    /// largeBlobKey (§12.3): return the credential's large-blob key.
    var largeBlobKey = false
    /// minPinLength (§12.4): report the minimum PIN length to RPs allowed to see it.
    var minPinLength = false
    /// thirdPartyPayment (CTAP 2.2): a payment credential (Secure Payment Confirmation).
    var thirdPartyPayment = false
    /// pinComplexityPolicy (CTAP 2.2): report whether the policy is enforced, to the RPs
    /// minPinLength reports to.
    var pinComplexityPolicy = false

    /// Extensions not `enabled` on this key are ignored, as unknown ones are.
    init(_ extensions: CBORValue?, enabled: Set<String>) throws(CTAPError) {
        guard var extensions else { return }
        if case .map(let entries) = extensions {
            extensions = .map(entries.filter { if case .text(let name) = $0.key { enabled.contains(name) } else { true } })
        }
        if let level = extensions[text: "credProtect"] {
            let value = try level.expectInt("credProtect")
            guard (1...3).contains(value) else { throw CTAPError(.invalidOption, "credProtect \(value)") }
            credProtect = UInt8(value)
        }
        hmacSecret = try extensions[text: "hmac-secret"]?.expectBool("hmac-secret") ?? false
        if let mc = extensions[text: "hmac-secret-mc"] { hmacSecretMC = try HMACSecretInput(mc, "hmac-secret-mc") }
        credBlob = try extensions[text: "credBlob"]?.expectBytes("credBlob")
        if let key = extensions[text: "largeBlobKey"] {
            guard try key.expectBool("largeBlobKey") else { throw CTAPError(.invalidOption, "largeBlobKey must be true") }
            largeBlobKey = true
        }
        minPinLength = try extensions[text: "minPinLength"]?.expectBool("minPinLength") ?? false
        thirdPartyPayment = try extensions[text: "thirdPartyPayment"]?.expectBool("thirdPartyPayment") ?? false
        pinComplexityPolicy = try extensions[text: "pinComplexityPolicy"]?.expectBool("pinComplexityPolicy") ?? false
    }
}

/// The extension outputs of one operation, in authenticator data (ED flag) when not empty.
struct ExtensionOutputs {
    var entries: [(String, CBORValue)] = []
    mutating func add(_ name: String, _ value: CBORValue) { entries.append((name, value)) }
    var cbor: CBORValue? { entries.isEmpty ? nil : .textMap(entries.map { ($0.0, $0.1) }) }
}
