import CBOR
import CTAPWire

/// How makeCredential attests new credentials.
public enum AttestationMode: String, Sendable, CaseIterable {
    /// `packed` signed by the batch key, with the batch certificate in x5c.
    case packed
    /// `packed` self attestation: signed by the new credential's own key, no certificate.
    case `self`
    /// `none`: no attestation statement.
    case none
}

extension Authenticator {
    /// The attestation statement (WebAuthn L3 §8.2 packed, §8.7 none). A CTAP 2.2
    /// attestationFormatsPreference naming "none" first is honoured.
    func attest(_ authData: [UInt8], clientDataHash: [UInt8], credentialKey: CredentialPrivateKey,
                preference: [String]?, enterprise: Bool = false) throws(CTAPError) -> (String, CBORValue) {
        var mode = config.attestation
        if let first = preference?.first(where: { $0 == "packed" || $0 == "none" }), first == "none" { mode = .none }
        let signed = authData + clientDataHash
        if enterprise {
            // Enterprise attestation: always packed, by the device-unique enterprise key.
            let key = try CredentialPrivateKey(algorithm: .es256, raw: secrets.enterpriseKey)
            return ("packed", .textMap([
                ("alg", .int(COSEAlgorithm.es256.rawValue)),
                ("sig", .bytes(responseOverrides.apply(toSignature: try key.sign(signed)))),
                ("x5c", .array([.bytes(secrets.enterpriseCertificate)])),
            ]))
        }
        switch mode {
        case .none:
            return ("none", .map([]))
        case .self:
            return ("packed", .textMap([
                ("alg", .int(credentialKey.algorithm.rawValue)),
                ("sig", .bytes(responseOverrides.apply(toSignature: try credentialKey.sign(signed)))),
            ]))
        case .packed:
            let batchKey = try CredentialPrivateKey(algorithm: .es256, raw: secrets.batchKey)
            return ("packed", .textMap([
                ("alg", .int(COSEAlgorithm.es256.rawValue)),
                ("sig", .bytes(responseOverrides.apply(toSignature: try batchKey.sign(signed)))),
                ("x5c", .array([.bytes(secrets.batchCertificate)])),
            ]))
        }
    }
}
