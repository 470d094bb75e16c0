import CBOR
import Crypto
import CryptoExtras
import Foundation
import RelyingParty
import SwiftASN1
import X509

/// A minimal software authenticator for the RP's tests, written from the WebAuthn spec and
/// independent of vfido's CTAP core: it builds authenticator data, attestation objects and
/// assertions byte by byte, so tests can break any one field.
struct SoftKey {
    enum Signer {
        case p256(P256.Signing.PrivateKey), p384(P384.Signing.PrivateKey), ed25519(Curve25519.Signing.PrivateKey), rsa(_RSA.Signing.PrivateKey)
    }

    var signer: Signer
    var credentialID: [UInt8] = (0..<32).map { _ in UInt8.random(in: 0...255) }
    var aaguid: [UInt8] = Array(repeating: 0x42, count: 16)
    var counter: UInt32 = 0
    var flags: UInt8 = 0x01 | 0x04  // UP, UV

    init(_ algorithm: COSEAlgorithm = .es256) {
        switch algorithm {
        case .es256: signer = .p256(P256.Signing.PrivateKey())
        case .es384: signer = .p384(P384.Signing.PrivateKey())
        case .edDSA: signer = .ed25519(Curve25519.Signing.PrivateKey())
        case .rs256: signer = .rsa(try! _RSA.Signing.PrivateKey(keySize: .bits2048))
        }
    }

    var algorithm: COSEAlgorithm {
        switch signer {
        case .p256: .es256
        case .p384: .es384
        case .ed25519: .edDSA
        case .rsa: .rs256
        }
    }

    var coseKey: [UInt8] {
        let value: CBORValue
        switch signer {
        case .p256(let k):
            let raw = Array(k.publicKey.rawRepresentation)
            value = .intMap([(1, .int(2)), (3, .int(-7)), (-1, .int(1)), (-2, .bytes(Array(raw[0..<32]))), (-3, .bytes(Array(raw[32...])))])
        case .p384(let k):
            let raw = Array(k.publicKey.rawRepresentation)
            value = .intMap([(1, .int(2)), (3, .int(-35)), (-1, .int(2)), (-2, .bytes(Array(raw[0..<48]))), (-3, .bytes(Array(raw[48...])))])
        case .ed25519(let k):
            value = .intMap([(1, .int(1)), (3, .int(-8)), (-1, .int(6)), (-2, .bytes(Array(k.publicKey.rawRepresentation)))])
        case .rsa(let k):
            let p = try! k.publicKey.getKeyPrimitives()
            value = .intMap([(1, .int(3)), (3, .int(-257)), (-1, .bytes(Array(p.modulus))), (-2, .bytes(Array(p.publicExponent)))])
        }
        return CBORWriter.encode(value)
    }

    func sign(_ data: [UInt8]) -> [UInt8] {
        switch signer {
        case .p256(let k): Array(try! k.signature(for: data).derRepresentation)
        case .p384(let k): Array(try! k.signature(for: data).derRepresentation)
        case .ed25519(let k): Array(try! k.signature(for: data))
        case .rsa(let k): Array(try! k.signature(for: data, padding: .insecurePKCS1v1_5).rawRepresentation)
        }
    }

