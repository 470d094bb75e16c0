import Crypto
import Foundation
import HTTPAPI
import KeyFile
import RelyingParty

/// A WebAuthn ceremony in progress: the challenge the RP issued and everything needed to
/// judge the answer. Single use: marked used when a response passes.
struct CeremonySession: Codable, Sendable {
    enum Kind: String, Codable { case registration, authentication }
    /// Which API flow opened the ceremony; a response must come back through the same flow.
    enum Flow: String, Codable { case api, hosted, hostedLogin, crossDevice, authSession }

    var kind: Kind
    var flow: Flow
    /// The ticket, hosted token or auth session the ceremony belongs to.
    var flowID: String?
    var clientID: String
    var challenge: [UInt8]
    var userVerification: UserVerificationRequirement
    var expiresAt: Date
    var used = false
    // registration
    var userID: String?
    var username: String?
    var displayName: String?
    var userHandle: [UInt8]?
    var externalUserID: String?
    // authentication
    var allowCredentials: [[UInt8]]?
    var approvalData: [String: String]?
}

/// The outcome of a successful authentication: who, with which credential.
public struct Authenticated: Sendable {
    public var user: RPUser
    public var credential: RPCredential
    public var approvalData: [String: String]?
    public var sessionID: String
    /// The hosted-login request, ticket or auth session the ceremony belonged to.
    public var flowID: String? = nil
}

