import Foundation
import HTTPAPI
import Hummingbird
import RelyingParty

/// The HTTP face of the RP: every endpoint of the Mosaic-style API, the OIDC token endpoint,
/// the hosted pages and the demo. Handlers only translate HTTP <-> RPService.
public struct RPRoutes: Sendable {
    let service: RPService
    public static let apiBase = "/cis/v1/auth/webauthn"
    /// Hard limit on request bodies: a registration with a long RSA attestation chain is a few KiB.
    static let maxBody = 256 * 1024

    public init(service: RPService) { self.service = service }

    // MARK: plumbing

    func body<T: Decodable>(_ request: Request, _ type: T.Type) async throws -> T {
        let buffer: ByteBuffer
        do {
            buffer = try await request.body.collect(upTo: Self.maxBody)
        } catch {
            throw APIError(.contentTooLarge, "request_too_large", "request bodies are limited to \(Self.maxBody) bytes")
        }
        let bytes = Data(buffer.readableBytesView)
        // curl -d sends JSON labelled as a form: the body's first byte decides.
        if request.headers[.contentType]?.hasPrefix("application/x-www-form-urlencoded") == true, bytes.first != UInt8(ascii: "{") {
            return try Self.decodeForm(bytes, as: type)
        }
        do {
            return try JSONDecoder().decode(T.self, from: bytes.isEmpty ? Data("{}".utf8) : bytes)
        } catch let DecodingError.typeMismatch(_, context), let DecodingError.valueNotFound(_, context) {
            let field = context.codingPath.map(\.stringValue).joined(separator: ".")
            throw APIError.invalidRequest("field \(field) has the wrong type")
        } catch {
            throw APIError.invalidRequest("the body is not the JSON object this endpoint takes")
        }
    }

    /// application/x-www-form-urlencoded (what OAuth clients send to a token endpoint), by
    /// Hummingbird's decoder.
    static func decodeForm<T: Decodable>(_ bytes: Data, as type: T.Type) throws -> T {
        do {
            return try URLEncodedFormDecoder().decode(T.self, from: String(decoding: bytes, as: UTF8.self))
        } catch {
            throw APIError.invalidRequest("the form body is not what this endpoint takes (\(error))")
        }
    }

