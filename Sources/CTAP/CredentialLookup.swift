import CTAPWire

/// Finding the credential a request names, shared by makeCredential's exclude list,
/// getAssertion and U2F AUTHENTICATE.

/// One credential that can answer an assertion.
struct AssertionCandidate {
    var id: [UInt8]
    var source: CredentialSource
    var key: CredentialPrivateKey
    var resident: ResidentCredential?
}

extension Authenticator {
    /// Finds the credential a credential ID names for this RP: nil if the ID is not ours, was
    /// altered, belongs to another RP, or names a resident credential that was deleted.
    func locate(_ credentialId: [UInt8], rpIdHash: [UInt8]) throws(CTAPError) -> AssertionCandidate? {
        guard credentialId.count <= config.maxCredentialIdLength,
              let source = sealer.open(credentialId, rpIdHash: rpIdHash) else { return nil }
        var resident: ResidentCredential?
        var key = source.key
        if source.isResident {
            guard let stored = try storeCall({ try store.residentCredential(id: credentialId) }) else { return nil }
            resident = stored
            key = stored.privateKey
        } else if source.keyIsDetached {
            guard let stored = try storeCall({ try store.detachedKey(id: credentialId) }) else { return nil }
            key = stored
        }
        return AssertionCandidate(id: credentialId, source: source, key: try CredentialPrivateKey(algorithm: source.algorithm, raw: key),
                                  resident: resident)
    }

    /// A stored discoverable credential as an assertion candidate (its ID carries the
    /// extension state: credBlob, hmac-secret).
    func candidate(_ credential: ResidentCredential) throws(CTAPError) -> AssertionCandidate? {
        guard let source = sealer.open(credential.id, rpIdHash: credential.rpIdHash) else { return nil }
        return AssertionCandidate(id: credential.id, source: source,
                                  key: try CredentialPrivateKey(algorithm: credential.algorithm, raw: credential.privateKey),
                                  resident: credential)
    }
}
