import CBOR
import Crypto
import CTAPWire

/// The hmac-secret extension's input (CTAP 2.1 §12.5; hmac-secret-mc in CTAP 2.2 takes the same
/// map): salts encrypted under a shared secret the platform agreed with our key agreement key.
struct HMACSecretInput {
    typealias Key = HMACSecretKey

    var keyAgreement: CBORValue
    var saltEnc: [UInt8]
    var saltAuth: [UInt8]
    var pinUvAuthProtocol: Int

    init(_ value: CBORValue, _ name: String) throws(CTAPError) {
        _ = try value.expectMap(name)
        guard let keyAgreement = value[Key.keyAgreement], let saltEnc = value[Key.saltEnc], let saltAuth = value[Key.saltAuth] else {
            throw CTAPError(.missingParameter, "\(name) needs keyAgreement, saltEnc and saltAuth")
        }
        _ = try keyAgreement.expectMap("\(name) keyAgreement")
        self.keyAgreement = keyAgreement
        self.saltEnc = try saltEnc.expectBytes("\(name) saltEnc")
        self.saltAuth = try saltAuth.expectBytes("\(name) saltAuth")
        // Protocol one when absent, as CTAP 2.0 platforms send no protocol.
        pinUvAuthProtocol = try value[Key.pinUvAuthProtocol]?.expectInt("\(name) pinUvAuthProtocol") ?? 1
    }

    /// The decrypted salts and the shared secret to encrypt the outputs with.
    func open(with keyAgreementKey: P256.KeyAgreement.PrivateKey) throws(CTAPError) -> HMACSecretSalts {
        guard let proto = PinUvAuthProtocol(rawValue: pinUvAuthProtocol) else {
            throw CTAPError(.invalidParameter, "hmac-secret pinUvAuthProtocol \(pinUvAuthProtocol)")
        }
        let shared = try proto.sharedSecret(platformKey: keyAgreement, authenticatorKey: keyAgreementKey)
        guard proto.verify(key: shared, saltEnc, signature: saltAuth) else {
            throw CTAPError(.pinAuthInvalid, "hmac-secret saltAuth does not verify")
        }
        guard let salts = proto.decrypt(key: shared, saltEnc), salts.count == 32 || salts.count == 64 else {
            throw CTAPError(.invalidLength, "hmac-secret needs one or two 32-byte salts")
        }
        return HMACSecretSalts(proto: proto, shared: shared, salts: salts)
    }
}

/// Salts ready to use: one output per salt, HMAC-SHA-256 under the credential's CredRandom.
struct HMACSecretSalts {
    var proto: PinUvAuthProtocol
    var shared: [UInt8]
    var salts: [UInt8]

    func output(credRandom: [UInt8], iv: [UInt8]) throws(CTAPError) -> [UInt8] {
        let key = SymmetricKey(data: credRandom)
        var outputs: [UInt8] = []
        for start in stride(from: 0, to: salts.count, by: 32) {
            outputs += Array(HMAC<SHA256>.authenticationCode(for: salts[start..<(start + 32)], using: key))
        }
        return try proto.encrypt(key: shared, outputs, iv: iv)
    }
}

/// Per-credential secrets derived from the master key and the credential ID, so neither
/// resident nor non-resident credentials need storage for them and a reset destroys them all.
struct CredentialSecrets: Sendable {
    private let hmacSecretKey: SymmetricKey
    private let largeBlobKeyKey: SymmetricKey

    init(masterKey: [UInt8]) {
        let master = SymmetricKey(data: masterKey)
        hmacSecretKey = HKDF<SHA256>.deriveKey(inputKeyMaterial: master, info: Array("vfido hmac-secret v1".utf8), outputByteCount: 32)
        largeBlobKeyKey = HKDF<SHA256>.deriveKey(inputKeyMaterial: master, info: Array("vfido largeBlobKey v1".utf8), outputByteCount: 32)
    }

    /// CredRandomWithUV / CredRandomWithoutUV: distinct, so an RP can tell whether the user
    /// was verified when it derived a secret.
    func credRandom(credentialId: [UInt8], userVerified: Bool) -> [UInt8] {
        Array(HMAC<SHA256>.authenticationCode(for: [userVerified ? 1 : 0] + credentialId, using: hmacSecretKey))
    }

    func largeBlobKey(credentialId: [UInt8]) -> [UInt8] {
        Array(HMAC<SHA256>.authenticationCode(for: credentialId, using: largeBlobKeyKey))
    }
}
