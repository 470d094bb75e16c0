import CBOR
import Crypto
import CryptoExtras
import Foundation
import SwiftASN1
import X509

/// How the RP treats attestation: which roots it trusts, and whether an attestation that does
/// not chain to one of them is refused or only recorded as untrusted.
public struct AttestationPolicy: Sendable {
    public var trustRoots: [Certificate]
    /// When true, only attestation chaining to `trustRoots` is accepted (no none, no self).
    public var requireTrusted: Bool

    public init(trustRoots: [Certificate] = [], requireTrusted: Bool = false) {
        self.trustRoots = trustRoots
        self.requireTrusted = requireTrusted
    }
}

/// What attestation proved (L3 §6.5.3 attestation types).
public struct AttestationResult: Sendable, Equatable {
    public enum Kind: String, Sendable { case none, selfAttestation = "self", basic }
    public let format: String
    public let kind: Kind
    /// True when the certificate chain ends at one of the policy's trust roots.
    public let trusted: Bool
}

/// Attestation statement verification (L3 §8.2 packed, §8.6 fido-u2f, §8.7 none).
enum AttestationVerifier {
    /// id-fido-gen-ce-aaguid: the AAGUID inside a packed attestation certificate.
    static let aaguidExtension: ASN1ObjectIdentifier = [1, 3, 6, 1, 4, 1, 45724, 1, 1, 4]

    static func verify(format: String, statement: CBORValue, authData: AuthenticatorData, clientDataHash: [UInt8],
                       policy: AttestationPolicy, now: Date) throws(WebAuthnError) -> AttestationResult {
        guard let credential = authData.attestedCredential else {
            throw WebAuthnError(.invalidAuthenticatorData, "registration authenticator data carries no attested credential")
        }
        guard statement.mapValue != nil else { throw WebAuthnError(.invalidAttestation, "attStmt is not a map") }
        let signed = authData.raw + clientDataHash
        let result: AttestationResult
        switch format {
        case "none":
            guard statement.mapValue?.isEmpty == true else { throw WebAuthnError(.invalidAttestation, "\"none\" attestation with a non-empty attStmt") }
            result = AttestationResult(format: format, kind: .none, trusted: false)
        case "packed":
            result = try packed(statement, credential: credential, signed: signed, policy: policy, now: now)
        case "fido-u2f":
            result = try fidoU2F(statement, authData: authData, credential: credential, clientDataHash: clientDataHash, policy: policy, now: now)
        default:
            throw WebAuthnError(.unsupportedAttestationFormat, "attestation format \"\(format)\" is not supported (none, packed, fido-u2f)")
        }
        if policy.requireTrusted && !result.trusted {
            throw WebAuthnError(.attestationUntrusted, "\(format) attestation (\(result.kind.rawValue)) does not chain to a trusted root")
        }
        return result
    }

    static func packed(_ statement: CBORValue, credential: AuthenticatorData.AttestedCredential, signed: [UInt8],
                       policy: AttestationPolicy, now: Date) throws(WebAuthnError) -> AttestationResult {
        guard let algValue = statement[text: "alg"]?.intValue else { throw WebAuthnError(.invalidAttestation, "packed attStmt has no alg") }
        guard let alg = COSEAlgorithm(rawValue: algValue) else {
            throw WebAuthnError(.algorithmNotAllowed, "packed attestation algorithm \(algValue) is not supported")
        }
        guard let sig = statement[text: "sig"]?.bytesValue else { throw WebAuthnError(.invalidAttestation, "packed attStmt has no sig") }
        guard let x5c = statement[text: "x5c"] else {
            // Self attestation: signed by the credential key itself.
            guard alg == credential.publicKey.algorithm else {
                throw WebAuthnError(.invalidAttestation, "self attestation alg \(alg.name) differs from the credential's \(credential.publicKey.algorithm.name)")
            }
            guard credential.publicKey.isValidSignature(sig, for: signed) else {
                throw WebAuthnError(.attestationSignatureInvalid, "packed self-attestation signature does not verify")
            }
            return AttestationResult(format: "packed", kind: .selfAttestation, trusted: false)
        }
        let chain = try certificates(x5c)
        let leaf = chain[0]
        guard verify(sig, over: signed, with: leaf.publicKey, alg: alg) else {
            throw WebAuthnError(.attestationSignatureInvalid, "packed attestation signature does not verify with the x5c certificate")
        }
        // §8.2.1 certificate requirements.
        guard leaf.version == .v3 else { throw WebAuthnError(.invalidAttestation, "attestation certificate is not X.509 v3") }
        let units = leaf.subject.flatMap { $0 }.filter { $0.type == .RDNAttributeType.organizationalUnitName }.compactMap { String($0.value) }
        guard units.contains("Authenticator Attestation") else {
            throw WebAuthnError(.invalidAttestation, "attestation certificate subject OU is not \"Authenticator Attestation\"")
        }
        if case .isCertificateAuthority = try? leaf.extensions.basicConstraints {
            throw WebAuthnError(.invalidAttestation, "attestation certificate is a CA certificate")
        }
        if let ext = leaf.extensions[oid: aaguidExtension] {
            guard !ext.critical else { throw WebAuthnError(.invalidAttestation, "the AAGUID extension must not be critical") }
            guard let inner = try? ASN1OctetString(derEncoded: ext.value), Array(inner.bytes) == credential.aaguid else {
                throw WebAuthnError(.aaguidMismatch, "attestation certificate AAGUID differs from the authenticator data's")
            }
        }
        return AttestationResult(format: "packed", kind: .basic, trusted: try chains(chain, to: policy.trustRoots, now: now))
    }