    static func json<T: Encodable>(_ value: T, status: HTTPResponse.Status = .ok) throws -> Response {
        let data = try JSONEncoder.api.encode(value)
        return Response(status: status, headers: [.contentType: "application/json", .cacheControl: "no-store"],
                        body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    static func html(_ page: String) -> Response {
        Response(status: .ok, headers: [.contentType: "text/html; charset=utf-8", .cacheControl: "no-store"],
                 body: .init(byteBuffer: ByteBuffer(string: page)))
    }

    static func redirect(_ location: String) -> Response {
        Response(status: .found, headers: [.location: location])
    }

    static func bearer(_ request: Request) throws(APIError) -> String {
        guard let header = request.headers[.authorization] else {
            throw APIError.unauthorized("this endpoint needs an Authorization: Bearer token")
        }
        let parts = header.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else {
            throw APIError.unauthorized("the Authorization header is not a Bearer token")
        }
        return String(parts[1])
    }

    /// A client access token (from /oidc/token with client_credentials).
    func clientToken(_ request: Request) async throws -> RPTokenClaims {
        guard let claims = await service.tokens.verify(try Self.bearer(request), use: .client) else {
            throw APIError.unauthorized("the bearer token is not a valid client access token")
        }
        return claims
    }

    /// A user access token (from authenticate); answers the user it names.
    func userToken(_ request: Request) async throws -> RPUser {
        guard let claims = await service.tokens.verify(try Self.bearer(request), use: .user),
              let user = try await service.user(id: claims.sub.value) else {
            throw APIError.unauthorized("the bearer token is not a valid user access token")
        }
        return user
    }

    // MARK: routes

    public func add(to router: Router<BasicRequestContext>) {
        addWebAuthn(router)
        addCrossDevice(router)
        addAuthSession(router)
        addOIDC(router)
        addPages(router)
    }

    func addWebAuthn(_ router: Router<BasicRequestContext>) {
        let api = router.group(RouterPath(Self.apiBase))
        let service = self.service

        api.post("register/start") { request, _ in
            let body = try await self.body(request, RegisterStartRequest.self)
            let client = try await service.client(body.clientId)
            let username = try RPService.validateUsername(body.username)
            let (id, options) = try await service.startRegistration(
                clientID: client.id, username: username, displayName: body.displayName, timeout: body.timeout,
                limitSingleCredentialToDevice: body.limitSingleCredentialToDevice ?? false, flow: .api)
            return try Self.json(SessionWithCreationOptions(webauthn_session_id: id, credential_creation_options: options))
        }
        // Logged-in registration: the user access token names the user.
        api.post("register") { request, _ in
            let user = try await self.userToken(request)
            let body = try await self.body(request, CompleteRequest.self)
            let (registered, credential) = try await service.completeRegistration(
                try body.credential(), sessionID: body.webauthnSessionId, flow: .api, requireUserID: user.id)
            return try Self.json(Self.result(registered, credential))
        }
        // Logged-out registration, bound to the RP's own user ID for that person.
        api.post("external/register") { request, _ in
            _ = try await self.clientToken(request)
            let body = try await self.body(request, CompleteRequest.self)
            guard let external = body.externalUserId, !external.isEmpty else {
                throw APIError.invalidRequest("external_user_id is required")
            }
            let (registered, credential) = try await service.completeRegistration(
                try body.credential(), sessionID: body.webauthnSessionId, flow: .api, externalUserID: external)
            return try Self.json(Self.result(registered, credential))
        }
        let hint: @Sendable (Request, BasicRequestContext) async throws -> Response = { request, _ in
            let claims = try await self.clientToken(request)
            let body = try await self.body(request, HostedHintRequest.self)
            let client = try await service.client(claims.clientID)
            let token = try await service.hostedRegistrationHint(client: client, externalUserID: body.externalUserId, username: body.username,
                                                                 displayName: body.displayName, redirectURI: body.redirectUri)
            return try Self.json(HintResponse(register_webauthn_cred_token: token))
        }
        api.post("external/register/hosted/hint", use: hint)
        api.post("external/register/hint", use: hint)  // the 2023 samples' name

        api.post("authenticate/start") { request, _ in
            let body = try await self.body(request, AuthenticateStartRequest.self)
            let client = try await service.client(body.clientId)
            let (id, options) = try await service.startAuthentication(
                clientID: client.id, username: body.username, approvalData: try body.approvalData?.validated(),
                timeout: body.timeout, flow: .api)
            return try Self.json(SessionWithRequestOptions(webauthn_session_id: id, credential_request_options: options))
        }
        api.post("authenticate") { request, _ in
            let claims = try await self.clientToken(request)
            let body = try await self.body(request, CompleteRequest.self)
            let authenticated = try await service.completeAuthentication(try body.credential(), sessionID: body.webauthnSessionId, flow: .api)
            guard authenticated.user.clientID == claims.clientID else {
                throw APIError(.forbidden, "client_mismatch", "the credential belongs to another client")
            }
            return try Self.json(try await service.issue(user: authenticated.user, sessionID: authenticated.sessionID,
                                                         approvalData: authenticated.approvalData))
        }
        // Introspection for tests and the demo: the client's users and their credentials.
        router.get("/cis/v1/users") { request, _ in
            let claims = try await self.clientToken(request)
            return try Self.json(Self.listing(try await service.users(clientID: claims.clientID)))
        }
        // Exchanges a cross-device login's session_id for the user's tokens.
        router.post("/cis/v1/auth/session/authenticate") { request, _ in
            let claims = try await self.clientToken(request)
            let body = try await self.body(request, SessionAuthenticateRequest.self)
            guard let sessionID = body.sessionId, !sessionID.isEmpty else { throw APIError.invalidRequest("session_id is required") }
            return try Self.json(try await service.tokens(forSession: sessionID, clientID: claims.clientID))
        }
    }

    func addCrossDevice(_ router: Router<BasicRequestContext>) {
        let api = router.group(RouterPath(Self.apiBase + "/cross-device"))
        let service = self.service

        api.post("register/init") { request, _ in
            let user = try await self.userToken(request)
            return try Self.json(TicketResponse(cross_device_ticket_id: try await service.crossDeviceRegisterInit(user: user)))
        }
        api.post("external/register/init") { request, _ in
            let claims = try await self.clientToken(request)
            let body = try await self.body(request, CrossDeviceExternalInitRequest.self)
            let id = try await service.crossDeviceExternalRegisterInit(clientID: claims.clientID, externalUserID: body.externalUserId,
                                                                       username: body.username)
            return try Self.json(TicketResponse(cross_device_ticket_id: id))
        }
        api.post("authenticate/init") { request, _ in
            let body = try await self.body(request, AuthenticateStartRequest.self)
            let client = try await service.client(body.clientId)
            let id = try await service.crossDeviceAuthenticateInit(clientID: client.id, username: body.username,
                                                                   approvalData: try body.approvalData?.validated())
            return try Self.json(TicketResponse(cross_device_ticket_id: id))
        }
        api.post("attach-device") { request, _ in
            let body = try await self.body(request, TicketRequest.self)
            return try Self.json(try await service.attachDevice(body.crossDeviceTicketId))
        }
        api.get("status") { request, _ in
            try Self.json(try await service.crossDeviceStatus(request.uri.queryParameters.get("cross_device_ticket_id")))
        }
        api.post("status") { request, _ in
            let body = try await self.body(request, TicketRequest.self)
            return try Self.json(try await service.crossDeviceStatus(body.crossDeviceTicketId))
        }
        api.post("abort") { request, _ in
            let body = try await self.body(request, TicketRequest.self)
            return try Self.json(try await service.crossDeviceAbort(body.crossDeviceTicketId))
        }
        api.post("register/start") { request, _ in
            let body = try await self.body(request, TicketRequest.self)
            let (id, options) = try await service.crossDeviceRegisterStart(body.crossDeviceTicketId)
            return try Self.json(SessionWithCreationOptions(webauthn_session_id: id, credential_creation_options: options))
        }
        api.post("register") { request, _ in
            let body = try await self.body(request, CompleteRequest.self)
            let (user, credential) = try await service.crossDeviceRegister(try body.credential(), sessionID: body.webauthnSessionId)
            return try Self.json(Self.result(user, credential))
        }
        api.post("authenticate/start") { request, _ in
            let body = try await self.body(request, TicketRequest.self)
            let (id, options) = try await service.crossDeviceAuthenticateStart(body.crossDeviceTicketId)
            return try Self.json(SessionWithRequestOptions(webauthn_session_id: id, credential_request_options: options))
        }
        api.post("authenticate") { request, _ in
            let body = try await self.body(request, CompleteRequest.self)
            let authenticated = try await service.crossDeviceAuthenticate(try body.credential(), sessionID: body.webauthnSessionId)
            return try Self.json(CrossDeviceStatus(status: "success", session_id: authenticated.sessionID))
        }
    }

    func addAuthSession(_ router: Router<BasicRequestContext>) {
        let service = self.service
        router.post("/cis/v1/auth-session/start-restricted") { request, _ in
            let body = try await self.body(request, AuthSessionStartRequest.self)
            let id = try await service.startAuthSession(clientID: body.clientId, crossDevice: body.crossDevice ?? false,
                                                        approvalData: try body.approvalData?.validated(), redirectURI: body.redirectUri)
            return try Self.json(AuthSessionResponse(auth_session_id: id))
        }
        router.get("/cis/v1/auth-session/status") { request, _ in
            try Self.json(StatusResponse(status: try await service.authSessionStatus(request.uri.queryParameters.get("auth_session_id"))))
        }
        router.post("/cis/v1/auth-session/status") { request, _ in
            let body = try await self.body(request, AuthSessionIDRequest.self)
            return try Self.json(StatusResponse(status: try await service.authSessionStatus(body.authSessionId)))
        }
        router.post("/cis/v1/auth-session/attach-device") { request, _ in
            let body = try await self.body(request, AuthSessionIDRequest.self)
            return try Self.json(StatusResponse(status: try await service.setAuthSessionStatus(body.authSessionId, .scanned)))
        }
        router.post("/cis/v1/auth-session/detach-device") { request, _ in
            let body = try await self.body(request, AuthSessionIDRequest.self)
            return try Self.json(StatusResponse(status: try await service.setAuthSessionStatus(body.authSessionId, .pending)))
        }
        router.post("/cis/v1/webauthn/register/start") { request, _ in
            let body = try await self.body(request, AuthSessionRegisterStartRequest.self)
            let (id, options) = try await service.authSessionRegisterStart(body.authSessionId, username: body.user?.username,
                                                                          displayName: body.user?.displayName)
            return try Self.json(SessionWithCreationOptions(webauthn_session_id: id, credential_creation_options: options))
        }
        router.post("/cis/v1/webauthn/register/complete") { request, _ in
            let body = try await self.body(request, AuthSessionCompleteRequest.self)
            return try Self.json(try await service.authSessionRegisterComplete(body.authSessionId, webauthnSessionID: body.webauthnSessionId,
                                                                               credential: try body.credential()))
        }
        let authenticateStart: @Sendable (Request, BasicRequestContext) async throws -> Response = { request, _ in
            let body = try await self.body(request, AuthSessionAuthenticateStartRequest.self)
            let passkey = request.uri.path.hasSuffix("/passkey/start")
            let (id, options) = try await service.authSessionAuthenticateStart(body.authSessionId, username: passkey ? nil : body.username)
            return try Self.json(SessionWithRequestOptions(webauthn_session_id: id, credential_request_options: options))
        }
        let authenticateComplete: @Sendable (Request, BasicRequestContext) async throws -> Response = { request, _ in
            let body = try await self.body(request, AuthSessionCompleteRequest.self)
            return try Self.json(try await service.authSessionAuthenticateComplete(body.authSessionId, webauthnSessionID: body.webauthnSessionId,
                                                                                   credential: try body.credential()))
        }
        router.post("/cis/v1/webauthn/authenticate/start", use: authenticateStart)
        router.post("/cis/v1/webauthn/authenticate/passkey/start", use: authenticateStart)
        router.post("/cis/v1/webauthn/authenticate/complete", use: authenticateComplete)
        router.post("/cis/v1/webauthn/authenticate/passkey/complete", use: authenticateComplete)
    }

    func addOIDC(_ router: Router<BasicRequestContext>) {
        let service = self.service
        let token: @Sendable (Request, BasicRequestContext) async throws -> Response = { request, _ in
            var body = try await self.body(request, TokenRequest.self)
            // client_secret_basic as well as client_secret_post.
            if let header = request.headers[.authorization], header.lowercased().hasPrefix("basic "),
               let decoded = Data(base64Encoded: String(header.dropFirst(6))).map({ String(decoding: $0, as: UTF8.self) }),
               let colon = decoded.firstIndex(of: ":") {
                body.clientId = String(decoded[..<colon]).removingPercentEncoding
                body.clientSecret = String(decoded[decoded.index(after: colon)...]).removingPercentEncoding
            }
            let client = try await service.client(body.clientId)
            guard body.clientSecret == client.secret else {
                throw APIError(.unauthorized, "invalid_client", "client_secret does not match client \(client.id)")
            }
            switch body.grantType {
            case "client_credentials":
                let token = try await service.tokens.clientToken(clientID: client.id)
                return try Self.json(ClientTokenResponse(access_token: token, expires_in: Int(service.configuration.tokenLifetime)))
            case "authorization_code":
                return try Self.json(try await service.exchange(code: body.code, client: client, redirectURI: body.redirectUri))
            default:
                throw APIError(.badRequest, "unsupported_grant_type", "grant_type must be client_credentials or authorization_code")
            }
        }
        router.post("/oidc/token", use: token)
        router.post("/cis/oidc/token", use: token)
        router.get("/cis/oidc/jwks") { _, _ in
            try Self.json(["keys": [service.tokens.publicJWK]])
        }
    }

    // MARK: response shapes

    static func result(_ user: RPUser, _ credential: RPCredential) -> RegistrationResult {
        RegistrationResult(user_id: user.id, username: user.username, external_user_id: user.externalUserID,
                           credential_id: Base64URL.encode(credential.id))
    }

    static func listing(_ users: [(RPUser, [RPCredential])]) -> UserListing {
        let iso = ISO8601DateFormatter()
        return UserListing(users: users.map { user, credentials in
            UserListing.User(user_id: user.id, username: user.username, display_name: user.displayName, external_user_id: user.externalUserID,
                             credentials: credentials.map { c in
                UserListing.Credential(
                    credential_id: Base64URL.encode(c.id), algorithm: c.algorithm, sign_count: c.signCount,
                    aaguid: c.aaguid.map { String(format: "%02x", $0) }.joined(), attestation_format: c.attestationFormat,
                    attestation_type: c.attestationType, attestation_trusted: c.attestationTrusted, transports: c.transports,
                    discoverable: c.discoverable, backup_eligible: c.backupEligible, backed_up: c.backedUp, user_verified: c.userVerified,
                    extensions: c.extensions, registered_at: iso.string(from: c.createdAt), last_used: c.lastUsed.map(iso.string(from:)))
            })
        })
    }
}

extension RPService {
    func user(id: String) throws(APIError) -> RPUser? { try run { try store.user(id: id) } }
}
