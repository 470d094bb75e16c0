import Foundation
import HTTPAPI
import Hummingbird
import RelyingParty

/// The hosted pages: passkey registration, the OIDC-style login page, and a demo a person can
/// click through. Each page runs the WebAuthn ceremony in the browser and talks to the RP over
/// the same endpoints an integrator would.
enum Pages {
    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }

    static func page(_ title: String, _ body: String, script: String = "") -> String {
        """
        <!doctype html>
        <html lang="en"><head><meta charset="utf-8"><title>\(escape(title))</title>
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <style>
        body { font: 16px/1.5 system-ui, sans-serif; max-width: 40rem; margin: 3rem auto; padding: 0 1rem; color: #222 }
        h1 { font-size: 1.4rem } button { font: inherit; padding: .4rem 1rem; margin-right: .5rem }
        #status { color: #555 } #error { color: #b00020 } code, pre { background: #f4f4f4; padding: .1rem .3rem; overflow-x: auto }
        input { font: inherit; padding: .3rem }
        </style></head>
        <body>\(body)
        <script>\(common)</script>
        <script>\(script)</script>
        </body></html>
        """
    }

    /// Shared browser helpers: base64url, options parsing with a fallback for browsers without
    /// parseCreationOptionsFromJSON, toJSON with a fallback, JSON POST that surfaces error_code.
    static let common = """
    const b64u = {
      decode(s) { s = s.replace(/-/g, '+').replace(/_/g, '/'); while (s.length % 4) s += '=';
                  return Uint8Array.from(atob(s), c => c.charCodeAt(0)).buffer; },
      encode(b) { return btoa(String.fromCharCode(...new Uint8Array(b))).replace(/\\+/g, '-').replace(/\\//g, '_').replace(/=+$/, ''); }
    };
    function creationOptions(o) {
      if (PublicKeyCredential.parseCreationOptionsFromJSON) return PublicKeyCredential.parseCreationOptionsFromJSON(o);
      return { ...o, challenge: b64u.decode(o.challenge), user: { ...o.user, id: b64u.decode(o.user.id) },
               excludeCredentials: (o.excludeCredentials || []).map(c => ({ ...c, id: b64u.decode(c.id) })) };
    }
    function requestOptions(o) {
      if (PublicKeyCredential.parseRequestOptionsFromJSON) return PublicKeyCredential.parseRequestOptionsFromJSON(o);
      return { ...o, challenge: b64u.decode(o.challenge),
               allowCredentials: (o.allowCredentials || []).map(c => ({ ...c, id: b64u.decode(c.id) })) };
    }
    function credentialJSON(c) {
      if (c.toJSON) return c.toJSON();
      const r = c.response, out = { id: c.id, rawId: b64u.encode(c.rawId), type: c.type,
        authenticatorAttachment: c.authenticatorAttachment, clientExtensionResults: c.getClientExtensionResults(),
        response: { clientDataJSON: b64u.encode(r.clientDataJSON) } };
      if (r.attestationObject) { out.response.attestationObject = b64u.encode(r.attestationObject);
                                 out.response.transports = r.getTransports ? r.getTransports() : []; }
      if (r.authenticatorData) { out.response.authenticatorData = b64u.encode(r.authenticatorData);
                                 out.response.signature = b64u.encode(r.signature);
                                 if (r.userHandle) out.response.userHandle = b64u.encode(r.userHandle); }
      return out;
    }
    // The Mosaic SDK's webauthn_encoded_result: base64 of {webauthnSessionId, publicKeyCredential, userAgent}.
    function encodedResult(sessionId, credential) {
      return btoa(JSON.stringify({ webauthnSessionId: sessionId, publicKeyCredential: credentialJSON(credential), userAgent: navigator.userAgent }));
    }
    async function post(url, body) {
      const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      const json = await response.json();
      if (!response.ok) throw Object.assign(new Error(json.message), { code: json.error_code });
      return json;
    }
    function say(text) { document.getElementById('status').textContent = text; }
    function fail(code, message) {
      const e = document.getElementById('error');
      e.dataset.errorCode = code; e.textContent = code + (message ? ': ' + message : '');
      say(''); document.getElementById('retry').hidden = false;
    }
    function cancelled(e) { return e && (e.name === 'NotAllowedError' || e.name === 'AbortError'); }
    // The ceremony ends at the RP's timeout even if the browser's own dialog is still waiting for
    // a person (headless Chromium keeps a refused request open on its error sheet, past the
    // request's timeout): the page aborts it, and shows its error code.
    async function ceremony(call, options) {
      const abort = new AbortController();
      const timer = setTimeout(() => abort.abort(), options.timeout || 300000);
      try { return await call({ publicKey: options, signal: abort.signal }); } finally { clearTimeout(timer); }
    }
    """

    static let registration = page("Register a passkey", """
        <h1>Register a passkey</h1>
        <p>Use your security key to create a passkey for this account.</p>
        <p id="status">Preparing…</p><p id="error" role="alert"></p>
        <button id="retry" hidden onclick="run()">Try again</button>
        """, script: """
        const token = new URLSearchParams(location.search).get('register_webauthn_cred_token');
        async function run() {
          document.getElementById('retry').hidden = true; document.getElementById('error').textContent = '';
          try {
            const start = await post('/cis/hosted/passkey/start', { register_webauthn_cred_token: token });
            say('Touch your security key…');
            let credential;
            try { credential = await ceremony(o => navigator.credentials.create(o), creationOptions(start.credential_creation_options)); }
            catch (e) { if (cancelled(e)) return fail('webauthn_registration_canceled', 'the passkey was not created'); throw e; }
            const done = await post('/cis/hosted/passkey/complete', { register_webauthn_cred_token: token,
              webauthn_session_id: start.webauthn_session_id, webauthn_encoded_result: encodedResult(start.webauthn_session_id, credential) });
            say('Passkey registered. Returning…');
            location.assign(done.redirect_uri);
          } catch (e) { fail(e.code || 'registration_failed', e.message); }
        }
        run();
        """)

    static let login = page("Sign in", """
        <h1>Sign in with a passkey</h1>
        <p id="status">Preparing…</p><p id="error" role="alert"></p>
        <button id="retry" hidden onclick="run()">Try again</button>
        """, script: """
        const q = new URLSearchParams(location.search);
        async function run() {
          document.getElementById('retry').hidden = true; document.getElementById('error').textContent = '';
          try {
            const start = await post('/cis/oidc/auth/start', { client_id: q.get('client_id'), redirect_uri: q.get('redirect_uri'),
                                                               login_hint: q.get('login_hint') || undefined, state: q.get('state') || undefined });
            say('Touch your security key…');
            let credential;
            try { credential = await ceremony(o => navigator.credentials.get(o), requestOptions(start.credential_request_options)); }
            catch (e) { if (cancelled(e)) return fail('webauthn_authentication_canceled', 'no passkey was used'); throw e; }
            const done = await post('/cis/oidc/auth/complete', { webauthn_session_id: start.webauthn_session_id,
              webauthn_encoded_result: encodedResult(start.webauthn_session_id, credential) });
            say('Signed in. Returning…');
            location.assign(done.redirect_uri);
          } catch (e) { fail(e.code || 'authentication_failed', e.message); }
        }
        run();
        """)

    static let demo = page("vfido test relying party", """
        <h1>vfido test relying party</h1>
        <p>A WebAuthn relying party for testing security keys. Attach vfido (or any key), pick a
        username, register a passkey, then sign in with it.</p>
        <form method="get"><input name="username" id="username" value="alice" aria-label="username">
        <button formaction="/demo/register">Register a passkey</button>
        <button formaction="/demo/login">Sign in</button></form>
        <p>Sign in with an empty username to use a discoverable passkey.</p>
        <p id="status"></p><p id="error"></p><button id="retry" hidden></button>
        """)

    static func result(_ title: String, _ rows: [(String, String)], _ extra: String = "") -> String {
        let table = rows.map { "<tr><th align=left>\(escape($0.0))</th><td><code>\(escape($0.1))</code></td></tr>" }.joined()
        return page(title, """
            <h1>\(escape(title))</h1><table>\(table)</table>\(extra)
            <p><a href="/">Back to the demo</a></p><p id="status"></p><p id="error"></p><button id="retry" hidden></button>
            """)
    }
}

