import CTAPWire

/// Finding the credential a request names, shared by makeCredential's exclude list,
/// getAssertion and U2F AUTHENTICATE.

/// One credential that can answer an assertion.
struct AssertionCandidate {
    var id: [UInt8]
    var source: CredentialSource
    var key: CredentialPrivateKey
    /// The stored credential, when the store keeps one (discoverable, or added by the control API).
    var stored: StoredCredential?
    /// The stored credential when it is discoverable: what answers with a user entity and a largeBlobKey.
    var resident: StoredCredential? { stored?.discoverable == true ? stored : nil }
}

extension Authenticator {
    /// Finds the credential a credential ID names for this RP: nil if the ID is not ours, was
    /// altered, belongs to another RP, or names a stored credential that was deleted.
    func locate(_ credentialId: [UInt8], rpIdHash: [UInt8]) throws(CTAPError) -> AssertionCandidate? {
        guard credentialId.count <= config.maxCredentialIdLength, let source = sealer.open(credentialId, rpIdHash: rpIdHash) else {
            // Not an ID this key sealed: a credential added through the control API, by its ID.
            guard !credentialId.isEmpty, credentialId.count <= StoredCredential.maxImportedIdLength,
                  let stored = try storeCall({ try store.storedCredential(id: credentialId) }), stored.rpIdHash == rpIdHash
            else { return nil }
            return try candidate(stored)
        }
        var resident: StoredCredential?
        var key = source.key
        if source.isResident {
            guard let stored = try storeCall({ try store.storedCredential(id: credentialId) }) else { return nil }
            resident = stored
            key = stored.privateKey
        } else if source.keyIsDetached {
            guard let stored = try storeCall({ try store.detachedKey(id: credentialId) }) else { return nil }
            key = stored
        }
        return AssertionCandidate(id: credentialId, source: source, key: try CredentialPrivateKey(algorithm: source.algorithm, raw: key),
                                  stored: resident)
    }

    /// A stored credential as an assertion candidate. The ID of one this key made carries the
    /// extension state (credBlob, hmac-secret); one added through the control API has none.
    func candidate(_ credential: StoredCredential) throws(CTAPError) -> AssertionCandidate? {
        let source = sealer.open(credential.id, rpIdHash: credential.rpIdHash)
            ?? CredentialSource(key: [], algorithm: credential.algorithm, isResident: credential.discoverable,
                                credProtect: credential.credProtect)
        return AssertionCandidate(id: credential.id, source: source,
                                  key: try CredentialPrivateKey(algorithm: credential.algorithm, raw: credential.privateKey),
                                  stored: credential)
    }
}