/// The RP's behaviour, independent of HTTP: ceremonies, users, credentials, flows. An actor, so
/// every check-then-write on the store is serialised.
public actor RPService {
    public let configuration: RPConfiguration
    let store: RPStore
    let verifier: RelyingParty
    public let tokens: TokenIssuer
    let now: @Sendable () -> Date
    /// How long used and expired records stay, so answers can say "already used" or
    /// "expired" rather than "unknown".
    static let recordGrace: TimeInterval = 3600

    public init(configuration: RPConfiguration, now: @escaping @Sendable () -> Date = { Date() }) async throws {
        self.configuration = configuration
        self.store = try RPStore(path: configuration.databasePath)
        self.verifier = RelyingParty(identity: configuration.identity)
        self.now = now
        let key = try Self.signingKey(configuration, store: store)
        self.tokens = try await TokenIssuer(privateKeyPEM: key.pemRepresentation, issuer: configuration.issuer,
                                            lifetime: configuration.tokenLifetime)
    }

    /// The token-signing key, from its key file (clear or sealed, as the key's storage key is).
    /// An RP database of an earlier vfido holds it as a clear PEM: it moves into the file, and
    /// the row is deleted only once the file is written.
    static func signingKey(_ configuration: RPConfiguration, store: RPStore) throws -> P256.Signing.PrivateKey {
        guard let path = configuration.signingKeyPath else { return P256.Signing.PrivateKey() }
        let url = URL(fileURLWithPath: path)
        let legacy = try store.get("signing_key", id: TokenIssuer.keyID, as: String.self)
        if let (pem, _) = legacy, !FileManager.default.fileExists(atPath: path) {
            let key = try P256.Signing.PrivateKey(pemRepresentation: pem)
            try KeyFile.write(Array(key.rawRepresentation), to: url, protection: configuration.signingKeyProtection)
        }
        let raw = try KeyFile.loadOrCreate(url, protection: configuration.signingKeyProtection) {
            Array(P256.Signing.PrivateKey().rawRepresentation)
        }
        if legacy != nil { try store.delete("signing_key", id: TokenIssuer.keyID) }
        return try P256.Signing.PrivateKey(rawRepresentation: raw)
    }

    // MARK: helpers

    static func randomID(_ bytes: Int = 16) -> String { Base64URL.encode(randomBytes(bytes)) }
    static func randomBytes(_ count: Int) -> [UInt8] { (0..<count).map { _ in UInt8.random(in: .min ... .max) } }

    func client(_ id: String?) throws(APIError) -> RPClient {
        guard let id, !id.isEmpty else { throw APIError.invalidRequest("client_id is required") }
        guard let client = configuration.client(id) else { throw APIError.clientNotFound(id) }
        return client
    }

    func timeout(_ requested: Double?) throws(APIError) -> TimeInterval {
        guard let requested else { return configuration.ceremonyTimeout }
        guard requested >= configuration.minimumTimeout, requested <= 600 else {
            throw APIError.invalidRequest("timeout must be between \(Int(configuration.minimumTimeout)) and 600 seconds")
        }
        return requested
    }

    func run<T>(_ body: () throws -> T) throws(APIError) -> T {
        do {
            return try store.transaction(body)
        } catch let error as APIError {
            throw error
        } catch let error as WebAuthnError {
            throw APIError(error)
        } catch {
            throw APIError(.internalServerError, "internal_error", "\(error)")
        }
    }

    static func validateUsername(_ username: String?) throws(APIError) -> String {
        guard let username, !username.isEmpty else { throw APIError.invalidRequest("username is required") }
        guard username.count <= 64 else { throw APIError.invalidRequest("username is over 64 characters") }
        return username
    }

    /// approval_data: a flat object of at most 10 keys of [A-Za-z0-9_.-] (Mosaic's rule).
    static func validateApprovalData(_ data: [String: String]?) throws(APIError) {
        guard let data else { return }
        guard data.count <= 10 else { throw APIError(.badRequest, "invalid_approval_data", "approval_data has \(data.count) keys; at most 10") }
        let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-")
        for key in data.keys where key.isEmpty || !key.allSatisfy(allowed.contains) {
            throw APIError(.badRequest, "invalid_approval_data", "approval_data key \"\(key)\" may only use letters, digits, _ . -")
        }
    }

    func openSession(_ session: CeremonySession) throws -> String {
        let id = Self.randomID()
        try store.purge(before: now())
        try store.put("webauthn_session", id: id, session, expires: session.expiresAt.addingTimeInterval(Self.recordGrace))
        try store.put("challenge", id: Base64URL.encode(session.challenge), id, expires: session.expiresAt.addingTimeInterval(Self.recordGrace))
        return id
    }

    /// The open ceremony a response answers: named by the request or the SDK wrapper, else
    /// found by the challenge in clientDataJSON. Unknown, expired, used, wrong kind or flow
    /// each get their own error.
    func session(for credential: SubmittedCredential, named: String?, kind: CeremonySession.Kind,
                 flow: CeremonySession.Flow) throws -> (String, CeremonySession) {
        let id: String
        if let named = named ?? credential.webauthnSessionID {
            id = named
        } else if let challenge = credential.challenge,
                  let (found, _) = try store.get("challenge", id: Base64URL.encode(challenge), as: String.self) {
            id = found
        } else {
            throw APIError(.badRequest, "challenge_mismatch", "no webauthn session issued the challenge in clientDataJSON")
        }
        guard let (session, _) = try store.get("webauthn_session", id: id, as: CeremonySession.self) else {
            throw APIError(.notFound, "webauthn_session_not_found", "no webauthn session \(id)")
        }
        guard !session.used else { throw APIError(.badRequest, "webauthn_session_already_used", "this webauthn session's challenge was already used") }
        guard now() <= session.expiresAt else { throw APIError(.badRequest, "webauthn_session_expired", "the webauthn session expired") }
        guard session.kind == kind else {
            throw APIError(.badRequest, "webauthn_session_kind_mismatch", "the webauthn session is for \(session.kind.rawValue), not \(kind.rawValue)")
        }
        guard session.flow == flow else {
            throw APIError(.badRequest, "webauthn_session_flow_mismatch", "the webauthn session belongs to the \(session.flow.rawValue) flow")
        }
        return (id, session)
    }

    func markUsed(_ id: String, _ session: CeremonySession) throws {
        var used = session
        used.used = true
        try store.put("webauthn_session", id: id, used, expires: session.expiresAt.addingTimeInterval(Self.recordGrace))
    }

    // MARK: registration

    /// Opens a registration ceremony for `username` (an existing user of the client, or a new
    /// one created when the ceremony completes).
    func startRegistration(clientID: String, username: String, displayName: String?, externalUserID: String? = nil,
                           timeout requested: Double? = nil, limitSingleCredentialToDevice: Bool = false,
                           flow: CeremonySession.Flow, flowID: String? = nil) throws(APIError) -> (String, CreationOptions) {
        let timeout = try timeout(requested)
        let config = configuration
        return try run {
            let existing = try store.user(clientID: clientID, username: username)
            let handle = existing?.userHandle ?? Self.randomBytes(32)
            let exclude = limitSingleCredentialToDevice ? try existing.map { try store.credentials(userID: $0.id) } ?? [] : []
            let session = CeremonySession(kind: .registration, flow: flow, flowID: flowID, clientID: clientID,
                                          challenge: Self.randomBytes(32), userVerification: config.userVerification,
                                          expiresAt: now().addingTimeInterval(timeout), userID: existing?.id, username: username,
                                          displayName: displayName ?? existing?.displayName ?? username, userHandle: handle,
                                          externalUserID: externalUserID ?? existing?.externalUserID)
            let id = try openSession(session)
            let options = CreationOptions(
                rp: .init(id: config.identity.id, name: config.identity.name),
                user: .init(id: Base64URL.encode(handle), name: username, displayName: session.displayName ?? username),
                challenge: Base64URL.encode(session.challenge),
                pubKeyCredParams: [COSEAlgorithm.es256, .edDSA, .es384, .rs256].map { .init(alg: $0.rawValue) },
                timeout: Int(timeout * 1000), attestation: config.attestationConveyance,
                authenticatorSelection: .init(residentKey: config.residentKey.rawValue, requireResidentKey: config.residentKey == .required,
                                              userVerification: config.userVerification.rawValue),
                excludeCredentials: exclude.map { CredentialDescriptor(id: Base64URL.encode($0.id), transports: $0.transports.isEmpty ? nil : $0.transports) })
            return (id, options)
        }
    }

    /// Verifies a registration response and stores the user (if new) and the credential.
    /// `requireUserID` binds the ceremony to a logged-in user (a user access token's subject).
    func completeRegistration(_ credential: SubmittedCredential, sessionID: String? = nil, flow: CeremonySession.Flow,
                              flowID: String? = nil, requireUserID: String? = nil,
                              externalUserID: String? = nil) throws(APIError) -> (RPUser, RPCredential) {
        try run {
            let (id, session) = try session(for: credential, named: sessionID, kind: .registration, flow: flow)
            if let flowID, session.flowID != flowID {
                throw APIError(.badRequest, "webauthn_session_flow_mismatch", "the webauthn session belongs to another \(flow.rawValue) flow")
            }
            guard let attestationObject = credential.attestationObject else {
                throw APIError(.badRequest, "invalid_encoding", "a registration response needs response.attestationObject")
            }
            var expectation = RegistrationExpectation(challenge: session.challenge, userVerification: session.userVerification)
            expectation.attestation = configuration.attestation
            let verified = try verifier.verifyRegistration(.init(clientDataJSON: credential.clientDataJSON, attestationObject: attestationObject),
                                                           expecting: expectation, now: now())
            guard verified.credentialID == credential.id else {
                throw APIError(.badRequest, "credential_id_mismatch", "the credential's id is not the one in its authenticator data")
            }
            if try store.credential(id: verified.credentialID) != nil {
                throw APIError(.badRequest, "credential_already_registered", "this credential ID is already registered")
            }
            var user: RPUser
            if let existing = try store.user(clientID: session.clientID, username: session.username ?? "") {
                user = existing
            } else {
                user = RPUser(id: Self.randomID(), clientID: session.clientID, username: session.username ?? "",
                              displayName: session.displayName ?? "", externalUserID: nil, userHandle: session.userHandle ?? [], createdAt: now())
                try store.insertUser(user)
            }
            if let requireUserID, user.id != requireUserID {
                throw APIError(.forbidden, "user_mismatch", "the access token's user is not the user this registration was started for")
            }
            if let external = externalUserID ?? session.externalUserID, user.externalUserID != external {
                if let owner = try store.user(clientID: session.clientID, externalUserID: external), owner.id != user.id {
                    throw APIError(.badRequest, "external_user_id_taken", "external_user_id \(external) belongs to another user")
                }
                try store.updateExternalUserID(userID: user.id, externalUserID: external)
                user.externalUserID = external
            }
            let record = RPCredential(
                id: verified.credentialID, userID: user.id, publicKey: verified.publicKey, algorithm: verified.algorithm.rawValue,
                signCount: verified.signCount, aaguid: verified.aaguid,
                backupEligible: verified.flags.contains(.backupEligible), backedUp: verified.flags.contains(.backedUp),
                userVerified: verified.flags.contains(.userVerified), attestationFormat: verified.attestation.format,
                attestationType: verified.attestation.kind.rawValue, attestationTrusted: verified.attestation.trusted,
                transports: credential.transports, discoverable: credential.residentKey,
                extensions: verified.extensions.keys.sorted(), createdAt: now(), lastUsed: nil)
            try store.insertCredential(record)
            try markUsed(id, session)
            return (user, record)
        }
    }

    // MARK: authentication

    /// Opens an authentication ceremony: with a username, allowCredentials lists that user's
    /// credentials; without, the request is for a discoverable credential.
    func startAuthentication(clientID: String, username: String?, approvalData: [String: String]? = nil,
                             timeout requested: Double? = nil, flow: CeremonySession.Flow,
                             flowID: String? = nil) throws(APIError) -> (String, RequestOptions) {
        let timeout = try timeout(requested)
        try Self.validateApprovalData(approvalData)
        let config = configuration
        return try run {
            var allow: [RPCredential]? = nil
            if let username, !username.isEmpty {
                guard let user = try store.user(clientID: clientID, username: username) else {
                    throw APIError(.notFound, "user_not_found", "no user \"\(username)\" for client \(clientID)")
                }
                allow = try store.credentials(userID: user.id)
            }
            // Approval flows sign over the approval data: challenge = SHA-256(raw || data).
            let raw = Self.randomBytes(32)
            var challenge = raw
            if let approvalData {
                let data = try JSONEncoder.api.encode(approvalData)
                challenge = Array(SHA256.hash(data: raw + data))
            }
            let session = CeremonySession(kind: .authentication, flow: flow, flowID: flowID, clientID: clientID,
                                          challenge: challenge, userVerification: config.userVerification,
                                          expiresAt: now().addingTimeInterval(timeout),
                                          allowCredentials: allow?.map(\.id), approvalData: approvalData)
            let id = try openSession(session)
            let options = RequestOptions(
                challenge: Base64URL.encode(challenge), timeout: Int(timeout * 1000), rpId: config.identity.id,
                userVerification: config.userVerification.rawValue,
                allowCredentials: (allow ?? []).map { CredentialDescriptor(id: Base64URL.encode($0.id), transports: $0.transports.isEmpty ? nil : $0.transports) },
                rawChallenge: approvalData == nil ? nil : Base64URL.encode(raw))
            return (id, options)
        }
    }

    /// Verifies an assertion, updates the credential's counter and opens a login session.
    func completeAuthentication(_ credential: SubmittedCredential, sessionID: String? = nil, flow: CeremonySession.Flow,
                                flowID: String? = nil) throws(APIError) -> Authenticated {
        try run {
            let (id, session) = try session(for: credential, named: sessionID, kind: .authentication, flow: flow)
            if let flowID, session.flowID != flowID {
                throw APIError(.badRequest, "webauthn_session_flow_mismatch", "the webauthn session belongs to another \(flow.rawValue) flow")
            }
            guard let authenticatorData = credential.authenticatorData, let signature = credential.signature else {
                throw APIError(.badRequest, "invalid_encoding", "an assertion needs response.authenticatorData and response.signature")
            }
            guard let stored = try store.credential(id: credential.id), let user = try store.user(id: stored.userID),
                  user.clientID == session.clientID else {
                throw APIError(.badRequest, "unknown_credential", "no credential with this ID is registered")
            }
            let verified = try verifier.verifyAssertion(
                AssertionResponse(credentialID: credential.id, clientDataJSON: credential.clientDataJSON,
                                  authenticatorData: authenticatorData, signature: signature, userHandle: credential.userHandle),
                credential: CredentialRecord(id: stored.id, publicKey: stored.publicKey, signCount: stored.signCount,
                                             userHandle: user.userHandle, backupEligible: stored.backupEligible),
                expecting: AssertionExpectation(challenge: session.challenge, userVerification: session.userVerification,
                                                allowedCredentialIDs: session.allowCredentials))
            try store.recordUse(credentialID: stored.id, signCount: verified.signCount,
                                backedUp: verified.flags.contains(.backedUp), at: now())
            try markUsed(id, session)
            var updated = stored
            updated.signCount = verified.signCount
            updated.lastUsed = now()
            let sessionID = Self.randomID()
            try store.put("login_session", id: sessionID, LoginSession(userID: user.id, approvalData: session.approvalData),
                          expires: now().addingTimeInterval(configuration.tokenLifetime))
            return Authenticated(user: user, credential: updated, approvalData: session.approvalData, sessionID: sessionID,
                                 flowID: session.flowID)
        }
    }

    struct LoginSession: Codable { var userID: String; var approvalData: [String: String]? }

    /// Tokens for a login session (the `session_id` of a cross-device or API login).
    func tokens(forSession sessionID: String, clientID: String) async throws(APIError) -> TokenSet {
        let (login, user): (LoginSession, RPUser) = try run {
            guard let (login, expires) = try store.get("login_session", id: sessionID, as: LoginSession.self), now() <= expires,
                  let user = try store.user(id: login.userID) else {
                throw APIError(.notFound, "session_not_found", "no live session \(sessionID)")
            }
            return (login, user)
        }
        guard user.clientID == clientID else { throw APIError(.forbidden, "client_mismatch", "the session belongs to another client") }
        return try await issue(user: user, sessionID: sessionID, approvalData: login.approvalData)
    }

    func issue(user: RPUser, sessionID: String, approvalData: [String: String]?) async throws(APIError) -> TokenSet {
        do {
            return try await tokens.userTokens(user: user, sessionID: sessionID, approvalData: approvalData, now: now())
        } catch {
            throw APIError(.internalServerError, "internal_error", "token signing failed: \(error)")
        }
    }

    // MARK: introspection (tests, demo)

    public func users(clientID: String) throws(APIError) -> [(RPUser, [RPCredential])] {
        try run { try store.users(clientID: clientID).map { ($0, try store.credentials(userID: $0.id)) } }
    }

    public func credentialCount() throws(APIError) -> Int { try run { try store.credentialCount() } }
}
