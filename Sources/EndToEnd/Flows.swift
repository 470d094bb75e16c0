import Bytes
import Foundation
import WebAuthnClient

/// Why a flow failed: the step and what was seen.
public struct FlowFailure: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}

/// A flow that could not run here (and why); reported, never counted as passed.
struct FlowSkipped: Error { let reason: String }

func expect(_ condition: Bool, _ message: @autoclosure () -> String) throws {
    if !condition { throw FlowFailure(message()) }
}

/// Every seed flow of the relying-party API, driven through the WebAuthn client and the key:
/// the backend's calls, the page's calls, and the browser's create()/get() in between.
final class FlowRunner: @unchecked Sendable {
    static let api = "/cis/v1/auth/webauthn"
    let http: HTTPClient
    var client: WebAuthnClient
    let clientID: String
    let clientSecret: String
    /// How long the timeout flow waits for an open ticket to read `timeout`.
    let timeoutWait: Duration
    /// Makes usernames unique per run, so a persistent RP can be used again.
    let run = String(UInt32.random(in: 0...UInt32.max), radix: 16)
    var clientToken = ""
    /// The user handles (user.id, base64url) of the accounts this run registered.
    var userHandles: [String: String] = [:]
    var accessToken: String?

    init(http: HTTPClient, client: WebAuthnClient, clientID: String, clientSecret: String, timeoutWait: Duration) {
        self.http = http
        self.client = client
        self.clientID = clientID
        self.clientSecret = clientSecret
        self.timeoutWait = timeoutWait
    }

    func user(_ name: String) -> String { "e2e-\(name)-\(run)" }

    /// The flows in the order they build on each other.
    var flows: [(name: String, run: () async throws -> String)] {
        [("client token", clientCredentials),
         ("registration (logged out)", registerLoggedOut),
         ("authentication with username", authenticateWithUsername),
         ("registration (logged in)", registerLoggedIn),
         ("hosted registration + redirect", hostedRegistration),
         ("hosted login (OIDC code)", hostedLogin),
         ("usernameless (several accounts)", usernameless),
         ("cross-device registration", crossDeviceRegistration),
         ("cross-device authentication", crossDeviceAuthentication),
         ("cross-device abort", crossDeviceAbort),
         ("cross-device timeout", crossDeviceTimeout),
         ("auth-session variant", authSession)]
    }

    // MARK: helpers

    func creationOptions(_ answer: HTTPAnswer) throws -> CreationOptions {
        guard let object = answer["credential_creation_options"] else { throw FlowFailure("no credential_creation_options") }
        return try JSONDecoder().decode(CreationOptions.self, from: JSONSerialization.data(withJSONObject: object))
    }

    func requestOptions(_ answer: HTTPAnswer) throws -> RequestOptions {
        guard let object = answer["credential_request_options"] else { throw FlowFailure("no credential_request_options") }
        return try JSONDecoder().decode(RequestOptions.self, from: JSONSerialization.data(withJSONObject: object))
    }

    func create(_ options: CreationOptions) async throws -> PublicKeyCredential {
        let credential: PublicKeyCredential
        do { credential = try await client.create(options) } catch { throw FlowFailure("create(): \(error)") }
        record(credential, challenge: options.challenge, rpID: options.rp.id)
        return credential
    }

    /// Each ceremony's credential with what it answered, for a verifier outside this program.
    var ceremonies: [Ceremony] = []

    func record(_ credential: PublicKeyCredential, challenge: String, rpID: String?) {
        let host = URLComponents(string: client.origin)?.host ?? ""
        ceremonies.append(Ceremony(kind: credential.isRegistration ? "registration" : "assertion", challenge: challenge,
                                   rpID: rpID ?? host, origin: client.origin,
                                   credential: String(decoding: credential.toJSON(), as: UTF8.self)))
    }

    /// get() as the browser; with `username`, the account picker chooses that user's account
    /// (and `offered` learns how many accounts it was shown).
    func get(_ options: RequestOptions, as username: String? = nil, offered: AccountCount? = nil) async throws -> PublicKeyCredential {
        var client = self.client
        if let username {
            let handle = userHandles[username]
            client.chooseAccount = { accounts in
                offered?.value = accounts.count
                return accounts.firstIndex { $0.userHandle.map(Base64URL.encode) == handle } ?? -1
            }
        }
        let assertion: PublicKeyCredential
        do { assertion = try await client.get(options) } catch { throw FlowFailure("get()\(username.map { " as \($0)" } ?? ""): \(error)") }
        record(assertion, challenge: options.challenge, rpID: options.rpId)
        return assertion
    }