extension RPRoutes {
    func addPages(_ router: Router<BasicRequestContext>) {
        let service = self.service
        router.get("/") { _, _ in Self.html(Pages.demo) }
        router.get("/cis/hosted/passkey/passkey-registration") { _, _ in Self.html(Pages.registration) }
        router.post("/cis/hosted/passkey/start") { request, _ in
            let body = try await self.body(request, CompleteRequest.self)
            let (id, options) = try await service.hostedRegistrationStart(token: body.registerWebauthnCredToken)
            return try Self.json(SessionWithCreationOptions(webauthn_session_id: id, credential_creation_options: options))
        }
        router.post("/cis/hosted/passkey/complete") { request, _ in
            let body = try await self.body(request, CompleteRequest.self)
            let redirect = try await service.hostedRegistrationComplete(token: body.registerWebauthnCredToken, credential: try body.credential())
            return try Self.json(RedirectResponse(redirect_uri: redirect))
        }
        router.get("/cis/oidc/auth") { request, _ in
            let query = request.uri.queryParameters
            guard query.get("response_type") ?? "code" == "code" else {
                throw APIError(.badRequest, "unsupported_response_type", "only response_type=code is supported")
            }
            _ = try await service.client(query.get("client_id"))
            return Self.html(Pages.login)
        }
        router.post("/cis/oidc/auth/start") { request, _ in
            let body = try await self.body(request, HostedLoginStartRequest.self)
            let (id, options) = try await service.hostedLoginStart(clientID: body.clientId, redirectURI: body.redirectUri,
                                                                   loginHint: body.loginHint, state: body.state)
            return try Self.json(SessionWithRequestOptions(webauthn_session_id: id, credential_request_options: options))
        }
        router.post("/cis/oidc/auth/complete") { request, _ in
            let body = try await self.body(request, CompleteRequest.self)
            let redirect = try await service.hostedLoginComplete(try body.credential(), sessionID: body.webauthnSessionId)
            return try Self.json(RedirectResponse(redirect_uri: redirect))
        }
        addDemo(router)
    }

