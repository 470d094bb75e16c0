import CBOR
import Crypto
import Foundation

/// Who the RP is and which callers it accepts (L3 §7.1 steps 9-10, §13.4.9).
public struct RelyingPartyIdentity: Sendable {
    public var id: String
    public var name: String
    /// Exact origins allowed in clientDataJSON (scheme://host[:port]).
    public var origins: Set<String>
    /// Whether a ceremony in a cross-origin iframe is accepted, and from which top origins.
    public var allowCrossOrigin: Bool
    public var topOrigins: Set<String>

    public init(id: String, name: String, origins: Set<String>, allowCrossOrigin: Bool = false, topOrigins: Set<String> = []) {
        self.id = id
        self.name = name
        self.origins = origins
        self.allowCrossOrigin = allowCrossOrigin
        self.topOrigins = topOrigins
    }

    public var idHash: [UInt8] { Array(SHA256.hash(data: Array(id.utf8))) }
}

/// WebAuthn's userVerification requirement.
public enum UserVerificationRequirement: String, Sendable, Codable {
    case required, preferred, discouraged
}

/// What the RP asked for in a registration ceremony.
public struct RegistrationExpectation: Sendable {
    public var challenge: [UInt8]
    public var userVerification: UserVerificationRequirement
    public var algorithms: [COSEAlgorithm]
    public var attestation: AttestationPolicy

    public init(challenge: [UInt8], userVerification: UserVerificationRequirement = .preferred,
                algorithms: [COSEAlgorithm] = COSEAlgorithm.allCases, attestation: AttestationPolicy = .init()) {
        self.challenge = challenge
        self.userVerification = userVerification
        self.algorithms = algorithms
        self.attestation = attestation
    }
}

/// The parts of an AuthenticatorAttestationResponse the RP verifies.
public struct RegistrationResponse: Sendable {
    public var clientDataJSON: [UInt8]
    public var attestationObject: [UInt8]
    public init(clientDataJSON: [UInt8], attestationObject: [UInt8]) {
        self.clientDataJSON = clientDataJSON
        self.attestationObject = attestationObject
    }
}

/// A registration that passed every check: what the RP stores.
public struct VerifiedRegistration: Sendable {
    public let credentialID: [UInt8]
    public let publicKey: [UInt8]
    public let algorithm: COSEAlgorithm
    public let signCount: UInt32
    public let aaguid: [UInt8]
    public let flags: AuthenticatorData.Flags
    public let attestation: AttestationResult
    /// Authenticator extension outputs by name (e.g. credProtect, hmac-secret).
    public let extensions: [String: CBORValue]
}

/// What the RP asked for in an authentication ceremony.
public struct AssertionExpectation: Sendable {
    public var challenge: [UInt8]
    public var userVerification: UserVerificationRequirement
    /// The allowCredentials list; nil for a discoverable (usernameless) request.
    public var allowedCredentialIDs: [[UInt8]]?

    public init(challenge: [UInt8], userVerification: UserVerificationRequirement = .preferred, allowedCredentialIDs: [[UInt8]]? = nil) {
        self.challenge = challenge
        self.userVerification = userVerification
        self.allowedCredentialIDs = allowedCredentialIDs
    }
}

/// The parts of an AuthenticatorAssertionResponse the RP verifies.
public struct AssertionResponse: Sendable {
    public var credentialID: [UInt8]
    public var clientDataJSON: [UInt8]
    public var authenticatorData: [UInt8]
    public var signature: [UInt8]
    public var userHandle: [UInt8]?
    public init(credentialID: [UInt8], clientDataJSON: [UInt8], authenticatorData: [UInt8], signature: [UInt8], userHandle: [UInt8]?) {
        self.credentialID = credentialID
        self.clientDataJSON = clientDataJSON
        self.authenticatorData = authenticatorData
        self.signature = signature
        self.userHandle = userHandle
    }
}