    /// The claims of a JWT (the RP's tokens; their signatures are checked by the interop tier).
    func claims(_ token: Any?) throws -> [String: Any] {
        guard let token = token as? String, case let parts = token.split(separator: "."), parts.count == 3,
              let payload = Base64URL.decode(String(parts[1])),
              let object = try? JSONSerialization.jsonObject(with: Data(payload)) as? [String: Any] else {
            throw FlowFailure("not a JWT: \(String(describing: token))")
        }
        return object
    }

    func expectTokens(_ answer: HTTPAnswer, for username: String) throws -> [String: Any] {
        for field in ["access_token", "id_token", "refresh_token"] {
            try expect(answer.string(field) != nil, "the token set lacks \(field)")
        }
        let id = try claims(answer["id_token"])
        try expect(id["webauthn_username"] as? String == username,
                   "the id_token names \(id["webauthn_username"] ?? "nobody"), not \(username)")
        return id
    }

    func storedCredentialIDs(of username: String) async throws -> [String] {
        let users = try await http.ok("GET", "/cis/v1/users", token: clientToken)["users"] as? [[String: Any]] ?? []
        let user = users.first { $0["username"] as? String == username }
        return (user?["credentials"] as? [[String: Any]] ?? []).compactMap { $0["credential_id"] as? String }
    }

    func registerExternally(_ username: String) async throws -> PublicKeyCredential {
        let start = try await http.ok("POST", "\(Self.api)/register/start", json: ["client_id": clientID, "username": username])
        let options = try creationOptions(start)
        let credential = try await create(options)
        let done = try await http.ok("POST", "\(Self.api)/external/register", json: [
            "webauthn_encoded_result": credential.sdkWrapper(sessionID: start.string("webauthn_session_id") ?? ""),
            "external_user_id": "ext-\(username)"], token: clientToken)
        try expect(done.string("credential_id") == credential.id, "the RP registered \(done.string("credential_id") ?? "nothing"), not the new credential")
        userHandles[username] = options.user.id
        return credential
    }

    // MARK: flows

    func clientCredentials() async throws -> String {
        let answer = try await http.ok("POST", "/oidc/token", form: ["grant_type": "client_credentials", "client_id": clientID,
                                                                   "client_secret": clientSecret])
        guard let token = answer.string("access_token") else { throw FlowFailure("no access_token") }
        clientToken = token
        return "client \(clientID)"
    }

    func registerLoggedOut() async throws -> String {
        let name = user("alice")
        let credential = try await registerExternally(name)
        try expect(try await storedCredentialIDs(of: name) == [credential.id], "GET /cis/v1/users does not show the credential")
        return "\(name): credential stored, rk=\(credential.clientExtensionResults.credProps?.rk == true)"
    }

    func authenticateWithUsername() async throws -> String {
        let name = user("alice")
        let approval = ["transaction_id": "e2e-\(run)", "amount": "42.00"]
        let start = try await http.ok("POST", "\(Self.api)/authenticate/start",
                                      json: ["client_id": clientID, "username": name, "approval_data": approval])
        let options = try requestOptions(start)
        try expect(options.allowCredentials?.count == 1, "the options allow \(options.allowCredentials?.count ?? 0) credentials, not 1")
        let assertion = try await get(options)
        let tokens = try await http.ok("POST", "\(Self.api)/authenticate", json: [
            "webauthn_encoded_result": assertion.sdkWrapper(sessionID: start.string("webauthn_session_id") ?? "")], token: clientToken)
        let id = try expectTokens(tokens, for: name)
        try expect(id["approval_data"] as? [String: String] == approval, "the id_token does not carry the approval data")
        accessToken = tokens.string("access_token")
        return "\(name): tokens with approval data"
    }

