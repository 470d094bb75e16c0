import Bytes
import CBOR
import Crypto
import CTAPWire
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
    /// Enterprise attestation (CTAP 2.1 §7.1): a key and certificate unique to this device (its
    /// subject names the device), used only when enterprise attestation is enabled and asked for.
    public var enterpriseKey: [UInt8] = []
    public var enterpriseCertificate: [UInt8] = []

    enum Key: Int {
        case masterKey = 1, rootKey = 2, rootCertificate = 3, batchKey = 4, batchCertificate = 5
        case enterpriseKey = 6, enterpriseCertificate = 7
    }
    static let storeName = "device"

    public var cbor: CBORValue {
        .keyed([
            (Key.masterKey, .bytes(masterKey)),
            (Key.rootKey, .bytes(attestationRootKey)),
            (Key.rootCertificate, .bytes(attestationRootCertificate)),
            (Key.batchKey, .bytes(batchKey)),
            (Key.batchCertificate, .bytes(batchCertificate)),
            (Key.enterpriseKey, enterpriseKey.isEmpty ? nil : .bytes(enterpriseKey)),
            (Key.enterpriseCertificate, enterpriseCertificate.isEmpty ? nil : .bytes(enterpriseCertificate)),
        ])
    }

    public init(cbor: CBORValue) throws(CTAPError) {
        func field(_ key: Key) throws(CTAPError) -> [UInt8] {
            guard let value = cbor[key]?.bytesValue else { throw CTAPError(.other, "device secrets lack field \(key)") }
            return value
        }
        masterKey = try field(.masterKey)
        attestationRootKey = try field(.rootKey)
        attestationRootCertificate = try field(.rootCertificate)
        batchKey = try field(.batchKey)
        batchCertificate = try field(.batchCertificate)
        enterpriseKey = cbor[Key.enterpriseKey]?.bytesValue ?? []
        enterpriseCertificate = cbor[Key.enterpriseCertificate]?.bytesValue ?? []
    }

    init(masterKey: [UInt8], rootKey: [UInt8], rootCertificate: [UInt8], batchKey: [UInt8], batchCertificate: [UInt8]) {
        self.masterKey = masterKey
        self.attestationRootKey = rootKey
        self.attestationRootCertificate = rootCertificate
        self.batchKey = batchKey
        self.batchCertificate = batchCertificate
    }

    static let rootName = try! DistinguishedName {
        CountryName("US")
        OrganizationName("vfido")
        OrganizationalUnitName("Authenticator Attestation")
        CommonName("vfido Attestation Root CA")
    }

    /// A new device: master key and an attestation chain root -> batch certificate, the batch
    /// certificate shaped as FIDO's packed format requires (WebAuthn L3 §8.2.1): subject C, O,
    /// OU "Authenticator Attestation", CN; not a CA; the id-fido-gen-ce-aaguid extension.
    public static func generate(aaguid: [UInt8], random: RandomSource, now: Date) throws(CTAPError) -> DeviceSecrets {
        do {
            let rootKey = try P256.Signing.PrivateKey(rawRepresentation: CredentialPrivateKey.generate(.es256, random: random).raw)
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
            let rootDER = try der(root)
            let (batchKey, batch) = try issueAttestationCertificate(
                commonName: "vfido Batch Attestation", aaguid: aaguid, rootKey: Array(rootKey.rawRepresentation),
                rootCertificate: rootDER, random: random, now: now)
            var secrets = DeviceSecrets(masterKey: random.bytes(32), rootKey: Array(rootKey.rawRepresentation),
                                        rootCertificate: rootDER, batchKey: batchKey, batchCertificate: batch)
            try secrets.addEnterpriseIdentity(aaguid: aaguid, random: random, now: now)
            return secrets
        } catch let error as CTAPError {
            throw error
        } catch {
            throw CTAPError(.other, "generating attestation certificates failed: \(error)")
        }
    }

    /// Issues the enterprise attestation key and certificate: its subject carries a serial
    /// number unique to this device, which is what lets an enterprise RP identify the key.
    mutating func addEnterpriseIdentity(aaguid: [UInt8], random: RandomSource, now: Date) throws(CTAPError) {
        let serial = random.bytes(8).hex.uppercased()
        (enterpriseKey, enterpriseCertificate) = try Self.issueAttestationCertificate(
            commonName: "vfido Enterprise Attestation", serial: serial, aaguid: aaguid, rootKey: attestationRootKey,
            rootCertificate: attestationRootCertificate, random: random, now: now)
    }

    /// A P-256 key and its attestation certificate, signed by the root.
    static func issueAttestationCertificate(commonName: String, serial: String? = nil, aaguid: [UInt8], rootKey: [UInt8],
                                            rootCertificate: [UInt8], random: RandomSource,
                                            now: Date) throws(CTAPError) -> ([UInt8], [UInt8]) {
        do {
            let issuerKey = try P256.Signing.PrivateKey(rawRepresentation: rootKey)
            let root = try Certificate(derEncoded: rootCertificate)
            let key = try P256.Signing.PrivateKey(rawRepresentation: CredentialPrivateKey.generate(.es256, random: random).raw)
            var subject = try DistinguishedName {
                CountryName("US")
                OrganizationName("vfido")
                OrganizationalUnitName("Authenticator Attestation")
                CommonName(commonName)
            }
            if let serial {  // X.520 serialNumber
                subject.append(RelativeDistinguishedName(try .init(type: [2, 5, 4, 5], printableString: serial)))
            }
            let aaguidExtension = Certificate.Extension(
                oid: [1, 3, 6, 1, 4, 1, 45724, 1, 1, 4], critical: false, value: ([0x04, 0x10] + aaguid)[...])
            let certificate = try Certificate(
                version: .v3, serialNumber: Certificate.SerialNumber(bytes: random.bytes(16)[...]),
                publicKey: .init(key.publicKey), notValidBefore: now.addingTimeInterval(-86_400),
                notValidAfter: now.addingTimeInterval(20 * 365 * 86_400), issuer: root.subject, subject: subject,
                signatureAlgorithm: .ecdsaWithSHA256,
                extensions: try Certificate.Extensions {
                    Critical(BasicConstraints.notCertificateAuthority)
                    Critical(KeyUsage(digitalSignature: true))
                    AuthorityKeyIdentifier(keyIdentifier: try root.extensions.subjectKeyIdentifier?.keyIdentifier)
                    aaguidExtension
                },
                issuerPrivateKey: .init(issuerKey))
            return (Array(key.rawRepresentation), try der(certificate))
        } catch let error as CTAPError {
            throw error
        } catch {
            throw CTAPError(.other, "issuing an attestation certificate failed: \(error)")
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