    static func clientData(_ type: String, challenge: [UInt8], origin: String, crossOrigin: Bool = false) -> [UInt8] {
        Array(#"{"type":"\#(type)","challenge":"\#(Base64URL.encode(challenge))","origin":"\#(origin)","crossOrigin":\#(crossOrigin)}"#.utf8)
    }

    func authData(rpID: String, attested: Bool) -> [UInt8] {
        var out = Array(SHA256.hash(data: Array(rpID.utf8)))
        out.append(flags | (attested ? 0x40 : 0))
        out += withUnsafeBytes(of: counter.bigEndian, Array.init)
        if attested {
            out += aaguid + [UInt8(credentialID.count >> 8), UInt8(credentialID.count & 0xFF)] + credentialID + coseKey
        }
        return out
    }

    enum Format { case none, packedSelf, packedX5C(P256.Signing.PrivateKey, Certificate), fidoU2F(P256.Signing.PrivateKey, Certificate) }

    /// A registration: (clientDataJSON, attestationObject). `edit` may change authData before signing.
    mutating func register(rpID: String = "localhost", challenge: [UInt8], origin: String = "http://localhost:8080",
                           format: Format = .packedSelf, type: String = "webauthn.create",
                           edit: (inout [UInt8]) -> Void = { _ in }) -> (clientDataJSON: [UInt8], attestationObject: [UInt8]) {
        let cdj = Self.clientData(type, challenge: challenge, origin: origin)
        var authData = authData(rpID: rpID, attested: true)
        edit(&authData)
        let signed = authData + Array(SHA256.hash(data: cdj))
        let statement: CBORValue
        let fmt: String
        switch format {
        case .none:
            fmt = "none"; statement = .map([])
        case .packedSelf:
            fmt = "packed"; statement = .textMap([("alg", .int(algorithm.rawValue)), ("sig", .bytes(sign(signed)))])
        case .packedX5C(let key, let cert):
            fmt = "packed"
            var serializer = DER.Serializer()
            try! serializer.serialize(cert)
            statement = .textMap([("alg", .int(-7)), ("sig", .bytes(Array(try! key.signature(for: signed).derRepresentation))),
                                  ("x5c", .array([.bytes(serializer.serializedBytes)]))])
        case .fidoU2F(let key, let cert):
            fmt = "fido-u2f"
            guard case .p256(let credentialKey) = signer else { fatalError("fido-u2f needs a P-256 credential") }
            let data = [0x00] + Array(authData[0..<32]) + Array(SHA256.hash(data: cdj)) + credentialID + Array(credentialKey.publicKey.x963Representation)
            var serializer = DER.Serializer()
            try! serializer.serialize(cert)
            statement = .textMap([("sig", .bytes(Array(try! key.signature(for: data).derRepresentation))),
                                  ("x5c", .array([.bytes(serializer.serializedBytes)]))])
        }
        let object = CBORValue.textMap([("fmt", .text(fmt)), ("attStmt", statement), ("authData", .bytes(authData))])
        return (cdj, CBORWriter.encode(object))
    }

    /// An assertion: (clientDataJSON, authenticatorData, signature); bumps the counter.
    mutating func assert(rpID: String = "localhost", challenge: [UInt8], origin: String = "http://localhost:8080",
                         type: String = "webauthn.get", edit: (inout [UInt8]) -> Void = { _ in })
        -> (clientDataJSON: [UInt8], authenticatorData: [UInt8], signature: [UInt8]) {
        counter += 1
        let cdj = Self.clientData(type, challenge: challenge, origin: origin)
        var data = authData(rpID: rpID, attested: false)
        edit(&data)
        return (cdj, data, sign(data + Array(SHA256.hash(data: cdj))))
    }

    /// An attestation CA and a leaf certificate meeting packed's requirements (§8.2.1), with the
    /// AAGUID extension carrying `aaguid`.
    static func attestationChain(aaguid: [UInt8], ou: String = "Authenticator Attestation")
        -> (root: Certificate, leaf: Certificate, leafKey: P256.Signing.PrivateKey) {
        let rootKey = P256.Signing.PrivateKey()
        let leafKey = P256.Signing.PrivateKey()
        let now = Date()
        let rootName = try! DistinguishedName { CommonName("Test Attestation Root") }
        let root = try! Certificate(version: .v3, serialNumber: .init(), publicKey: .init(rootKey.publicKey), notValidBefore: now - 60,
                                    notValidAfter: now + 3600, issuer: rootName, subject: rootName, signatureAlgorithm: .ecdsaWithSHA256,
                                    extensions: try! Certificate.Extensions { Critical(BasicConstraints.isCertificateAuthority(maxPathLength: 0)) },
                                    issuerPrivateKey: .init(rootKey))
        var aaguidValue = DER.Serializer()
        try! aaguidValue.serialize(ASN1OctetString(contentBytes: ArraySlice(aaguid)))
        let leafName = try! DistinguishedName {
            CountryName("US"); OrganizationName("Test"); OrganizationalUnitName(ou); CommonName("Test Key")
        }
        let leaf = try! Certificate(version: .v3, serialNumber: .init(), publicKey: .init(leafKey.publicKey), notValidBefore: now - 60,
                                    notValidAfter: now + 3600, issuer: rootName, subject: leafName, signatureAlgorithm: .ecdsaWithSHA256,
                                    extensions: try! Certificate.Extensions {
                                        Critical(BasicConstraints.notCertificateAuthority)
                                        Certificate.Extension(oid: [1, 3, 6, 1, 4, 1, 45724, 1, 1, 4], critical: false, value: ArraySlice(aaguidValue.serializedBytes))
                                    },
                                    issuerPrivateKey: .init(rootKey))
        return (root, leaf, leafKey)
    }
}