    func registerLoggedIn() async throws -> String {
        let name = user("alice")
        guard let accessToken else { throw FlowFailure("no user access token (the authentication flow failed)") }
        // limit_single_credential_to_device: the key already holds one, so the browser refuses.
        let limited = try await http.ok("POST", "\(Self.api)/register/start",
                                        json: ["client_id": clientID, "username": name, "limit_single_credential_to_device": true])
        do {
            _ = try await client.create(try creationOptions(limited))
            throw FlowFailure("create() with the key's credential excluded succeeded")
        } catch let error as WebAuthnClientError {
            try expect(error.name == .invalidState, "excluded create() failed with \(error), not InvalidStateError")
        }
        let start = try await http.ok("POST", "\(Self.api)/register/start", json: ["client_id": clientID, "username": name])
        let credential = try await create(try creationOptions(start))
        let done = try await http.ok("POST", "\(Self.api)/register", json: ["webauthn_encoded_result": credential.jsonObject()],
                                     token: accessToken)
        try expect(done.string("username") == name, "registered for \(done.string("username") ?? "nobody")")
        let stored = try await storedCredentialIDs(of: name)
        try expect(stored.count == 2 && stored.contains(credential.id), "the user has \(stored.count) credentials, not 2")
        return "\(name): second credential; excluded key refused with InvalidStateError"
    }

    func hostedRegistration() async throws -> String {
        let name = user("bob")
        let redirect = http.base.appendingPathComponent("demo/echo").absoluteString + "?from=e2e"
        let hint = try await http.ok("POST", "\(Self.api)/external/register/hosted/hint", json: [
            "external_user_id": "ext-\(name)", "username": name, "redirect_uri": redirect], token: clientToken)
        guard let token = hint.string("register_webauthn_cred_token") else { throw FlowFailure("no register_webauthn_cred_token") }
        let page = try await http.ok("GET", "/cis/hosted/passkey/passkey-registration?register_webauthn_cred_token=\(token)")
        try expect(page.text.contains("navigator.credentials.create"), "the hosted page does not run create()")
        let start = try await http.ok("POST", "/cis/hosted/passkey/start", json: ["register_webauthn_cred_token": token])
        let options = try creationOptions(start)
        let credential = try await create(options)
        let done = try await http.ok("POST", "/cis/hosted/passkey/complete", json: [
            "register_webauthn_cred_token": token,
            "webauthn_encoded_result": credential.sdkWrapper(sessionID: start.string("webauthn_session_id") ?? "")])
        guard let target = done.string("redirect_uri").flatMap(URLComponents.init(string:)) else { throw FlowFailure("no redirect_uri") }
        let query = Dictionary((target.queryItems ?? []).map { ($0.name, $0.value ?? "") }, uniquingKeysWith: { a, _ in a })
        try expect(target.path.hasSuffix("/demo/echo"), "redirected to \(target.path)")
        try expect(query == ["from": "e2e", "user_identifier": name, "external_user_id": "ext-\(name)",
                             "credential_id": credential.id, "register_webauthn_cred_token": token],
                   "the redirect carries \(query)")
        userHandles[name] = options.user.id
        return "\(name): redirected with credential_id"
    }

    func hostedLogin() async throws -> String {
        let name = user("bob")
        let callback = http.base.appendingPathComponent("demo/echo").absoluteString
        let state = "e2e-\(run)"
        let page = try await http.ok("GET", "/cis/oidc/auth?response_type=code&client_id=\(clientID)&login_hint=\(name)&state=\(state)&redirect_uri=\(callback.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? callback)")
        try expect(page.text.contains("navigator.credentials.get"), "the hosted login page does not run get()")
        let start = try await http.ok("POST", "/cis/oidc/auth/start", json: ["client_id": clientID, "redirect_uri": callback,
                                                                           "login_hint": name, "state": state])
        let assertion = try await get(try requestOptions(start))
        let done = try await http.ok("POST", "/cis/oidc/auth/complete", json: ["webauthn_encoded_result": assertion.jsonObject()])
        let items = done.string("redirect_uri").flatMap(URLComponents.init(string:))?.queryItems ?? []
        guard let code = items.first(where: { $0.name == "code" })?.value else { throw FlowFailure("the redirect has no code") }
        try expect(items.first { $0.name == "state" }?.value == state, "the redirect lost the state")
        let tokens = try await http.ok("POST", "/oidc/token", form: [
            "grant_type": "authorization_code", "code": code, "client_id": clientID, "client_secret": clientSecret,
            "redirect_uri": callback])
        _ = try expectTokens(tokens, for: name)
        let again = try await http.request("POST", "/oidc/token", form: [
            "grant_type": "authorization_code", "code": code, "client_id": clientID, "client_secret": clientSecret,
            "redirect_uri": callback])
        try expect(again.errorCode == "invalid_grant", "a second code exchange answered \(again.status) \(again.errorCode ?? "")")
        return "\(name): code exchanged once for tokens"
    }