    /// The demo drives the hosted pages as an integrator's backend would, with the demo client.
    func addDemo(_ router: Router<BasicRequestContext>) {
        let service = self.service
        let demo = RPConfiguration.demoClient
        router.get("/demo/register") { request, _ in
            let username = request.uri.queryParameters.get("username") ?? ""
            guard let client = service.configuration.client(demo.id) else { throw APIError.clientNotFound(demo.id) }
            let token = try await service.hostedRegistrationHint(client: client, externalUserID: "demo-" + username, username: username,
                                                                 displayName: username, redirectURI: "/demo/done")
            return Self.redirect(RPService.appending("/cis/hosted/passkey/passkey-registration", [("register_webauthn_cred_token", token)]))
        }
        router.get("/demo/login") { request, _ in
            let username = request.uri.queryParameters.get("username") ?? ""
            return Self.redirect(RPService.appending("/cis/oidc/auth", [
                ("response_type", "code"), ("client_id", demo.id), ("redirect_uri", "/demo/done"), ("scope", "openid"),
                ("login_hint", username.isEmpty ? nil : username),
            ]))
        }
        // A redirect target that only shows what it was given (for tests that exchange codes themselves).
        router.get("/demo/echo") { request, _ in
            let items = request.uri.queryParameters.map { (String($0.key), String($0.value)) }.sorted { $0.0 < $1.0 }
            return Self.html(Pages.result("Redirect received", items))
        }
        router.get("/demo/done") { request, _ in
            let query = request.uri.queryParameters
            if let code = query.get("code") {
                guard let client = service.configuration.client(demo.id) else { throw APIError.clientNotFound(demo.id) }
                let tokens = try await service.exchange(code: code, client: client, redirectURI: "/demo/done")
                let claims = await service.tokens.verify(tokens.id_token, use: .id)
                return Self.html(Pages.result("Signed in", [
                    ("webauthn_username", claims?.webauthnUsername ?? ""), ("sub", claims?.sub.value ?? ""),
                    ("session_id", tokens.session_id), ("id_token", tokens.id_token),
                ]))
            }
            return Self.html(Pages.result("Passkey registered", [
                ("user_identifier", query.get("user_identifier") ?? ""), ("external_user_id", query.get("external_user_id") ?? ""),
                ("credential_id", query.get("credential_id") ?? ""),
            ]))
        }
    }
}
