import CBOR
import Foundation
import Hummingbird
import HummingbirdTesting
import RelyingParty
import RelyingPartyServer
import Testing

/// A clock the tests move by hand.
final class TestClock: @unchecked Sendable {
    private let lock = NSLock()
    private var now = Date()
    func read() -> Date { lock.lock(); defer { lock.unlock() }; return now }
    func advance(_ seconds: TimeInterval) { lock.lock(); now += seconds; lock.unlock() }
}

typealias JSON = [String: Any]

/// Drives the RP's router in process (HummingbirdTesting), with the SoftKey as the authenticator.
struct APIClient {
    let client: any TestClientProtocol
    var token = ""

    @discardableResult
    func call(_ method: HTTPRequest.Method, _ path: String, _ body: JSON? = nil, bearer: String? = nil,
              status expected: HTTPResponse.Status = .ok, code: String? = nil,
              sourceLocation: SourceLocation = #_sourceLocation) async throws -> JSON {
        var headers: HTTPFields = [.contentType: "application/json"]
        if let bearer { headers[.authorization] = "Bearer \(bearer)" }
        let data = try body.map { try JSONSerialization.data(withJSONObject: $0) }
        let response = try await client.execute(uri: path, method: method, headers: headers, body: data.map { ByteBuffer(bytes: $0) })
        let json = (try? JSONSerialization.jsonObject(with: Data(buffer: response.body))) as? JSON ?? [:]
        #expect(response.status == expected, "\(method) \(path): \(json)", sourceLocation: sourceLocation)
        if let code { #expect(json["error_code"] as? String == code, "\(path): \(json)", sourceLocation: sourceLocation) }
        if response.status.code >= 400 { #expect((json["message"] as? String)?.isEmpty == false, sourceLocation: sourceLocation) }
        return json
    }

    func post(_ path: String, _ body: JSON = [:], bearer: String? = nil, status: HTTPResponse.Status = .ok, code: String? = nil,
              sourceLocation: SourceLocation = #_sourceLocation) async throws -> JSON {
        try await call(.post, path, body, bearer: bearer, status: status, code: code, sourceLocation: sourceLocation)
    }
}

func withRP(_ clock: TestClock = TestClock(), _ test: @escaping @Sendable (APIClient) async throws -> Void) async throws {
    let service = try await RPService(configuration: RPConfiguration(), now: { clock.read() })
    let app = Application(router: RPServer.router(service: service))
    try await app.test(.router) { client in
        var api = APIClient(client: client)
        let token = try await api.post("/oidc/token", ["grant_type": "client_credentials", "client_id": "vfido-demo",
                                                        "client_secret": "vfido-demo-secret"])
        api.token = token["access_token"] as? String ?? ""
        try await test(api)
    }
}

let api = "/cis/v1/auth/webauthn"

extension SoftKey {
    /// Answers creation options the way a browser's toJSON() would.
    mutating func create(_ options: JSON, origin: String = "http://localhost:8080") -> JSON {
        let challenge = Base64URL.decode(options["challenge"] as? String ?? "") ?? []
        let (cdj, att) = register(challenge: challenge, origin: origin)
        return ["id": Base64URL.encode(credentialID), "rawId": Base64URL.encode(credentialID), "type": "public-key",
                "response": ["clientDataJSON": Base64URL.encode(cdj), "attestationObject": Base64URL.encode(att), "transports": ["usb"]],
                "clientExtensionResults": ["credProps": ["rk": true]]]
    }

    mutating func get(_ options: JSON, userHandle: [UInt8]) -> JSON {
        let challenge = Base64URL.decode(options["challenge"] as? String ?? "") ?? []
        let a = assert(challenge: challenge)
        return ["id": Base64URL.encode(credentialID), "rawId": Base64URL.encode(credentialID), "type": "public-key",
                "response": ["clientDataJSON": Base64URL.encode(a.clientDataJSON), "authenticatorData": Base64URL.encode(a.authenticatorData),
                             "signature": Base64URL.encode(a.signature), "userHandle": Base64URL.encode(userHandle)]]
    }
}

/// The Mosaic SDK's wrapper: base64 of JSON, binary fields in standard base64.
func sdkWrapper(_ sessionID: String, _ credential: JSON) throws -> String {
    var credential = credential
    var response = credential["response"] as? JSON ?? [:]
    for (key, value) in response { if let text = value as? String { response[key] = Base64URL.encodeStandard(Base64URL.decode(text) ?? []) } }
    credential["response"] = response
    credential["rawId"] = Base64URL.encodeStandard(Base64URL.decode(credential["rawId"] as? String ?? "") ?? [])
    let json = try JSONSerialization.data(withJSONObject: ["webauthnSessionId": sessionID, "publicKeyCredential": credential, "userAgent": "test"])
    return json.base64EncodedString()
}

func claims(_ jwt: Any?) -> JSON {
    let parts = (jwt as? String ?? "").split(separator: ".")
    guard parts.count == 3, let payload = Base64URL.decode(String(parts[1])) else { return [:] }
    return (try? JSONSerialization.jsonObject(with: Data(payload))) as? JSON ?? [:]
}

@Suite("The Mosaic-style HTTP API")
struct APITests {
    /// Every endpoint of the seeds (reference/relying-party.md and the API docs). A missing one
    /// answers Hummingbird's bare 404; ours always answer JSON.
    static let seedEndpoints: [(HTTPRequest.Method, String)] = [
        (.post, "\(api)/register/start"), (.post, "\(api)/register"), (.post, "\(api)/external/register"),
        (.post, "\(api)/external/register/hosted/hint"), (.post, "\(api)/external/register/hint"),
        (.post, "\(api)/authenticate/start"), (.post, "\(api)/authenticate"),
        (.post, "\(api)/cross-device/register/init"), (.post, "\(api)/cross-device/external/register/init"),
        (.post, "\(api)/cross-device/register/start"), (.post, "\(api)/cross-device/register"),
        (.post, "\(api)/cross-device/authenticate/init"), (.post, "\(api)/cross-device/authenticate/start"),
        (.post, "\(api)/cross-device/authenticate"), (.post, "\(api)/cross-device/attach-device"),
        (.get, "\(api)/cross-device/status"), (.post, "\(api)/cross-device/abort"),
        (.post, "/cis/v1/auth/session/authenticate"),
        (.post, "/cis/v1/auth-session/start-restricted"), (.get, "/cis/v1/auth-session/status"),
        (.post, "/cis/v1/auth-session/attach-device"), (.post, "/cis/v1/auth-session/detach-device"),
        (.post, "/cis/v1/webauthn/register/start"), (.post, "/cis/v1/webauthn/register/complete"),
        (.post, "/cis/v1/webauthn/authenticate/start"), (.post, "/cis/v1/webauthn/authenticate/complete"),
        (.post, "/cis/v1/webauthn/authenticate/passkey/start"), (.post, "/cis/v1/webauthn/authenticate/passkey/complete"),
        (.post, "/oidc/token"), (.post, "/cis/oidc/token"), (.get, "/cis/oidc/jwks"),
        (.post, "/cis/hosted/passkey/start"), (.post, "/cis/hosted/passkey/complete"),
        (.post, "/cis/oidc/auth/start"), (.post, "/cis/oidc/auth/complete"), (.get, "/cis/v1/users"),
    ]

    @Test func everySeedEndpointIsServed() async throws {
        try await withRP { rp in
            for (method, path) in Self.seedEndpoints {
                let response = try await rp.client.execute(uri: path, method: method, headers: [.contentType: "application/json"],
                                                           body: method == .post ? ByteBuffer(string: "{}") : nil)
                let json = (try? JSONSerialization.jsonObject(with: Data(buffer: response.body))) as? JSON
                #expect(json != nil && json?["error_code"] as? String != "endpoint_not_found",
                        "\(method) \(path) is not served (status \(response.status))")
            }
            try await rp.call(.post, "\(api)/no-such-endpoint", status: .notFound, code: "endpoint_not_found")
            try await rp.call(.get, "/no/such/page", status: .notFound, code: "endpoint_not_found")
        }
    }

    @Test func hostedPagesAreServed() async throws {
        try await withRP { rp in
            for path in ["/", "/cis/hosted/passkey/passkey-registration?register_webauthn_cred_token=x",
                         "/cis/oidc/auth?client_id=vfido-demo&response_type=code&redirect_uri=/demo/done"] {
                let response = try await rp.client.execute(uri: path, method: .get)
                #expect(response.status == .ok && response.headers[.contentType]?.hasPrefix("text/html") == true)
                #expect(String(buffer: response.body).contains("navigator.credentials") || path == "/")
            }
            try await rp.call(.get, "/cis/oidc/auth?client_id=nobody", status: .notFound, code: "client_not_found")
            try await rp.call(.get, "/cis/oidc/auth?client_id=vfido-demo&response_type=token", status: .badRequest, code: "unsupported_response_type")
        }
    }

    @Test func registerAuthenticateAndTokens() async throws {
        try await withRP { rp in
            var key = SoftKey()
            let start = try await rp.post("\(api)/register/start", ["client_id": "vfido-demo", "username": "alice", "display_name": "Alice"])
            let sessionID = try #require(start["webauthn_session_id"] as? String)
            let options = try #require(start["credential_creation_options"] as? JSON)
            #expect(Set(options.keys) == ["rp", "user", "challenge", "pubKeyCredParams", "timeout", "attestation", "authenticatorSelection",
                                          "excludeCredentials", "extensions"])
            #expect((options["rp"] as? JSON)?["id"] as? String == "localhost")
            #expect((options["user"] as? JSON)?["displayName"] as? String == "Alice")
            #expect((options["pubKeyCredParams"] as? [JSON])?.compactMap { $0["alg"] as? Int } == [-7, -8, -35, -257])
            let userHandle = Base64URL.decode((options["user"] as? JSON)?["id"] as? String ?? "") ?? []
            let credential = key.create(options)

            let body: JSON = ["webauthn_encoded_result": try sdkWrapper(sessionID, credential), "external_user_id": "ext-1"]
            try await rp.post("\(api)/external/register", body, status: .unauthorized, code: "unauthorized")
            let done = try await rp.post("\(api)/external/register", body, bearer: rp.token)
            #expect(done["credential_id"] as? String == Base64URL.encode(key.credentialID) && done["external_user_id"] as? String == "ext-1")
            try await rp.post("\(api)/external/register", body, bearer: rp.token, status: .badRequest, code: "webauthn_session_already_used")

            let users = try await rp.call(.get, "/cis/v1/users", bearer: rp.token)["users"] as? [JSON]
            let stored = try #require(((users?.first?["credentials"]) as? [JSON])?.first)
            #expect(stored["attestation_format"] as? String == "packed" && stored["discoverable"] as? Bool == true)
            #expect(stored["transports"] as? [String] == ["usb"])

            let auth = try await rp.post("\(api)/authenticate/start", ["client_id": "vfido-demo", "username": "alice"])
            let request = try #require(auth["credential_request_options"] as? JSON)
            #expect((request["allowCredentials"] as? [JSON])?.first?["id"] as? String == Base64URL.encode(key.credentialID))
            #expect(request["rpId"] as? String == "localhost")
            let assertion = key.get(request, userHandle: userHandle)
            try await rp.post("\(api)/authenticate", ["webauthn_encoded_result": assertion], status: .unauthorized, code: "unauthorized")
            let tokens = try await rp.post("\(api)/authenticate", ["webauthn_encoded_result": assertion], bearer: rp.token)
            #expect(Set(tokens.keys) == ["access_token", "id_token", "refresh_token", "token_type", "expires_in", "session_id"])
            #expect(claims(tokens["id_token"])["webauthn_username"] as? String == "alice")
            #expect(claims(tokens["access_token"])["token_use"] as? String == "user")

            // Logged-in registration of a second key with the user's token.
            var second = SoftKey(.edDSA)
            let again = try await rp.post("\(api)/register/start", ["client_id": "vfido-demo", "username": "alice",
                                                                   "limit_single_credential_to_device": true])
            #expect(((again["credential_creation_options"] as? JSON)?["excludeCredentials"] as? [JSON])?.count == 1)
            let secondCredential = second.create(again["credential_creation_options"] as? JSON ?? [:])
            try await rp.post("\(api)/register", ["webauthn_encoded_result": secondCredential], bearer: rp.token, status: .unauthorized)
            try await rp.post("\(api)/register", ["webauthn_encoded_result": secondCredential], bearer: tokens["access_token"] as? String)
            try await rp.post("\(api)/authenticate/start", ["client_id": "vfido-demo", "username": "bob"], status: .notFound, code: "user_not_found")
        }
    }

    @Test func expiredSessionStoresNothing() async throws {
        let clock = TestClock()
        try await withRP(clock) { rp in
            var key = SoftKey()
            let start = try await rp.post("\(api)/register/start", ["client_id": "vfido-demo", "username": "late", "timeout": 30])
            let credential = key.create(start["credential_creation_options"] as? JSON ?? [:])
            clock.advance(31)
            try await rp.post("\(api)/external/register", ["webauthn_encoded_result": credential, "external_user_id": "x"], bearer: rp.token,
                              status: .badRequest, code: "webauthn_session_expired")
            let users = try await rp.call(.get, "/cis/v1/users", bearer: rp.token)["users"] as? [JSON]
            #expect(users?.isEmpty == true)
        }
    }

    @Test func crossDeviceStatusMachine() async throws {
        let clock = TestClock()
        try await withRP(clock) { rp in
            var key = SoftKey()
            let xd = "\(api)/cross-device"
            try await rp.post("\(xd)/external/register/init", ["external_user_id": "e", "username": "carol"], status: .unauthorized)
            let ticket = try await rp.post("\(xd)/external/register/init", ["external_user_id": "e", "username": "carol"], bearer: rp.token)
            let id = try #require(ticket["cross_device_ticket_id"] as? String)
            func status() async throws -> JSON { try await rp.call(.get, "\(xd)/status?cross_device_ticket_id=\(id)") }
            #expect(try await status()["status"] as? String == "pending")
            let attached = try await rp.post("\(xd)/attach-device", ["cross_device_ticket_id": id])
            #expect(attached["status"] as? String == "scanned" && attached["started_at"] is String)
            let start = try await rp.post("\(xd)/register/start", ["cross_device_ticket_id": id])
            let credential = key.create(start["credential_creation_options"] as? JSON ?? [:])
            try await rp.post("\(xd)/register", ["webauthn_encoded_result": credential])
            #expect(try await status()["status"] as? String == "success")
            try await rp.post("\(xd)/abort", ["cross_device_ticket_id": id], status: .badRequest, code: "cross_device_ticket_closed")

            let login = try await rp.post("\(xd)/authenticate/init", ["client_id": "vfido-demo", "approval_data": ["sum": "5"]])
            let loginID = try #require(login["cross_device_ticket_id"] as? String)
            #expect((try await rp.post("\(xd)/attach-device", ["cross_device_ticket_id": loginID])["approval_data"] as? [String: String]) == ["sum": "5"])
            let auth = try await rp.post("\(xd)/authenticate/start", ["cross_device_ticket_id": loginID])
            let request = auth["credential_request_options"] as? JSON ?? [:]
            #expect(request["rawChallenge"] is String)
            // The user handle: registration's user.id, as the key would return it.
            let handle = Base64URL.decode(((start["credential_creation_options"] as? JSON)?["user"] as? JSON)?["id"] as? String ?? "") ?? []
            try await rp.post("\(xd)/authenticate", ["webauthn_encoded_result": key.get(request, userHandle: handle)])
            let done = try await rp.call(.get, "\(xd)/status?cross_device_ticket_id=\(loginID)")
            let sessionID = try #require(done["session_id"] as? String)
            #expect(done["status"] as? String == "success")
            try await rp.post("/cis/v1/auth/session/authenticate", ["session_id": sessionID], status: .unauthorized)
            let tokens = try await rp.post("/cis/v1/auth/session/authenticate", ["session_id": sessionID], bearer: rp.token)
            #expect(claims(tokens["id_token"])["approval_data"] as? [String: String] == ["sum": "5"])

            let late = try await rp.post("\(xd)/authenticate/init", ["client_id": "vfido-demo"])
            clock.advance(301)
            let lateStatus = try await rp.call(.get, "\(xd)/status?cross_device_ticket_id=\(late["cross_device_ticket_id"] as? String ?? "")")
            #expect(lateStatus["status"] as? String == "timeout")
            try await rp.post("\(xd)/attach-device", ["cross_device_ticket_id": "nope"], status: .notFound, code: "cross_device_ticket_not_found")
            try await rp.post("\(xd)/register/init", status: .unauthorized, code: "unauthorized")
        }
    }

    @Test func hostedRegistrationAndAuthSession() async throws {
        try await withRP { rp in
            var key = SoftKey()
            let hint = try await rp.post("\(api)/external/register/hint", ["external_user_id": "e9", "username": "erin",
                                                                           "redirect_uri": "http://localhost:3000/cb"], bearer: rp.token)
            let token = try #require(hint["register_webauthn_cred_token"] as? String)
            try await rp.post("\(api)/external/register/hosted/hint", ["external_user_id": "e9", "redirect_uri": "https://evil.example/"],
                              bearer: rp.token, status: .badRequest, code: "invalid_redirect_uri")
            let start = try await rp.post("/cis/hosted/passkey/start", ["register_webauthn_cred_token": token])
            let credential = key.create(start["credential_creation_options"] as? JSON ?? [:])
            let done = try await rp.post("/cis/hosted/passkey/complete", ["register_webauthn_cred_token": token,
                                                                          "webauthn_encoded_result": try sdkWrapper(start["webauthn_session_id"] as? String ?? "", credential)])
            let redirect = try #require(URLComponents(string: done["redirect_uri"] as? String ?? ""))
            let query = Dictionary(uniqueKeysWithValues: (redirect.queryItems ?? []).map { ($0.name, $0.value ?? "") })
            #expect(query == ["user_identifier": "erin", "external_user_id": "e9", "credential_id": Base64URL.encode(key.credentialID),
                              "register_webauthn_cred_token": token])

            let session = try await rp.post("/cis/v1/auth-session/start-restricted", ["client_id": "vfido-demo"])
            let sid = try #require(session["auth_session_id"] as? String)
            let auth = try await rp.post("/cis/v1/webauthn/authenticate/start", ["auth_session_id": sid, "username": "erin"])
            let handle = Base64URL.decode(((start["credential_creation_options"] as? JSON)?["user"] as? JSON)?["id"] as? String ?? "") ?? []
            let result = try await rp.post("/cis/v1/webauthn/authenticate/complete", [
                "auth_session_id": sid, "webauthn_session_id": auth["webauthn_session_id"] as? String ?? "",
                "public_key_credential": key.get(auth["credential_request_options"] as? JSON ?? [:], userHandle: handle)])
            #expect((result["credential"] as? JSON)?["credential_id"] as? String == Base64URL.encode(key.credentialID))
            #expect(try await rp.call(.get, "/cis/v1/auth-session/status?auth_session_id=\(sid)")["status"] as? String == "success")
            let code = try #require(result["auth_code"] as? String)
            let tokens = try await rp.post("/oidc/token", ["grant_type": "authorization_code", "code": code, "client_id": "vfido-demo",
                                                           "client_secret": "vfido-demo-secret"])
            #expect(claims(tokens["id_token"])["webauthn_username"] as? String == "erin")
            try await rp.post("/cis/v1/auth-session/attach-device", ["auth_session_id": "nope"], status: .notFound, code: "auth_session_not_found")
        }
    }

    @Test func requestErrors() async throws {
        try await withRP { rp in
            try await rp.post("\(api)/register/start", ["client_id": "nobody", "username": "a"], status: .notFound, code: "client_not_found")
            try await rp.post("\(api)/register/start", ["client_id": "vfido-demo"], status: .badRequest, code: "invalid_request")
            try await rp.post("\(api)/register/start", ["client_id": "vfido-demo", "username": 5], status: .badRequest, code: "invalid_request")
            try await rp.post("\(api)/register/start", ["client_id": "vfido-demo", "username": String(repeating: "a", count: 65)],
                              status: .badRequest, code: "invalid_request")
            try await rp.post("\(api)/authenticate/start", ["client_id": "vfido-demo", "approval_data": ["a b": "c"]],
                              status: .badRequest, code: "invalid_approval_data")
            try await rp.post("\(api)/authenticate", ["webauthn_encoded_result": "!!"], bearer: rp.token, status: .badRequest, code: "invalid_encoding")
            try await rp.post("\(api)/authenticate", [:], bearer: rp.token, status: .badRequest, code: "invalid_request")
            try await rp.post("/oidc/token", ["grant_type": "client_credentials", "client_id": "vfido-demo", "client_secret": "x"],
                              status: .unauthorized, code: "invalid_client")
            try await rp.post("\(api)/authenticate", ["webauthn_encoded_result": "e30"], bearer: "x.y.z", status: .unauthorized)
        }
    }
}