/// What the RP knows of a registered credential when verifying an assertion.
public struct CredentialRecord: Sendable {
    public var id: [UInt8]
    public var publicKey: [UInt8]
    public var signCount: UInt32
    public var userHandle: [UInt8]
    public var backupEligible: Bool
    public init(id: [UInt8], publicKey: [UInt8], signCount: UInt32, userHandle: [UInt8], backupEligible: Bool) {
        self.id = id
        self.publicKey = publicKey
        self.signCount = signCount
        self.userHandle = userHandle
        self.backupEligible = backupEligible
    }
}

public struct VerifiedAssertion: Sendable {
    public let credentialID: [UInt8]
    public let signCount: UInt32
    public let flags: AuthenticatorData.Flags
    public let extensions: [String: CBORValue]
}

/// The verifying half of a relying party (WebAuthn L3 §7.1 and §7.2), in the spec's order.
/// Session, challenge lifetime and storage belong to the caller; everything about the bytes
/// is checked here.
public struct RelyingParty: Sendable {
    public var identity: RelyingPartyIdentity

    public init(identity: RelyingPartyIdentity) { self.identity = identity }

    /// L3 §7.1 "Registering a New Credential", steps 5-26 (credential ID uniqueness, step 23,
    /// is the store's check).
    public func verifyRegistration(_ response: RegistrationResponse, expecting: RegistrationExpectation,
                                   now: Date = Date()) throws(WebAuthnError) -> VerifiedRegistration {
        let clientData = try ClientData(json: response.clientDataJSON)
        try check(clientData, type: .create, challenge: expecting.challenge)

        let object: CBORValue
        do {
            object = try CBORReader.decode(response.attestationObject, limits: CBORLimits(maxDepth: 4, maxItems: 512))
        } catch {
            throw WebAuthnError(.invalidAttestation, "attestationObject is not valid CBOR (\(error))")
        }
        guard let format = object[text: "fmt"]?.textValue, let statement = object[text: "attStmt"],
              let authDataBytes = object[text: "authData"]?.bytesValue else {
            throw WebAuthnError(.invalidAttestation, "attestationObject needs fmt, attStmt and authData")
        }
        let authData = try AuthenticatorData(authDataBytes)
        try check(authData, userVerification: expecting.userVerification)
        guard let credential = authData.attestedCredential else {
            throw WebAuthnError(.invalidAuthenticatorData, "registration authenticator data has no attested credential (AT flag clear)")
        }
        guard expecting.algorithms.contains(credential.publicKey.algorithm) else {
            throw WebAuthnError(.algorithmNotAllowed, "\(credential.publicKey.algorithm.name) was not in pubKeyCredParams")
        }
        let attestation = try AttestationVerifier.verify(format: format, statement: statement, authData: authData,
                                                         clientDataHash: clientData.hash, policy: expecting.attestation, now: now)
        return VerifiedRegistration(credentialID: credential.credentialID, publicKey: credential.publicKeyBytes,
                                    algorithm: credential.publicKey.algorithm, signCount: authData.signCount,
                                    aaguid: credential.aaguid, flags: authData.flags, attestation: attestation,
                                    extensions: Self.extensionOutputs(authData))
    }

