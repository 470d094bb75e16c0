import CBOR
import Crypto
import Foundation
import SwiftASN1
import X509

/// The secrets that make one virtual key itself, created on first start and kept by the store
/// (encrypted at rest). A reset replaces the master key; the attestation identity survives it,
/// as on a real key.
public struct DeviceSecrets: Sendable, Equatable {
    /// Seals credential IDs (see CredentialIDSealer).
    public var masterKey: [UInt8]
    /// The attestation CA: exportable so relying parties can trust it (`vfido attestation root`).
    public var attestationRootKey: [UInt8]
    public var attestationRootCertificate: [UInt8]
    /// The batch key that signs packed attestation statements, and its certificate.
    public var batchKey: [UInt8]
    public var batchCertificate: [UInt8]

    enum Key: Int { case masterKey = 1, rootKey = 2, rootCertificate = 3, batchKey = 4, batchCertificate = 5 }
    static let storeName = "device"

    public var cbor: CBORValue {
        .intMap([
            (Key.masterKey.rawValue, .bytes(masterKey)),
            (Key.rootKey.rawValue, .bytes(attestationRootKey)),
            (Key.rootCertificate.rawValue, .bytes(attestationRootCertificate)),
            (Key.batchKey.rawValue, .bytes(batchKey)),
            (Key.batchCertificate.rawValue, .bytes(batchCertificate)),
        ])
    }

    public init(cbor: CBORValue) throws(CTAPError) {
        func field(_ key: Key) throws(CTAPError) -> [UInt8] {
            guard let value = cbor[int: key.rawValue]?.bytesValue else { throw CTAPError(.other, "device secrets lack field \(key)") }
            return value
        }
        masterKey = try field(.masterKey)
        attestationRootKey = try field(.rootKey)
        attestationRootCertificate = try field(.rootCertificate)
        batchKey = try field(.batchKey)
        batchCertificate = try field(.batchCertificate)
    }

    init(masterKey: [UInt8], rootKey: [UInt8], rootCertificate: [UInt8], batchKey: [UInt8], batchCertificate: [UInt8]) {
        self.masterKey = masterKey
        self.attestationRootKey = rootKey
        self.attestationRootCertificate = rootCertificate
        self.batchKey = batchKey
        self.batchCertificate = batchCertificate
    }

    /// A new device: master key and an attestation chain root -> batch certificate, the batch
    /// certificate shaped as FIDO's packed format requires (WebAuthn L3 §8.2.1): subject C, O,
    /// OU "Authenticator Attestation", CN; not a CA; the id-fido-gen-ce-aaguid extension.
    public static func generate(aaguid: [UInt8], random: RandomSource, now: Date = Date()) throws(CTAPError) -> DeviceSecrets {
        do {
            let rootKey = try P256.Signing.PrivateKey(rawRepresentation: CredentialPrivateKey.generate(.es256, random: random).raw)
            let batchKey = try P256.Signing.PrivateKey(rawRepresentation: CredentialPrivateKey.generate(.es256, random: random).raw)
            let rootName = try DistinguishedName {
                CountryName("US")
                OrganizationName("vfido")
                OrganizationalUnitName("Authenticator Attestation")
                CommonName("vfido Attestation Root CA")
            }
            let batchName = try DistinguishedName {
                CountryName("US")
                OrganizationName("vfido")
                OrganizationalUnitName("Authenticator Attestation")
                CommonName("vfido Batch Attestation")
            }
            let notBefore = now.addingTimeInterval(-86_400)
            let root = try Certificate(
                version: .v3, serialNumber: Certificate.SerialNumber(bytes: random.bytes(16)[...]),
                publicKey: .init(rootKey.publicKey), notValidBefore: notBefore,
                notValidAfter: now.addingTimeInterval(30 * 365 * 86_400), issuer: rootName, subject: rootName,
                signatureAlgorithm: .ecdsaWithSHA256,
                extensions: try Certificate.Extensions {
                    Critical(BasicConstraints.isCertificateAuthority(maxPathLength: 0))
                    Critical(KeyUsage(keyCertSign: true, cRLSign: true))
                    SubjectKeyIdentifier(hash: Certificate.PublicKey(rootKey.publicKey))
                },
                issuerPrivateKey: .init(rootKey))
            let aaguidExtension = Certificate.Extension(
                oid: [1, 3, 6, 1, 4, 1, 45724, 1, 1, 4], critical: false, value: ([0x04, 0x10] + aaguid)[...])
            let batch = try Certificate(
                version: .v3, serialNumber: Certificate.SerialNumber(bytes: random.bytes(16)[...]),
                publicKey: .init(batchKey.publicKey), notValidBefore: notBefore,
                notValidAfter: now.addingTimeInterval(20 * 365 * 86_400), issuer: rootName, subject: batchName,
                signatureAlgorithm: .ecdsaWithSHA256,
                extensions: try Certificate.Extensions {
                    Critical(BasicConstraints.notCertificateAuthority)
                    Critical(KeyUsage(digitalSignature: true))
                    AuthorityKeyIdentifier(keyIdentifier: try root.extensions.subjectKeyIdentifier?.keyIdentifier)
                    aaguidExtension
                },
                issuerPrivateKey: .init(rootKey))
            return DeviceSecrets(
                masterKey: random.bytes(32), rootKey: Array(rootKey.rawRepresentation), rootCertificate: try der(root),
                batchKey: Array(batchKey.rawRepresentation), batchCertificate: try der(batch))
        } catch let error as CTAPError {
            throw error
        } catch {
            throw CTAPError(.other, "generating attestation certificates failed: \(error)")
        }
    }

    private static func der(_ certificate: Certificate) throws -> [UInt8] {
        var serializer = DER.Serializer()
        try serializer.serialize(certificate)
        return serializer.serializedBytes
    }

    /// The attestation root in PEM, for relying parties' trust stores.
    public func attestationRootPEM() throws -> String {
        try Certificate(derEncoded: attestationRootCertificate).serializeAsPEM().pemString
    }
}
