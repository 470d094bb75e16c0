import Foundation
import HTTPAPI
import RelyingParty

/// Hosted passkey registration (a backend mints a token, the browser visits the RP's page, the
/// page redirects back) and the hosted login (OIDC authorization code), plus the codes they share.
struct HostedRegistration: Codable, Sendable {
    var clientID: String
    var externalUserID: String
    var username: String
    var displayName: String?
    var redirectURI: String
    var expiresAt: Date
    var completed = false
}

struct LoginRequest: Codable, Sendable {
    var clientID: String
    var redirectURI: String
    var state: String?
}

/// A one-time authorization code, exchanged at /oidc/token for the user's tokens.
struct AuthorizationCode: Codable, Sendable {
    var clientID: String
    var userID: String
    var sessionID: String
    var redirectURI: String?
    var approvalData: [String: String]?
    var expiresAt: Date
}

extension RPService {
    func checkRedirect(_ uri: String?, client: RPClient) throws(APIError) -> String {
        guard let uri, !uri.isEmpty else { throw APIError.invalidRequest("redirect_uri is required") }
        guard client.redirectURIPrefixes.contains(where: { uri.hasPrefix($0) }) else {
            throw APIError(.badRequest, "invalid_redirect_uri", "redirect_uri \(uri) is not allowed for client \(client.id)")
        }
        return uri
    }

    static func appending(_ uri: String, _ items: [(String, String?)]) -> String {
        var components = URLComponents(string: uri) ?? URLComponents()
        components.queryItems = (components.queryItems ?? []) + items.compactMap { name, value in value.map { URLQueryItem(name: name, value: $0) } }
        // '+' is a space to form decoders; keep it literal in values.
        components.percentEncodedQuery = components.percentEncodedQuery?.replacingOccurrences(of: "+", with: "%2B")
        return components.string ?? uri
    }

    // MARK: hosted registration

    func hostedRegistrationHint(client: RPClient, externalUserID: String?, username: String?, displayName: String?,
                                redirectURI: String?) throws(APIError) -> String {
        guard let externalUserID, !externalUserID.isEmpty else { throw APIError.invalidRequest("external_user_id is required") }
        let username = try Self.validateUsername(username ?? externalUserID)
        let redirect = try checkRedirect(redirectURI, client: client)
        let record = HostedRegistration(clientID: client.id, externalUserID: externalUserID, username: username, displayName: displayName,
                                        redirectURI: redirect, expiresAt: now().addingTimeInterval(configuration.ceremonyTimeout))
        return try run {
            let token = Self.randomID(24)
            try store.put("hosted_registration", id: token, record, expires: record.expiresAt.addingTimeInterval(Self.recordGrace))
            return token
        }
    }

    func hostedRegistration(_ token: String?) throws -> HostedRegistration {
        guard let token, !token.isEmpty else { throw APIError.invalidRequest("register_webauthn_cred_token is required") }
        guard let (record, _) = try store.get("hosted_registration", id: token, as: HostedRegistration.self) else {
            throw APIError(.notFound, "register_webauthn_cred_token_not_found", "unknown register_webauthn_cred_token")
        }
        guard !record.completed else { throw APIError(.badRequest, "register_webauthn_cred_token_used", "this registration link was already used") }
        guard now() <= record.expiresAt else { throw APIError(.badRequest, "register_webauthn_cred_token_expired", "this registration link expired") }
        return record
    }

    func hostedRegistrationStart(token: String?) throws(APIError) -> (String, CreationOptions) {
        let record: HostedRegistration = try run { try hostedRegistration(token) }
        return try startRegistration(clientID: record.clientID, username: record.username, displayName: record.displayName,
                                     externalUserID: record.externalUserID, flow: .hosted, flowID: token)
    }

    /// Completes the hosted registration; returns where the page sends the browser.
    func hostedRegistrationComplete(token: String?, credential: SubmittedCredential) throws(APIError) -> String {
        var record: HostedRegistration = try run { try hostedRegistration(token) }
        let (user, stored) = try completeRegistration(credential, flow: .hosted, flowID: token, externalUserID: record.externalUserID)
        record.completed = true
        try run { try store.put("hosted_registration", id: token ?? "", record, expires: record.expiresAt.addingTimeInterval(Self.recordGrace)) }
        return Self.appending(record.redirectURI, [
            ("user_identifier", user.username), ("external_user_id", record.externalUserID),
            ("credential_id", Base64URL.encode(stored.id)), ("register_webauthn_cred_token", token),
        ])
    }

    // MARK: hosted login (OIDC authorization code)

    func hostedLoginStart(clientID: String?, redirectURI: String?, loginHint: String?, state: String?) throws(APIError) -> (String, RequestOptions) {
        let client = try client(clientID)
        let redirect = try checkRedirect(redirectURI, client: client)
        let requestID = Self.randomID()
        try run {
            try store.put("login_request", id: requestID, LoginRequest(clientID: client.id, redirectURI: redirect, state: state),
                          expires: now().addingTimeInterval(configuration.ceremonyTimeout + Self.recordGrace))
        }
        return try startAuthentication(clientID: client.id, username: loginHint, flow: .hostedLogin, flowID: requestID)
    }

    func hostedLoginComplete(_ credential: SubmittedCredential, sessionID: String?) throws(APIError) -> String {
        let authenticated = try completeAuthentication(credential, sessionID: sessionID, flow: .hostedLogin)
        return try run {
            guard let requestID = authenticated.flowID,
                  let (request, _) = try store.get("login_request", id: requestID, as: LoginRequest.self) else {
                throw APIError(.notFound, "login_request_not_found", "the login request is gone")
            }
            let code = try issueCode(authenticated, redirectURI: request.redirectURI)
            return Self.appending(request.redirectURI, [("code", code), ("state", request.state)])
        }
    }

    func issueCode(_ authenticated: Authenticated, redirectURI: String?) throws -> String {
        let code = Self.randomID(24)
        let record = AuthorizationCode(clientID: authenticated.user.clientID, userID: authenticated.user.id,
                                       sessionID: authenticated.sessionID, redirectURI: redirectURI,
                                       approvalData: authenticated.approvalData, expiresAt: now().addingTimeInterval(120))
        try store.put("auth_code", id: code, record, expires: record.expiresAt)
        return code
    }

    /// /oidc/token with grant_type=authorization_code: single use, bound to client and redirect.
    func exchange(code: String?, client: RPClient, redirectURI: String?) async throws(APIError) -> TokenSet {
        let (record, user): (AuthorizationCode, RPUser) = try run {
            guard let code, let (record, _) = try store.get("auth_code", id: code, as: AuthorizationCode.self) else {
                throw APIError(.badRequest, "invalid_grant", "unknown or already used authorization code")
            }
            try store.delete("auth_code", id: code)
            guard now() <= record.expiresAt else { throw APIError(.badRequest, "invalid_grant", "the authorization code expired") }
            guard record.clientID == client.id else { throw APIError(.badRequest, "invalid_grant", "the code was issued to another client") }
            if let expected = record.redirectURI, let redirectURI, redirectURI != expected {
                throw APIError(.badRequest, "invalid_grant", "redirect_uri differs from the authorization request's")
            }
            guard let user = try store.user(id: record.userID) else { throw APIError(.badRequest, "invalid_grant", "the user is gone") }
            return (record, user)
        }
        return try await issue(user: user, sessionID: record.sessionID, approvalData: record.approvalData)
    }
}
