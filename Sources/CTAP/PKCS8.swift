import Crypto
import CryptoExtras
import Foundation
import SwiftASN1

/// Private keys in PKCS#8 (RFC 5208 PrivateKeyInfo), the form WebDriver's and CDP's credential
/// JSON and the Credential Exchange Format carry: what the control API imports and exports.
extension CredentialPrivateKey {
    static let ed25519: ASN1ObjectIdentifier = [1, 3, 101, 112]

    /// Reads a PKCS#8 key of a type this key can sign with (P-256, P-384, Ed25519, RSA >= 2048),
    /// with an error that names what is wrong.
    public init(pkcs8 der: [UInt8]) throws(CTAPError) {
        let algorithm: ASN1ObjectIdentifier
        let parameters: ASN1ObjectIdentifier?
        let privateKey: [UInt8]
        do {
            (algorithm, parameters, privateKey) = try DER.sequence(try DER.parse(der), identifier: .sequence) { nodes in
                guard try Int(derEncoded: &nodes) <= 1 else { throw ASN1Error.invalidASN1Object(reason: "PKCS#8 version") }
                let (oid, parameters) = try DER.sequence(of: ASN1Any.self, identifier: .sequence, nodes: &nodes).prefixSplit()
                let key = try ASN1OctetString(derEncoded: &nodes)
                while nodes.next() != nil {}  // attributes and the public key are not needed
                return (oid, parameters, Array(key.bytes))
            }
        } catch {
            throw CTAPError(.invalidParameter, "privateKey is not PKCS#8 DER: \(error)")
        }
        switch (algorithm, parameters) {
        case (.AlgorithmIdentifier.idEcPublicKey, .NamedCurves.secp256r1?):
            guard let key = try? P256.Signing.PrivateKey(derRepresentation: der) else {
                throw CTAPError(.invalidParameter, "privateKey: not a valid P-256 key")
            }
            try self.init(algorithm: .es256, raw: Array(key.rawRepresentation))
        case (.AlgorithmIdentifier.idEcPublicKey, .NamedCurves.secp384r1?):
            guard let key = try? P384.Signing.PrivateKey(derRepresentation: der) else {
                throw CTAPError(.invalidParameter, "privateKey: not a valid P-384 key")
            }
            try self.init(algorithm: .es384, raw: Array(key.rawRepresentation))
        case (.AlgorithmIdentifier.idEcPublicKey, let curve):
            throw CTAPError(.unsupportedAlgorithm, "privateKey: EC curve \(curve.map { "\($0)" } ?? "(none)") is not supported (P-256 and P-384 are)")
        case (Self.ed25519, _):
            // RFC 8410 §7: the OCTET STRING holds another OCTET STRING, the 32-byte seed.
            guard let seed = try? ASN1OctetString(derEncoded: privateKey), seed.bytes.count == 32 else {
                throw CTAPError(.invalidParameter, "privateKey: not a valid Ed25519 key")
            }
            try self.init(algorithm: .edDSA, raw: Array(seed.bytes))
        case (.AlgorithmIdentifier.rsaEncryption, _):
            // The unsafe parser reads short keys too, so that they are refused by name.
            guard let key = try? _RSA.Signing.PrivateKey(unsafeDERRepresentation: privateKey) else {
                throw CTAPError(.invalidParameter, "privateKey: not a valid RSA key")
            }
            guard key.keySizeInBits >= 2048 else { throw CTAPError(.unsupportedAlgorithm, "privateKey: RSA keys under 2048 bits are refused") }
            try self.init(algorithm: .rs256, raw: Array(key.derRepresentation))
        default:
            throw CTAPError(.unsupportedAlgorithm, "privateKey: algorithm \(algorithm) is not supported (P-256, P-384, Ed25519, RSA are)")
        }
    }

    /// The key as PKCS#8 DER (what an explicit export hands out).
    public func pkcs8() throws(CTAPError) -> [UInt8] {
        do {
            switch algorithm {
            case .es256: return Array(try P256.Signing.PrivateKey(rawRepresentation: raw).derRepresentation)
            case .es384: return Array(try P384.Signing.PrivateKey(rawRepresentation: raw).derRepresentation)
            case .rs256: return Array(try _RSA.Signing.PrivateKey(derRepresentation: raw).pkcs8DERRepresentation)
            case .edDSA:
                var serializer = DER.Serializer()
                try serializer.appendConstructedNode(identifier: .sequence) { body in
                    try body.serialize(0)
                    try body.appendConstructedNode(identifier: .sequence) { try $0.serialize(Self.ed25519) }
                    var seed = DER.Serializer()
                    try seed.serialize(ASN1OctetString(contentBytes: ArraySlice(raw)))
                    try body.serialize(ASN1OctetString(contentBytes: ArraySlice(seed.serializedBytes)))
                }
                return serializer.serializedBytes
            }
        } catch {
            throw CTAPError(.other, "cannot encode the \(algorithm) key as PKCS#8")
        }
    }
}

private extension Array where Element == ASN1Any {
    /// An AlgorithmIdentifier's OID and its parameters when they are a named curve OID.
    func prefixSplit() throws -> (ASN1ObjectIdentifier, ASN1ObjectIdentifier?) {
        guard let first else { throw ASN1Error.invalidASN1Object(reason: "empty AlgorithmIdentifier") }
        let oid = try ASN1ObjectIdentifier(asn1Any: first)
        return (oid, count > 1 ? try? ASN1ObjectIdentifier(asn1Any: self[1]) : nil)
    }
}