    static func fidoU2F(_ statement: CBORValue, authData: AuthenticatorData, credential: AuthenticatorData.AttestedCredential,
                        clientDataHash: [UInt8], policy: AttestationPolicy, now: Date) throws(WebAuthnError) -> AttestationResult {
        guard let sig = statement[text: "sig"]?.bytesValue, let x5c = statement[text: "x5c"] else {
            throw WebAuthnError(.invalidAttestation, "fido-u2f attStmt needs sig and x5c")
        }
        let chain = try certificates(x5c)
        guard chain.count == 1 else { throw WebAuthnError(.invalidAttestation, "fido-u2f x5c must hold exactly one certificate") }
        guard P256.Signing.PublicKey(chain[0].publicKey) != nil else {
            throw WebAuthnError(.invalidAttestation, "fido-u2f certificate key is not P-256")
        }
        guard let point = credential.publicKey.p256Point else {
            throw WebAuthnError(.invalidAttestation, "fido-u2f credential key is not an ES256 P-256 key")
        }
        let verificationData = [0x00] + authData.rpIdHash + clientDataHash + credential.credentialID + point
        guard verify(sig, over: verificationData, with: chain[0].publicKey, alg: .es256) else {
            throw WebAuthnError(.attestationSignatureInvalid, "fido-u2f attestation signature does not verify")
        }
        return AttestationResult(format: "fido-u2f", kind: .basic, trusted: try chains(chain, to: policy.trustRoots, now: now))
    }

    static func certificates(_ x5c: CBORValue) throws(WebAuthnError) -> [Certificate] {
        guard let items = x5c.arrayValue, !items.isEmpty, items.count <= 8 else {
            throw WebAuthnError(.invalidAttestation, "x5c must be an array of 1 to 8 certificates")
        }
        var chain: [Certificate] = []
        for item in items {
            guard let der = item.bytesValue, let certificate = try? Certificate(derEncoded: der) else {
                throw WebAuthnError(.invalidAttestation, "x5c holds something that is not a DER certificate")
            }
            chain.append(certificate)
        }
        return chain
    }

    static func verify(_ signature: [UInt8], over data: [UInt8], with key: Certificate.PublicKey, alg: COSEAlgorithm) -> Bool {
        switch alg {
        case .es256:
            guard let key = P256.Signing.PublicKey(key), let sig = try? P256.Signing.ECDSASignature(derRepresentation: signature) else { return false }
            return key.isValidSignature(sig, for: data)
        case .es384:
            guard let key = P384.Signing.PublicKey(key), let sig = try? P384.Signing.ECDSASignature(derRepresentation: signature) else { return false }
            return key.isValidSignature(sig, for: data)
        case .edDSA:
            guard let key = Curve25519.Signing.PublicKey(key) else { return false }
            return key.isValidSignature(signature, for: data)
        case .rs256:
            guard let key = _RSA.Signing.PublicKey(key) else { return false }
            return key.isValidSignature(_RSA.Signing.RSASignature(rawRepresentation: signature), for: data, padding: .insecurePKCS1v1_5)
        }
    }

    /// Whether x5c (leaf first) is a valid chain ending at one of `roots`: each certificate
    /// signed by the next, all within their validity, the last signed by (or equal to) a root.
    static func chains(_ chain: [Certificate], to roots: [Certificate], now: Date) throws(WebAuthnError) -> Bool {
        for certificate in chain where !(certificate.notValidBefore...certificate.notValidAfter).contains(now) {
            throw WebAuthnError(.attestationUntrusted, "attestation certificate \"\(certificate.subject)\" is outside its validity period")
        }
        for (child, parent) in zip(chain, chain.dropFirst()) where !parent.publicKey.isValidSignature(child.signature, for: child) {
            throw WebAuthnError(.attestationUntrusted, "x5c is not a chain: \"\(child.subject)\" is not signed by \"\(parent.subject)\"")
        }
        guard let last = chain.last else { return false }
        return roots.contains { root in root == last || (last.issuer == root.subject && root.publicKey.isValidSignature(last.signature, for: last)) }
    }
}