    func usernameless() async throws -> String {
        let names = [user("alice"), user("bob")]
        var offered = 0
        for name in names {
            let start = try await http.ok("POST", "\(Self.api)/authenticate/start", json: ["client_id": clientID])
            let options = try requestOptions(start)
            try expect(options.allowCredentials?.isEmpty ?? true, "a usernameless request with an allow list")
            let seen = AccountCount()
            let assertion = try await get(options, as: name, offered: seen)
            offered = max(offered, seen.value)
            let tokens = try await http.ok("POST", "\(Self.api)/authenticate",
                                           json: ["webauthn_encoded_result": assertion.jsonObject()], token: clientToken)
            _ = try expectTokens(tokens, for: name)
        }
        try expect(offered >= 2, "the key offered \(offered) accounts, not several")
        return "the key offered \(offered) accounts; signed in as each of \(names.count)"
    }

    func crossDeviceRegistration() async throws -> String {
        let xd = "\(Self.api)/cross-device"
        let name = user("carol")
        let ticket = try await http.ok("POST", "\(xd)/external/register/init", json: ["external_user_id": "ext-\(name)", "username": name],
                                       token: clientToken).string("cross_device_ticket_id") ?? ""
        try await expectStatus(ticket, "pending")
        let attached = try await http.ok("POST", "\(xd)/attach-device", json: ["cross_device_ticket_id": ticket])
        try expect(attached.string("status") == "scanned", "attach-device answered \(attached.string("status") ?? "-")")
        try await expectStatus(ticket, "scanned")
        let start = try await http.ok("POST", "\(xd)/register/start", json: ["cross_device_ticket_id": ticket])
        let options = try creationOptions(start)
        let credential = try await create(options)
        let done = try await http.ok("POST", "\(xd)/register", json: [
            "webauthn_encoded_result": credential.sdkWrapper(sessionID: start.string("webauthn_session_id") ?? "")])
        try expect(done.string("username") == name, "registered for \(done.string("username") ?? "nobody")")
        try await expectStatus(ticket, "success")
        userHandles[name] = options.user.id
        return "\(name): pending -> scanned -> success"
    }

    func crossDeviceAuthentication() async throws -> String {
        let xd = "\(Self.api)/cross-device"
        let name = user("carol")
        let approval = ["transaction_id": "xd-\(run)"]
        let ticket = try await http.ok("POST", "\(xd)/authenticate/init", json: ["client_id": clientID, "username": name,
                                                                               "approval_data": approval]).string("cross_device_ticket_id") ?? ""
        let attached = try await http.ok("POST", "\(xd)/attach-device", json: ["cross_device_ticket_id": ticket])
        try expect(attached["approval_data"] as? [String: String] == approval, "attach-device lost the approval data")
        try await expectStatus(ticket, "scanned")
        let start = try await http.ok("POST", "\(xd)/authenticate/start", json: ["cross_device_ticket_id": ticket])
        let assertion = try await get(try requestOptions(start))
        _ = try await http.ok("POST", "\(xd)/authenticate", json: [
            "webauthn_encoded_result": assertion.sdkWrapper(sessionID: start.string("webauthn_session_id") ?? "")])
        let status = try await expectStatus(ticket, "success")
        guard let session = status.string("session_id") else { throw FlowFailure("status success without session_id") }
        let tokens = try await http.ok("POST", "/cis/v1/auth/session/authenticate", json: ["session_id": session], token: clientToken)
        let id = try expectTokens(tokens, for: name)
        try expect(id["approval_data"] as? [String: String] == approval, "the id_token does not carry the approval data")
        return "\(name): success -> session -> tokens"
    }

    func crossDeviceAbort() async throws -> String {
        let xd = "\(Self.api)/cross-device"
        let ticket = try await http.ok("POST", "\(xd)/authenticate/init", json: ["client_id": clientID]).string("cross_device_ticket_id") ?? ""
        _ = try await http.ok("POST", "\(xd)/attach-device", json: ["cross_device_ticket_id": ticket])
        let aborted = try await http.ok("POST", "\(xd)/abort", json: ["cross_device_ticket_id": ticket])
        try expect(aborted.string("status") == "aborted", "abort answered \(aborted.string("status") ?? "-")")
        try await expectStatus(ticket, "aborted")
        let late = try await http.request("POST", "\(xd)/authenticate/start", json: ["cross_device_ticket_id": ticket])
        try expect(late.status == 400 && late.errorCode == "cross_device_ticket_closed",
                   "start after abort answered \(late.status) \(late.errorCode ?? "")")
        return "aborted; a late start is refused (cross_device_ticket_closed)"
    }

