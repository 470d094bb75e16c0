import CBOR
import CTAPWire

/// The extensions getAssertion understands (CTAP 2.1 §12). Unknown extensions are ignored.
struct GetAssertionExtensions {
    /// hmac-secret (§12.5): salts to derive secrets from.
    var hmacSecret: HMACSecretInput?
    /// credBlob (§12.2): return the credential's blob.
    var credBlob = false
    /// largeBlobKey (§12.3): return the credential's large-blob key.
    var largeBlobKey = false
    /// thirdPartyPayment (CTAP 2.2): say whether the credential is a payment credential.
    var thirdPartyPayment = false

    init(_ extensions: CBORValue?) throws(CTAPError) {
        guard let extensions else { return }
        _ = try extensions.expectMap("extensions")
        if let input = extensions[text: "hmac-secret"] { hmacSecret = try HMACSecretInput(input, "hmac-secret") }
        credBlob = try extensions[text: "credBlob"]?.expectBool("credBlob") ?? false
        if let key = extensions[text: "largeBlobKey"] {
            guard try key.expectBool("largeBlobKey") else { throw CTAPError(.invalidOption, "largeBlobKey must be true") }
            largeBlobKey = true
        }
        thirdPartyPayment = try extensions[text: "thirdPartyPayment"]?.expectBool("thirdPartyPayment") ?? false
    }

    /// Forgets the extensions this key does not have: they are ignored, as unknown ones are.
    mutating func restrict(to enabled: Set<String>) {
        if !enabled.contains("hmac-secret") { hmacSecret = nil }
        if !enabled.contains("credBlob") { credBlob = false }
        if !enabled.contains("largeBlobKey") { largeBlobKey = false }
        if !enabled.contains("thirdPartyPayment") { thirdPartyPayment = false }
    }
}
