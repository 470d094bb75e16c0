import CBOR
import Crypto
import CryptoExtras
import CTAPWire
import Foundation

/// The authenticator's side of PIN/UV auth protocols one and two (CTAP 2.1 §6.5.6, §6.5.7).
public enum PinUvAuthProtocol: Int, Sendable, CaseIterable {
    case one = 1
    case two = 2

    /// The shared secret from the platform's key agreement key and ours. Protocol one:
    /// SHA-256(Z). Protocol two: HKDF-SHA-256 of Z into an HMAC key and an AES key (64 bytes).
    func sharedSecret(platformKey: CBORValue, authenticatorKey: P256.KeyAgreement.PrivateKey) throws(CTAPError) -> [UInt8] {
        // COSE_Key: kty 2 (EC2), alg -25 (ECDH-ES+HKDF-256), crv 1 (P-256), x, y.
        guard platformKey[COSEKeyLabel.kty]?.intValue == COSEKeyType.ec2.rawValue,
              platformKey[COSEKeyLabel.crv]?.intValue == COSECurve.p256.rawValue,
              let x = platformKey[COSEKeyLabel.x]?.bytesValue, let y = platformKey[COSEKeyLabel.y]?.bytesValue, x.count == 32, y.count == 32,
              let peer = try? P256.KeyAgreement.PublicKey(x963Representation: [0x04] + x + y),
              let shared = try? authenticatorKey.sharedSecretFromKeyAgreement(with: peer)
        else { throw CTAPError(.invalidParameter, "keyAgreement is not a P-256 point") }
        let z = shared.withUnsafeBytes { Array($0) }
        switch self {
        case .one:
            return Digest.sha256(z)
        case .two:
            let salt = [UInt8](repeating: 0, count: 32)
            let hmacKey = HKDF<SHA256>.deriveKey(inputKeyMaterial: SymmetricKey(data: z), salt: salt,
                                                 info: Array("CTAP2 HMAC key".utf8), outputByteCount: 32)
            let aesKey = HKDF<SHA256>.deriveKey(inputKeyMaterial: SymmetricKey(data: z), salt: salt,
                                                info: Array("CTAP2 AES key".utf8), outputByteCount: 32)
            return hmacKey.withUnsafeBytes { Array($0) } + aesKey.withUnsafeBytes { Array($0) }
        }
    }

    private func hmacKey(_ key: [UInt8]) -> [UInt8] { self == .two && key.count == 64 ? Array(key[0..<32]) : key }
    private func aesKey(_ key: [UInt8]) -> [UInt8] { self == .two && key.count == 64 ? Array(key[32..<64]) : key }

    /// AES-256-CBC without padding: a zero IV for protocol one, a random IV prepended for two.
    func encrypt(key: [UInt8], _ plaintext: [UInt8], iv: [UInt8]) throws(CTAPError) -> [UInt8] {
        do {
            switch self {
            case .one:
                return Array(try AES._CBC.encrypt(plaintext, using: SymmetricKey(data: aesKey(key)), iv: AES._CBC.IV(ivBytes: [UInt8](repeating: 0, count: 16)), noPadding: true))
            case .two:
                return iv + Array(try AES._CBC.encrypt(plaintext, using: SymmetricKey(data: aesKey(key)), iv: AES._CBC.IV(ivBytes: iv), noPadding: true))
            }
        } catch {
            throw CTAPError(.other, "AES-CBC encryption failed")
        }
    }

    /// nil when the ciphertext is not a whole number of blocks (or lacks its IV).
    func decrypt(key: [UInt8], _ ciphertext: [UInt8]) -> [UInt8]? {
        let iv: [UInt8], body: [UInt8]
        switch self {
        case .one:
            iv = [UInt8](repeating: 0, count: 16)
            body = ciphertext
        case .two:
            guard ciphertext.count >= 16 else { return nil }
            iv = Array(ciphertext[0..<16])
            body = Array(ciphertext[16...])
        }
        guard !body.isEmpty, body.count % 16 == 0, let ivValue = try? AES._CBC.IV(ivBytes: iv) else { return nil }
        return (try? AES._CBC.decrypt(body, using: SymmetricKey(data: aesKey(key)), iv: ivValue, noPadding: true)).map { Array($0) }
    }

    /// HMAC-SHA-256, truncated to 16 bytes for protocol one.
    func authenticate(key: [UInt8], _ message: [UInt8]) -> [UInt8] {
        let mac = Array(HMAC<SHA256>.authenticationCode(for: message, using: SymmetricKey(data: hmacKey(key))))
        return self == .one ? Array(mac.prefix(16)) : mac
    }

    func verify(key: [UInt8], _ message: [UInt8], signature: [UInt8]) -> Bool {
        let expected = authenticate(key: key, message)
        guard signature.count == expected.count else { return false }
        return zip(expected, signature).reduce(0) { $0 | ($1.0 ^ $1.1) } == 0  // constant time
    }

}