    func crossDeviceTimeout() async throws -> String {
        let xd = "\(Self.api)/cross-device"
        let ticket = try await http.ok("POST", "\(xd)/authenticate/init", json: ["client_id": clientID]).string("cross_device_ticket_id") ?? ""
        let started = ContinuousClock.now
        while ContinuousClock.now - started < timeoutWait {
            let status = try await http.ok("GET", "\(xd)/status?cross_device_ticket_id=\(ticket)").string("status")
            if status == "timeout" { return "timed out after \(String(format: "%.2f", seconds(ContinuousClock.now - started))) s" }
            try expect(status == "pending", "an idle ticket went \(status ?? "-")")
            try await Task.sleep(for: .milliseconds(200))
        }
        throw FlowSkipped(reason: "still pending after \(timeoutWait): start the RP with a shorter --rp-ceremony-timeout, or raise --timeout-wait")
    }

    func authSession() async throws -> String {
        let name = user("frank")
        let sid = try await http.ok("POST", "/cis/v1/auth-session/start-restricted", json: ["client_id": clientID]).string("auth_session_id") ?? ""
        let attached = try await http.ok("POST", "/cis/v1/auth-session/attach-device", json: ["auth_session_id": sid])
        try expect(attached.string("status") == "scanned", "attach-device answered \(attached.string("status") ?? "-")")
        let start = try await http.ok("POST", "/cis/v1/webauthn/register/start", json: ["auth_session_id": sid, "user": ["username": name]])
        var options = try creationOptions(start)
        options.authenticatorSelection = .init(residentKey: "required", userVerification: "preferred")
        let credential = try await create(options)
        let done = try await http.ok("POST", "/cis/v1/webauthn/register/complete", json: [
            "auth_session_id": sid, "webauthn_session_id": start.string("webauthn_session_id") ?? "", "public_key_credential": credential.jsonObject()])
        try expect((done["credential"] as? [String: Any])?["credential_id"] as? String == credential.id, "register/complete names another credential")
        let status = try await http.ok("GET", "/cis/v1/auth-session/status?auth_session_id=\(sid)")
        try expect(status.string("status") == "success", "the auth session is \(status.string("status") ?? "-")")
        userHandles[name] = options.user.id

        let login = try await http.ok("POST", "/cis/v1/auth-session/start-restricted", json: ["client_id": clientID]).string("auth_session_id") ?? ""
        let passkey = try await http.ok("POST", "/cis/v1/webauthn/authenticate/passkey/start", json: ["auth_session_id": login])
        let assertion = try await get(try requestOptions(passkey), as: name)
        let signedIn = try await http.ok("POST", "/cis/v1/webauthn/authenticate/passkey/complete", json: [
            "auth_session_id": login, "webauthn_session_id": passkey.string("webauthn_session_id") ?? "",
            "public_key_credential": assertion.jsonObject()])
        guard let code = signedIn.string("auth_code") else { throw FlowFailure("passkey/complete without auth_code") }
        let tokens = try await http.ok("POST", "/oidc/token", form: ["grant_type": "authorization_code", "code": code,
                                                                   "client_id": clientID, "client_secret": clientSecret])
        _ = try expectTokens(tokens, for: name)
        return "\(name): registered, then passkey login -> auth_code -> tokens"
    }

    @discardableResult
    func expectStatus(_ ticket: String, _ expected: String) async throws -> HTTPAnswer {
        let answer = try await http.ok("GET", "\(Self.api)/cross-device/status?cross_device_ticket_id=\(ticket)")
        try expect(answer.string("status") == expected, "the ticket is \(answer.string("status") ?? "-"), not \(expected)")
        return answer
    }
}

/// One create() or get() as the relying party saw it: the challenge it issued, the RP ID and
/// origin it expects, and the credential's toJSON().
public struct Ceremony: Sendable, Codable {
    public var kind: String
    public var challenge: String
    public var rpID: String
    public var origin: String
    public var credential: String
}

/// How many accounts the account picker was shown (written from the picker closure).
final class AccountCount: @unchecked Sendable { var value = 0 }
