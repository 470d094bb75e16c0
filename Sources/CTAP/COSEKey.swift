import CBOR
import Crypto
import Foundation

/// COSE algorithm identifiers this authenticator can create credentials with (IANA COSE registry).
public enum COSEAlgorithm: Int, Sendable, CaseIterable, CustomStringConvertible {
    case es256 = -7
    case edDSA = -8

    public var description: String {
        switch self {
        case .es256: "ES256"
        case .edDSA: "EdDSA"
        }
    }
}

/// A credential's private key in clear, as it lives in memory between decryption and signing.
public struct CredentialPrivateKey: Sendable {
    public let algorithm: COSEAlgorithm
    public let raw: [UInt8]

    public init(algorithm: COSEAlgorithm, raw: [UInt8]) throws(CTAPError) {
        self.algorithm = algorithm
        self.raw = raw
        _ = try publicKeyCOSE()  // validates the key material once
    }

    /// A fresh key from the injected random source (so tests are deterministic).
    public static func generate(_ algorithm: COSEAlgorithm, random: RandomSource) -> CredentialPrivateKey {
        while true {
            // A 32-byte scalar is a valid P-256 key unless it is zero or >= n (probability ~2^-32).
            if let key = try? CredentialPrivateKey(algorithm: algorithm, raw: random.bytes(32)) { return key }
        }
    }

    /// The signature WebAuthn expects: DER ECDSA for ES256, raw 64 bytes for EdDSA.
    public func sign(_ message: [UInt8]) throws(CTAPError) -> [UInt8] {
        do {
            switch algorithm {
            case .es256:
                return Array(try P256.Signing.PrivateKey(rawRepresentation: raw).signature(for: message).derRepresentation)
            case .edDSA:
                return Array(try Curve25519.Signing.PrivateKey(rawRepresentation: raw).signature(for: message))
            }
        } catch {
            throw CTAPError(.other, "signing failed: \(error)")
        }
    }

    /// The public key as a COSE_Key map (RFC 9053; CTAP 2.1 §6.5.6 for EC2 and OKP).
    public func publicKeyCOSE() throws(CTAPError) -> CBORValue {
        do {
            switch algorithm {
            case .es256:
                let point = Array(try P256.Signing.PrivateKey(rawRepresentation: raw).publicKey.x963Representation)
                return COSEKey.ec2(alg: -7, curve: 1, x: Array(point[1...32]), y: Array(point[33...64]))
            case .edDSA:
                let x = Array(try Curve25519.Signing.PrivateKey(rawRepresentation: raw).publicKey.rawRepresentation)
                return .intMap([(1, .int(1)), (3, .int(-8)), (-1, .int(6)), (-2, .bytes(x))])
            }
        } catch {
            throw CTAPError(.other, "invalid \(algorithm) key material")
        }
    }
}

/// COSE_Key labels (RFC 9052 §7).
enum COSEKey {
    static func ec2(alg: Int, curve: Int, x: [UInt8], y: [UInt8]) -> CBORValue {
        .intMap([(1, .int(2)), (3, .int(alg)), (-1, .int(curve)), (-2, .bytes(x)), (-3, .bytes(y))])
    }
}