    /// L3 §7.2 "Verifying an Authentication Assertion", steps 5-24.
    public func verifyAssertion(_ response: AssertionResponse, credential: CredentialRecord,
                                expecting: AssertionExpectation) throws(WebAuthnError) -> VerifiedAssertion {
        if let allowed = expecting.allowedCredentialIDs, !allowed.contains(response.credentialID) {
            throw WebAuthnError(.credentialNotAllowed, "the credential used was not in allowCredentials")
        }
        guard response.credentialID == credential.id else {
            throw WebAuthnError(.credentialNotAllowed, "the response's credential ID is not the stored credential's")
        }
        if let userHandle = response.userHandle, !userHandle.isEmpty {
            guard userHandle == credential.userHandle else {
                throw WebAuthnError(.userHandleMismatch, "userHandle does not belong to the credential's owner")
            }
        } else if expecting.allowedCredentialIDs == nil {
            throw WebAuthnError(.userHandleMismatch, "a discoverable-credential assertion must return userHandle")
        }
        let clientData = try ClientData(json: response.clientDataJSON)
        try check(clientData, type: .get, challenge: expecting.challenge)
        let authData = try AuthenticatorData(response.authenticatorData)
        try check(authData, userVerification: expecting.userVerification)
        if credential.backupEligible != authData.flags.contains(.backupEligible) {
            throw WebAuthnError(.invalidBackupFlags, "BE changed since registration (was \(credential.backupEligible))")
        }
        let publicKey: COSEPublicKey
        do {
            publicKey = try COSEPublicKey(try CBORReader.decode(credential.publicKey))
        } catch let error as WebAuthnError {
            throw error
        } catch {
            throw WebAuthnError(.invalidPublicKey, "stored public key is not valid CBOR")
        }
        guard publicKey.isValidSignature(response.signature, for: authData.raw + clientData.hash) else {
            throw WebAuthnError(.signatureInvalid, "\(publicKey.algorithm.name) signature over authenticatorData || SHA-256(clientDataJSON) does not verify")
        }
        // §7.2 step 22: a counter that does not grow signals a possibly cloned authenticator.
        if authData.signCount != 0 || credential.signCount != 0, authData.signCount <= credential.signCount {
            throw WebAuthnError(.signCountRegression, "signCount \(authData.signCount) is not above the stored \(credential.signCount)")
        }
        return VerifiedAssertion(credentialID: credential.id, signCount: authData.signCount, flags: authData.flags,
                                 extensions: Self.extensionOutputs(authData))
    }

    func check(_ clientData: ClientData, type: ClientData.CeremonyType, challenge: [UInt8]) throws(WebAuthnError) {
        guard clientData.type == type.rawValue else {
            throw WebAuthnError(.clientDataTypeMismatch, "clientDataJSON type is \"\(clientData.type)\", expected \"\(type.rawValue)\"")
        }
        guard clientData.challenge == challenge else {
            throw WebAuthnError(.challengeMismatch, "clientDataJSON challenge is not the one this session issued")
        }
        guard identity.origins.contains(clientData.origin) else {
            throw WebAuthnError(.originNotAllowed, "origin \(clientData.origin) is not allowed (allowed: \(identity.origins.sorted().joined(separator: ", ")))")
        }
        if clientData.crossOrigin {
            guard identity.allowCrossOrigin else {
                throw WebAuthnError(.crossOriginNotAllowed, "the ceremony ran in a cross-origin frame")
            }
            if let top = clientData.topOrigin, !identity.topOrigins.contains(top) {
                throw WebAuthnError(.crossOriginNotAllowed, "top origin \(top) is not allowed")
            }
        }
    }

    func check(_ authData: AuthenticatorData, userVerification: UserVerificationRequirement) throws(WebAuthnError) {
        guard authData.rpIdHash == identity.idHash else {
            throw WebAuthnError(.rpIdHashMismatch, "rpIdHash is not SHA-256(\"\(identity.id)\")")
        }
        guard authData.flags.contains(.userPresent) else { throw WebAuthnError(.userNotPresent, "UP flag is not set") }
        if userVerification == .required, !authData.flags.contains(.userVerified) {
            throw WebAuthnError(.userNotVerified, "UV flag is not set and user verification was required")
        }
        if authData.flags.contains(.backedUp), !authData.flags.contains(.backupEligible) {
            throw WebAuthnError(.invalidBackupFlags, "BS is set without BE")
        }
    }

    static func extensionOutputs(_ authData: AuthenticatorData) -> [String: CBORValue] {
        var outputs: [String: CBORValue] = [:]
        for pair in authData.extensions?.mapValue ?? [] {
            if let name = pair.key.textValue { outputs[name] = pair.value }
        }
        return outputs
    }
}
