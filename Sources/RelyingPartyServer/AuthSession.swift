import Foundation
import HTTPAPI
import RelyingParty

/// The auth-session (BindID-style) variant: a backend opens an auth session, the browser runs
/// WebAuthn ceremonies inside it, and each completion yields an authorization code.
struct AuthSessionRecord: Codable, Sendable {
    enum Status: String, Codable { case pending, scanned, success, error, timeout, aborted }
    var clientID: String
    var crossDevice: Bool
    var approvalData: [String: String]?
    var redirectURI: String?
    var status: Status
    var expiresAt: Date
}

public struct AuthSessionCredential: Codable, Sendable, Equatable {
    public var credential_id: String
    public var public_key: String
    public var registered_at: String
    public var last_used: String?
}

public struct AuthSessionResult: Codable, Sendable, Equatable {
    public var auth_code: String
    public var credential: AuthSessionCredential
}

extension RPService {
    static let authSessionKind = "auth_session"

    func startAuthSession(clientID: String?, crossDevice: Bool, approvalData: [String: String]?,
                          redirectURI: String?) throws(APIError) -> String {
        let client = try client(clientID)
        try Self.validateApprovalData(approvalData)
        let redirect = try redirectURI.map { uri throws(APIError) in try checkRedirect(uri, client: client) }
        let record = AuthSessionRecord(clientID: client.id, crossDevice: crossDevice, approvalData: approvalData, redirectURI: redirect,
                                       status: .pending, expiresAt: now().addingTimeInterval(configuration.crossDeviceTimeout))
        return try run {
            let id = Self.randomID()
            try store.put(Self.authSessionKind, id: id, record, expires: record.expiresAt.addingTimeInterval(Self.recordGrace))
            return id
        }
    }

    func authSession(_ id: String?) throws -> AuthSessionRecord {
        guard let id, !id.isEmpty else { throw APIError.invalidRequest("auth_session_id is required") }
        guard let found = try store.get(Self.authSessionKind, id: id, as: AuthSessionRecord.self) else {
            throw APIError(.notFound, "auth_session_not_found", "no auth session \(id)")
        }
        var record = found.0
        if (record.status == .pending || record.status == .scanned) && now() > record.expiresAt {
            record.status = .timeout
            try store.put(Self.authSessionKind, id: id, record, expires: record.expiresAt.addingTimeInterval(Self.recordGrace))
        }
        return record
    }

    func openAuthSession(_ id: String?) throws -> AuthSessionRecord {
        let record = try authSession(id)
        guard record.status == .pending || record.status == .scanned else {
            throw APIError(.badRequest, "auth_session_closed", "the auth session is already \(record.status.rawValue)")
        }
        return record
    }

    func setAuthSessionStatus(_ id: String?, _ status: AuthSessionRecord.Status, onlyIfOpen: Bool = true) throws(APIError) -> String {
        try run {
            var record = onlyIfOpen ? try openAuthSession(id) : try authSession(id)
            record.status = status
            try store.put(Self.authSessionKind, id: id ?? "", record, expires: record.expiresAt.addingTimeInterval(Self.recordGrace))
            return record.status.rawValue
        }
    }

    func authSessionStatus(_ id: String?) throws(APIError) -> String {
        try run { try authSession(id).status.rawValue }
    }

    func authSessionRegisterStart(_ id: String?, username: String?, displayName: String?) throws(APIError) -> (String, CreationOptions) {
        let record: AuthSessionRecord = try run { try openAuthSession(id) }
        return try startRegistration(clientID: record.clientID, username: try Self.validateUsername(username), displayName: displayName,
                                     flow: .authSession, flowID: id)
    }

    func authSessionAuthenticateStart(_ id: String?, username: String?) throws(APIError) -> (String, RequestOptions) {
        let record: AuthSessionRecord = try run { try openAuthSession(id) }
        return try startAuthentication(clientID: record.clientID, username: username, approvalData: record.approvalData,
                                       flow: .authSession, flowID: id)
    }

    static func describe(_ credential: RPCredential) -> AuthSessionCredential {
        let iso = ISO8601DateFormatter()
        return AuthSessionCredential(credential_id: Base64URL.encode(credential.id), public_key: Base64URL.encode(credential.publicKey),
                                     registered_at: iso.string(from: credential.createdAt), last_used: credential.lastUsed.map(iso.string(from:)))
    }

    func authSessionRegisterComplete(_ id: String?, webauthnSessionID: String?, credential: SubmittedCredential) throws(APIError) -> AuthSessionResult {
        _ = try run { try openAuthSession(id) }
        do {
            let (user, stored) = try completeRegistration(credential, sessionID: webauthnSessionID, flow: .authSession, flowID: id)
            _ = try setAuthSessionStatus(id, .success)
            let code: String = try run {
                try issueCode(Authenticated(user: user, credential: stored, approvalData: nil, sessionID: Self.randomID()), redirectURI: nil)
            }
            return AuthSessionResult(auth_code: code, credential: Self.describe(stored))
        } catch {
            _ = try? setAuthSessionStatus(id, .error)
            throw error
        }
    }

    func authSessionAuthenticateComplete(_ id: String?, webauthnSessionID: String?, credential: SubmittedCredential) throws(APIError) -> AuthSessionResult {
        _ = try run { try openAuthSession(id) }
        do {
            let authenticated = try completeAuthentication(credential, sessionID: webauthnSessionID, flow: .authSession, flowID: id)
            _ = try setAuthSessionStatus(id, .success)
            let code: String = try run { try issueCode(authenticated, redirectURI: nil) }
            return AuthSessionResult(auth_code: code, credential: Self.describe(authenticated.credential))
        } catch {
            _ = try? setAuthSessionStatus(id, .error)
            throw error
        }
    }
}
