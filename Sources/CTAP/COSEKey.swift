import CBOR
import Crypto
import CryptoExtras
import CTAPWire
import Foundation

/// COSE algorithm identifiers this authenticator can create credentials with (IANA COSE registry).
/// getInfo lists them in this order, which is also the order of preference.
public enum COSEAlgorithm: Int, Sendable, CaseIterable, CustomStringConvertible {
    case es256 = -7
    case edDSA = -8
    case es384 = -35
    case rs256 = -257

    public var description: String {
        switch self {
        case .es256: "ES256"
        case .edDSA: "EdDSA"
        case .es384: "ES384"
        case .rs256: "RS256"
        }
    }

    /// Whether the private key fits inside a credential ID. An RSA key (over a kilobyte of DER)
    /// does not: it is kept in the store and the ID refers to it.
    var keyFitsInCredentialID: Bool { self != .rs256 }
}

/// A credential's private key in clear, as it lives in memory between decryption and signing.
/// `raw` is the 32-byte scalar (ES256, EdDSA seed), the 48-byte scalar (ES384), or the PKCS#1
/// DER of an RSA-2048 key (RS256). The key is imported once, which also checks it: importing
/// costs about half a signature, and a getAssertion used to import it twice.
public struct CredentialPrivateKey: Sendable {
    public let algorithm: COSEAlgorithm
    public let raw: [UInt8]
    private let key: Imported

    private enum Imported: @unchecked Sendable {  // swift-crypto's key types are immutable values
        case p256(P256.Signing.PrivateKey)
        case p384(P384.Signing.PrivateKey)
        case ed25519(Curve25519.Signing.PrivateKey)
        case rsa(_RSA.Signing.PrivateKey)
    }

    public init(algorithm: COSEAlgorithm, raw: [UInt8]) throws(CTAPError) {
        self.algorithm = algorithm
        self.raw = raw
        do {
            switch algorithm {
            case .es256: key = .p256(try P256.Signing.PrivateKey(rawRepresentation: raw))
            case .es384: key = .p384(try P384.Signing.PrivateKey(rawRepresentation: raw))
            case .edDSA: key = .ed25519(try Curve25519.Signing.PrivateKey(rawRepresentation: raw))
            case .rs256:
                let rsa = try _RSA.Signing.PrivateKey(derRepresentation: raw)
                guard rsa.keySizeInBits >= 2048 else { throw CTAPError(.other, "RSA key too small") }
                key = .rsa(rsa)
            }
        } catch {
            throw CTAPError(.other, "invalid \(algorithm) key material")
        }
    }

    /// A fresh key from the injected random source (so tests are deterministic). RSA keys come
    /// from the source when it has them, else from BoringSSL's own generator.
    public static func generate(_ algorithm: COSEAlgorithm, random: RandomSource) -> CredentialPrivateKey {
        switch algorithm {
        case .rs256:
            if let der = random.rsaKey(), let key = try? CredentialPrivateKey(algorithm: .rs256, raw: der) { return key }
            // Key generation only fails on allocation failure.
            let key = try! _RSA.Signing.PrivateKey(keySize: .bits2048)
            return try! CredentialPrivateKey(algorithm: .rs256, raw: Array(key.derRepresentation))
        case .es256, .edDSA, .es384:
            let length = algorithm == .es384 ? 48 : 32
            while true {
                // A random scalar is a valid EC key unless it is zero or >= n (probability ~2^-32).
                if let key = try? CredentialPrivateKey(algorithm: algorithm, raw: random.bytes(length)) { return key }
            }
        }
    }

    /// The signature WebAuthn expects: DER ECDSA for ES256/ES384, raw 64 bytes for EdDSA,
    /// PKCS#1 v1.5 over SHA-256 for RS256.
    public func sign(_ message: [UInt8]) throws(CTAPError) -> [UInt8] {
        do {
            switch key {
            case .p256(let key): return Array(try key.signature(for: message).derRepresentation)
            case .p384(let key): return Array(try key.signature(for: message).derRepresentation)
            case .ed25519(let key): return Array(try key.signature(for: message))
            case .rsa(let key):
                return Array(try key.signature(for: SHA256.hash(data: message), padding: .insecurePKCS1v1_5).rawRepresentation)
            }
        } catch {
            throw CTAPError(.other, "signing failed: \(error)")
        }
    }

    /// The public key as a COSE_Key map (RFC 9053 EC2/OKP, RFC 8230 RSA; CTAP 2.1 §6.5.6).
    public func publicKeyCOSE() throws(CTAPError) -> CBORValue {
        switch key {
        case .p256(let key):
            let point = Array(key.publicKey.x963Representation)
            return COSEKey.ec2(alg: .es256, curve: .p256, x: Array(point[1...32]), y: Array(point[33...64]))
        case .p384(let key):
            let point = Array(key.publicKey.x963Representation)
            return COSEKey.ec2(alg: .es384, curve: .p384, x: Array(point[1...48]), y: Array(point[49...96]))
        case .ed25519(let key):
            return .keyed([(COSEKeyLabel.kty, .int(COSEKeyType.okp.rawValue)), (.alg, .int(COSEAlgorithmIdentifier.edDSA.rawValue)),
                           (.crv, .int(COSECurve.ed25519.rawValue)), (.x, .bytes(Array(key.publicKey.rawRepresentation)))])
        case .rsa(let key):
            guard let primitives = try? key.publicKey.getKeyPrimitives() else { throw CTAPError(.other, "invalid RSA key material") }
            // RSA's labels -1 and -2 are n and e (RFC 8230 §4).
            return .keyed([(COSEKeyLabel.kty, .int(COSEKeyType.rsa.rawValue)), (.alg, .int(COSEAlgorithmIdentifier.rs256.rawValue)),
                           (.crv, .bytes(Array(primitives.modulus))), (.x, .bytes(Array(primitives.publicExponent)))])
        }
    }
}

/// COSE_Key maps (RFC 9052 §7).
enum COSEKey {
    static func ec2(alg: COSEAlgorithmIdentifier, curve: COSECurve, x: [UInt8], y: [UInt8]) -> CBORValue {
        .keyed([(COSEKeyLabel.kty, .int(COSEKeyType.ec2.rawValue)), (.alg, .int(alg.rawValue)), (.crv, .int(curve.rawValue)),
                (.x, .bytes(x)), (.y, .bytes(y))])
    }
}
