import CBOR
import Crypto
import CryptoExtras
import Foundation

/// The COSE algorithms this RP verifies (IANA COSE Algorithms registry).
public enum COSEAlgorithm: Int, Sendable, CaseIterable, Codable {
    case es256 = -7
    case edDSA = -8
    case es384 = -35
    case rs256 = -257

    public var name: String {
        switch self {
        case .es256: "ES256"
        case .edDSA: "EdDSA"
        case .es384: "ES384"
        case .rs256: "RS256"
        }
    }
}

/// A credential public key from a COSE_Key (RFC 9052 §7, RFC 9053, RFC 8230), checked for
/// consistency (kty, crv and alg agree; coordinates have the curve's length; the point is on
/// the curve), ready to verify signatures.
public struct COSEPublicKey: Sendable, Equatable {
    enum Key: Sendable {
        case p256(P256.Signing.PublicKey)
        case p384(P384.Signing.PublicKey)
        case ed25519(Curve25519.Signing.PublicKey)
        case rsa(_RSA.Signing.PublicKey)
    }

    public let algorithm: COSEAlgorithm
    let key: Key
    /// For equality and for fido-u2f's raw point: the key's public bytes.
    let material: [UInt8]

    public static func == (a: COSEPublicKey, b: COSEPublicKey) -> Bool {
        a.algorithm == b.algorithm && a.material == b.material
    }

    private enum Label: Int { case kty = 1, alg = 3, crvOrN = -1, xOrE = -2, y = -3 }

    public init(_ value: CBORValue) throws(WebAuthnError) {
        func fail(_ why: String) -> WebAuthnError { WebAuthnError(.invalidPublicKey, why) }
        guard value.mapValue != nil else { throw fail("COSE key is not a map") }
        func field(_ label: Label) -> CBORValue? { value[int: label.rawValue] }
        guard let kty = field(.kty)?.intValue else { throw fail("COSE key has no kty") }
        guard let algValue = field(.alg)?.intValue else { throw fail("COSE key has no alg") }
        guard let alg = COSEAlgorithm(rawValue: algValue) else {
            throw WebAuthnError(.algorithmNotAllowed, "COSE algorithm \(algValue) is not supported")
        }
        algorithm = alg
        do {
            switch (kty, alg) {
            case (2, .es256), (2, .es384):
                let (crv, size) = alg == .es256 ? (1, 32) : (2, 48)
                guard field(.crvOrN)?.intValue == crv else { throw fail("EC2 key for \(alg.name) needs crv \(crv)") }
                guard let x = field(.xOrE)?.bytesValue, let y = field(.y)?.bytesValue, x.count == size, y.count == size else {
                    throw fail("EC2 key coordinates must be \(size) bytes each")
                }
                material = [0x04] + x + y
                key = alg == .es256 ? .p256(try P256.Signing.PublicKey(x963Representation: material))
                                    : .p384(try P384.Signing.PublicKey(x963Representation: material))
            case (1, .edDSA):
                guard field(.crvOrN)?.intValue == 6 else { throw fail("OKP key for EdDSA needs crv 6 (Ed25519)") }
                guard let x = field(.xOrE)?.bytesValue, x.count == 32 else { throw fail("Ed25519 key must be 32 bytes") }
                material = x
                key = .ed25519(try Curve25519.Signing.PublicKey(rawRepresentation: x))
            case (3, .rs256):
                guard let n = field(.crvOrN)?.bytesValue, let e = field(.xOrE)?.bytesValue else { throw fail("RSA key needs n and e") }
                let rsa = try _RSA.Signing.PublicKey(n: n, e: e)
                guard rsa.keySizeInBits >= 2048 else { throw fail("RSA key is \(rsa.keySizeInBits) bits, under 2048") }
                material = n + e
                key = .rsa(rsa)
            default:
                throw fail("key type \(kty) does not match algorithm \(alg.name)")
            }
        } catch let error as WebAuthnError {
            throw error
        } catch {
            throw fail("\(alg.name) public key is not a valid key (\(error))")
        }
    }

    /// The uncompressed EC point (0x04 || x || y) of a P-256 key; nil for other keys.
    public var p256Point: [UInt8]? {
        if case .p256 = key { return material }
        return nil
    }

    /// Verifies a WebAuthn signature: ECDSA as DER, EdDSA raw, RSA PKCS#1 v1.5 with SHA-256.
    public func isValidSignature(_ signature: [UInt8], for data: [UInt8]) -> Bool {
        switch key {
        case .p256(let key):
            guard let sig = try? P256.Signing.ECDSASignature(derRepresentation: signature) else { return false }
            return key.isValidSignature(sig, for: data)
        case .p384(let key):
            guard let sig = try? P384.Signing.ECDSASignature(derRepresentation: signature) else { return false }
            return key.isValidSignature(sig, for: data)
        case .ed25519(let key):
            return key.isValidSignature(signature, for: data)
        case .rsa(let key):
            return key.isValidSignature(_RSA.Signing.RSASignature(rawRepresentation: signature), for: data, padding: .insecurePKCS1v1_5)
        }
    }
}
