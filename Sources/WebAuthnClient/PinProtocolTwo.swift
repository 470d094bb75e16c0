import CBOR
import CTAPWire
import Crypto
import CryptoExtras

/// The platform's side of PIN/UV auth protocol two (CTAP 2.1 §6.5.7): an ECDH P-256 key
/// agreement with the authenticator, HKDF into an HMAC key and an AES key, AES-256-CBC with a
/// random IV in front, HMAC-SHA-256 untruncated.
public struct PinProtocolTwo: Sendable {
    public static let number = 2
    /// Our half of the agreement, as a COSE_Key (kty EC2, alg ECDH-ES+HKDF-256, crv P-256).
    public let platformKey: CBORValue
    let hmacKey: SymmetricKey
    let aesKey: SymmetricKey

    /// Agrees on a shared secret with the authenticator's key agreement key (a COSE_Key).
    public init(authenticatorKey: CBORValue) throws {
        guard let x = authenticatorKey[COSEKeyLabel.x]?.bytesValue, let y = authenticatorKey[COSEKeyLabel.y]?.bytesValue,
              let peer = try? P256.KeyAgreement.PublicKey(x963Representation: [0x04] + x + y) else {
            throw CTAPHIDClientError.malformed("the key agreement key is not a P-256 point")
        }
        let ours = P256.KeyAgreement.PrivateKey()
        let point = Array(ours.publicKey.x963Representation)
        platformKey = .keyed([(COSEKeyLabel.kty, .int(COSEKeyType.ec2.rawValue)), (.alg, .int(COSEAlgorithmIdentifier.ecdhEsHkdf256.rawValue)),
                              (.crv, .int(COSECurve.p256.rawValue)), (.x, .bytes(Array(point[1..<33]))), (.y, .bytes(Array(point[33..<65])))])
        let z = try ours.sharedSecretFromKeyAgreement(with: peer).withUnsafeBytes { SymmetricKey(data: $0) }
        let salt = [UInt8](repeating: 0, count: 32)
        hmacKey = HKDF<SHA256>.deriveKey(inputKeyMaterial: z, salt: salt, info: Array("CTAP2 HMAC key".utf8), outputByteCount: 32)
        aesKey = HKDF<SHA256>.deriveKey(inputKeyMaterial: z, salt: salt, info: Array("CTAP2 AES key".utf8), outputByteCount: 32)
    }

    public func encrypt(_ plaintext: [UInt8]) throws -> [UInt8] {
        let iv = (0..<16).map { _ in UInt8.random(in: 0...255) }
        return iv + Array(try AES._CBC.encrypt(plaintext, using: aesKey, iv: AES._CBC.IV(ivBytes: iv), noPadding: true))
    }

    public func decrypt(_ ciphertext: [UInt8]) throws -> [UInt8] {
        guard ciphertext.count > 16, ciphertext.count % 16 == 0 else { throw CTAPHIDClientError.malformed("ciphertext of \(ciphertext.count) bytes") }
        return Array(try AES._CBC.decrypt(ciphertext[16...], using: aesKey, iv: AES._CBC.IV(ivBytes: ciphertext[..<16]), noPadding: true))
    }

    public func authenticate(_ message: [UInt8]) -> [UInt8] {
        Array(HMAC<SHA256>.authenticationCode(for: message, using: hmacKey))
    }

    /// A pinUvAuthToken's MAC over `message` (the token is the HMAC key, §6.5.7 authenticate).
    public static func authenticate(token: [UInt8], _ message: [UInt8]) -> [UInt8] {
        Array(HMAC<SHA256>.authenticationCode(for: message, using: SymmetricKey(data: token)))
    }

    /// authenticatorClientPIN getKeyAgreement, then a protocol-two session with the key.
    public static func agree(with device: CTAP2Device) async throws -> PinProtocolTwo {
        let reply = try await device.clientPIN(.keyed([(ClientPINKey.pinUvAuthProtocol, .int(number)),
                                                        (.subCommand, .int(ClientPINSubCommand.getKeyAgreement.rawValue))]))
        guard let key = reply[ClientPINResponseKey.keyAgreement] else { throw CTAPHIDClientError.malformed("getKeyAgreement without a key") }
        return try PinProtocolTwo(authenticatorKey: key)
    }

    /// Permissions of getPinUvAuthTokenUsingPinWithPermissions (§6.5.5.7).
    public struct Permissions: OptionSet, Sendable {
        public let rawValue: Int
        public init(rawValue: Int) { self.rawValue = rawValue }
        public static let makeCredential = Permissions(rawValue: 0x01)
        public static let getAssertion = Permissions(rawValue: 0x02)
    }

    /// A pinUvAuthToken for `rpID` from the user's PIN (subcommand 0x09).
    public static func token(pin: String, permissions: Permissions, rpID: String, device: CTAP2Device) async throws -> [UInt8] {
        let session = try await agree(with: device)
        let pinHash = Array(SHA256.hash(data: Array(pin.utf8)).prefix(16))
        let reply = try await device.clientPIN(.keyed([
            (ClientPINKey.pinUvAuthProtocol, .int(number)),
            (.subCommand, .int(ClientPINSubCommand.getPinUvAuthTokenUsingPinWithPermissions.rawValue)),
            (.keyAgreement, session.platformKey), (.pinHashEnc, .bytes(try session.encrypt(pinHash))),
            (.permissions, .int(permissions.rawValue)), (.rpId, .text(rpID)),
        ]))
        guard let encrypted = reply[ClientPINResponseKey.pinUvAuthToken]?.bytesValue else { throw CTAPHIDClientError.malformed("no pinUvAuthToken") }
        return try session.decrypt(encrypted)
    }
}
