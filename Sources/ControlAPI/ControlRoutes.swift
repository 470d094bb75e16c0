import Bytes
import CTAP
import Faults
import Foundation
import HTTPAPI
import Hummingbird
import NIOCore
import VirtualKey

/// Every endpoint of the control API (the OpenAPI document in OpenAPIDocument.swift lists the
/// same ones, and a test holds the two together). Handlers only translate HTTP <-> the daemon.
struct ControlRoutes: Sendable {
    /// Request bodies are small JSON objects; a credential with an RSA key is about 2 KiB.
    static let maxBody = 64 * 1024
    let daemon: Daemon

    /// Each route: method, path (OpenAPI form, `{name}` parameters), handler.
    typealias Handler = @Sendable (Request, BasicRequestContext) async throws -> Response
    var routes: [(method: HTTPRequest.Method, path: String, handler: Handler)] {
        [
            (.get, "/", { _, _ in Inspector.page }),
            (.get, "/openapi.json", { _, _ in
                Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: OpenAPIDocument.json)))
            }),
            (.get, "/keys", { _, _ in try ControlJSON.response(await daemon.keys.asyncMap(describe)) }),
            (.post, "/keys", { r, _ in
                let body = try ControlJSON.decode(KeyRequest.self, from: try await Self.body(r))
                let options = try body.keyOptions()
                let key: RunningKey
                do { key = try await daemon.addKey(options) } catch {
                    throw APIError(.conflict, "key_not_added", "\(error)")
                }
                return try ControlJSON.response(await describe(key), status: .created)
            }),
            (.get, "/keys/{key}", { _, c in try ControlJSON.response(await describe(try key(c))) }),
            (.delete, "/keys/{key}", { _, c in
                do { try await daemon.removeKey(try key(c)) } catch let error as DaemonError {
                    throw APIError(.conflict, "key_not_removable", error.description)
                }
                return Response(status: .noContent)
            }),
            (.post, "/keys/{key}/power-cycle", { _, c in
                let key = try key(c)
                await daemon.powerCycle(key)
                return try ControlJSON.response(await describe(key))
            }),
            (.post, "/keys/{key}/unplug", { _, c in
                let key = try key(c)
                await daemon.unplug(key)
                return try ControlJSON.response(await describe(key))
            }),
            (.post, "/keys/{key}/plug", { _, c in
                let key = try key(c)
                do { try await daemon.plug(key) } catch {
                    throw APIError(.internalServerError, "plug_failed", "cannot plug key \(key.number) back in: \(error)")
                }
                return try ControlJSON.response(await describe(key))
            }),
            (.post, "/keys/{key}/reset", { _, c in
                let key = try key(c)
                do { try await key.authenticator.factoryReset() } catch {
                    throw APIError(.internalServerError, "reset_failed", "reset failed: \(error)")
                }
                return try ControlJSON.response(await describe(key))
            }),
            (.get, "/keys/{key}/presence", { _, c in try ControlJSON.response(await presence(try key(c))) }),
            (.put, "/keys/{key}/presence", { r, c in try await setPresence(r, try key(c)) }),
            (.get, "/keys/{key}/prompts", { _, c in try ControlJSON.response(try await key(c).presence.pending.map(PromptJSON.init)) }),
            (.post, "/keys/{key}/prompts/approve", { r, c in try await answer(r, try key(c), approve: true) }),
            (.post, "/keys/{key}/prompts/deny", { r, c in try await answer(r, try key(c), approve: false) }),
            (.get, "/keys/{key}/overrides", { _, c in try ControlJSON.response(OverridesJSON(try await key(c).authenticator.currentResponseOverrides)) }),
            (.put, "/keys/{key}/overrides", { r, c in try await setOverrides(r, try key(c)) }),
            (.get, "/keys/{key}/faults", { _, c in try ControlJSON.response(FaultsJSON(try key(c).faults)) }),
            (.put, "/keys/{key}/faults", { r, c in try await setFaults(r, try key(c)) }),
            (.get, "/keys/{key}/credentials", { _, c in
                let all = try await managed { try await key(c).authenticator.storedCredentials() }
                return try ControlJSON.response(try await describe(all, on: try key(c), includePrivateKey: false))
            }),
            (.post, "/keys/{key}/credentials", { r, c in
                let body = try ControlJSON.decode(CredentialRequest.self, from: try await Self.body(r))
                let imported = try body.credentialImport()
                let stored = try await managed { try await key(c).authenticator.importCredential(imported) }
                return try ControlJSON.response(try await describe([stored], on: try key(c), includePrivateKey: false)[0], status: .created)
            }),
            (.delete, "/keys/{key}/credentials", { _, c in
                let removed = try await managed { try await key(c).authenticator.removeAllStoredCredentials() }
                return try ControlJSON.response(["removed": removed])
            }),
            (.post, "/keys/{key}/credentials/export", { r, c in try await export(r, try key(c)) }),
            (.get, "/keys/{key}/credentials/{credentialId}", { _, c in
                let id = try credentialId(c)
                let credential = try await managed { try await key(c).authenticator.storedCredential(id: id) }
                return try ControlJSON.response(try await describe([credential], on: try key(c), includePrivateKey: false)[0])
            }),
            (.patch, "/keys/{key}/credentials/{credentialId}", { r, c in
                let id = try credentialId(c)
                let body = try ControlJSON.decode(CredentialPropertiesRequest.self, from: try await Self.body(r))
                if let count = body.signCount, !(0...Int(UInt32.max)).contains(count) {
                    throw APIError(.badRequest, "invalid_field", "signCount must be 0 to \(UInt32.max)")
                }
                let updated = try await managed {
                    try await key(c).authenticator.updateStoredCredential(
                        id: id, backupEligible: body.backupEligibility, backupState: body.backupState, signCount: body.signCount.map(UInt32.init))
                }
                return try ControlJSON.response(try await describe([updated], on: try key(c), includePrivateKey: false)[0])
            }),
            (.delete, "/keys/{key}/credentials/{credentialId}", { _, c in
                let id = try credentialId(c)
                try await managed { try await key(c).authenticator.removeStoredCredential(id: id) }
                return Response(status: .noContent)
            }),
            (.get, "/events", { r, _ in events(r) }),
            (.get, "/events/recent", { r, _ in
                let after = r.uri.queryParameters["after"].flatMap { Int($0) } ?? 0
                return try ControlJSON.response(daemon.events.recentEvents(after: after).map(EventJSON.init))
            }),
        ]
    }

    func add(to router: Router<BasicRequestContext>) {
        for route in routes {
            router.on(RouterPath(route.path.replacingOccurrences(of: "{", with: ":").replacingOccurrences(of: "}", with: "")),
                      method: route.method, use: route.handler)
        }
        PicoController(daemon: daemon).add(to: router)
    }

    // MARK: plumbing

    static func body(_ request: Request) async throws -> Data {
        do {
            return Data(try await request.body.collect(upTo: maxBody).readableBytesView)
        } catch {
            throw APIError(.contentTooLarge, "request_too_large", "request bodies are limited to \(maxBody) bytes")
        }
    }

    func key(_ context: BasicRequestContext) throws -> RunningKey {
        let text = context.parameters.get("key") ?? ""
        guard let number = Int(text), let key = daemon.key(number) else {
            let numbers = daemon.keys.map { "\($0.number)" }.joined(separator: ", ")
            throw APIError(.notFound, "key_not_found", "no key \(text) (this daemon has keys \(numbers))")
        }
        return key
    }

    func credentialId(_ context: BasicRequestContext) throws -> [UInt8] {
        let text = context.parameters.get("credentialId") ?? ""
        guard let id = Base64URL.decode(text), !id.isEmpty else {
            throw APIError(.badRequest, "invalid_credential_id", "\"\(text)\" is not a base64url credential ID")
        }
        return id
    }

    /// The core's refusals as HTTP: each ManagementError case is one status.
    func managed<T>(_ body: () async throws -> T) async throws -> T {
        do { return try await body() } catch let error as ManagementError {
            switch error {
            case .invalid(let m): throw APIError(.badRequest, "invalid_credential", m)
            case .notFound(let m): throw APIError(.notFound, "credential_not_found", m)
            case .conflict(let m): throw APIError(.conflict, "credential_conflict", m)
            case .full(let m): throw APIError(.init(code: 507, reasonPhrase: "Insufficient Storage"), "key_store_full", m)
            case .storage(let m): throw APIError(.internalServerError, "storage_failed", m)
            }
        }
    }

    func describe(_ key: RunningKey) async -> KeyJSON {
        let config = key.authenticator.config
        return KeyJSON(
            key: key.number, serialNumber: key.serialNumber, protocolVersion: config.features.level.rawValue,
            addedAtRuntime: key.addedAtRuntime, aaguid: config.aaguid.hex, plugged: key.attachment.plugged,
            usbipBusId: daemon.usbip == nil ? nil : key.busid, usbipAttached: daemon.usbip?.isAttached(busid: key.busid),
            udpPort: key.udp?.localAddress?.port, hidraw: key.uhid != nil, hasResidentKey: config.features.residentKeys,
            hasUserVerification: config.builtInUV, hasLargeBlob: config.features.largeBlobs && config.features.isCTAP2_1,
            extensions: config.features.effectiveExtensions.sorted(),
            defaultBackupEligibility: config.defaultBackupEligibility, defaultBackupState: config.defaultBackupState,
            presence: await presence(key), responseOverrides: OverridesJSON(await key.authenticator.currentResponseOverrides),
            storedCredentials: (try? await key.authenticator.storedCredentials().count) ?? 0,
            maxResidentCredentials: config.maxResidentCredentials)
    }

    /// Credentials as JSON, each with its large blob when the array holds one.
    func describe(_ credentials: [StoredCredential], on key: RunningKey, includePrivateKey: Bool) async throws -> [CredentialJSON] {
        var described: [CredentialJSON] = []
        for credential in credentials {
            let blob = credential.discoverable ? try await managed { try await key.authenticator.largeBlob(credentialId: credential.id) } : nil
            described.append(try CredentialJSON(credential, largeBlob: blob, includePrivateKey: includePrivateKey))
        }
        return described
    }

    func presence(_ key: RunningKey) async -> PresenceJSON {
        let policy = await key.presence.policy
        return PresenceJSON(policy: policy.rawValue, isUserConsenting: policy == .auto, isUserVerified: await key.presence.userVerified,
                            touching: await key.presence.touching)
    }

    func setPresence(_ request: Request, _ key: RunningKey) async throws -> Response {
        let body = try ControlJSON.decode(PresenceRequest.self, from: try await Self.body(request))
        var policy = try body.policy.map { name in
            guard let policy = PresencePolicy(rawValue: name), policy != .terminal else {
                throw APIError(.badRequest, "invalid_field", "policy must be auto, deny, control, pinentry or notify, not \"\(name)\"")
            }
            return policy
        }
        if let consenting = body.isUserConsenting {
            if policy != nil { throw APIError(.badRequest, "invalid_field", "give policy or isUserConsenting, not both") }
            // CDP: false leaves presence tests unresolved, which here means waiting for an answer.
            policy = consenting ? .auto : .control
        }
        if let policy { await key.presence.setPolicy(policy) }
        if let verified = body.isUserVerified { await key.presence.setUserVerified(verified) }
        if let touching = body.touching { await key.presence.setTouching(touching) }
        return try ControlJSON.response(await presence(key))
    }

    func answer(_ request: Request, _ key: RunningKey, approve: Bool) async throws -> Response {
        let body = try ControlJSON.decode(AnswerRequest.self, from: try await Self.body(request))
        let wait = body.wait ?? 0
        guard (0...300).contains(wait) else { throw APIError(.badRequest, "invalid_field", "wait must be 0 to 300 seconds") }
        guard let answered = await key.presence.answer(approve, id: body.id, wait: .milliseconds(Int(wait * 1000))) else {
            let what = body.id.map { "prompt \($0) is not waiting" } ?? "no prompt is waiting"
            throw APIError(.notFound, "prompt_not_found", "\(what) on key \(key.number)")
        }
        return try ControlJSON.response(PromptJSON(answered))
    }

    func setOverrides(_ request: Request, _ key: RunningKey) async throws -> Response {
        let body = try ControlJSON.decode(OverridesJSON.self, from: try await Self.body(request))
        var overrides = await key.authenticator.currentResponseOverrides
        overrides.isBogusSignature = body.isBogusSignature ?? overrides.isBogusSignature
        overrides.isBadUV = body.isBadUV ?? overrides.isBadUV
        overrides.isBadUP = body.isBadUP ?? overrides.isBadUP
        await key.authenticator.setResponseOverrides(overrides)
        return try ControlJSON.response(OverridesJSON(overrides))
    }

    /// Fault injection (docs/fault-injection.md): new rules and seed start the key's lies over.
    func setFaults(_ request: Request, _ key: RunningKey) async throws -> Response {
        let body = try ControlJSON.decode(FaultsRequest.self, from: try await Self.body(request))
        let rules: [FaultRule]
        do { rules = try body.rules.map(FaultRule.init(parsing:)) } catch let error as FaultRule.Invalid {
            throw APIError(.badRequest, "invalid_fault", error.description)
        }
        key.faults.configure(rules: rules, seed: body.seed ?? UInt64.random(in: 0...UInt64(UInt32.max)))
        return try ControlJSON.response(FaultsJSON(key.faults))
    }

    /// The stored credentials with their private keys: only on this explicit, authenticated request.
    func export(_ request: Request, _ key: RunningKey) async throws -> Response {
        let body = try ControlJSON.decode(ExportRequest.self, from: try await Self.body(request))
        let all = try await managed { try await key.authenticator.storedCredentials() }
        switch body.format ?? "webdriver" {
        case "webdriver": return try ControlJSON.response(try await describe(all, on: key, includePrivateKey: true))
        case "cxf": return try ControlJSON.response(try CXF.export(all))
        case let other: throw APIError(.badRequest, "invalid_field", "format must be webdriver or cxf, not \"\(other)\"")
        }
    }

    /// Server-Sent Events: every event as `id: <sequence>`, `event: <type>`, `data: <json>`.
    /// `?key=N` keeps one key's; `Last-Event-ID` (or `?after=`) replays what a client missed.
    func events(_ request: Request) -> Response {
        let keyFilter = request.uri.queryParameters["key"].flatMap { Int($0) }
        let lastEventID = request.headers.first { $0.name.canonicalName == "last-event-id" }.flatMap { Int($0.value) }
        let after = lastEventID ?? request.uri.queryParameters["after"].flatMap { Int($0) }
        let hub = daemon.events
        let subscription = hub.subscribe(replayAfter: after)
        let body = ResponseBody { writer in
            defer { hub.unsubscribe(subscription) }
            // A comment first: the client knows the stream is open before any event.
            try await writer.write(ByteBuffer(string: ": vfido events\n\n"))
            for await event in subscription.events where keyFilter == nil || event.key == keyFilter {
                let json = EventJSON(event)
                let data: String = String(decoding: try JSONEncoder.api.encode(json), as: UTF8.self)
                let frame: String = "id: \(event.sequence)\nevent: \(json.type)\ndata: \(data)\n\n"
                try await writer.write(ByteBuffer(string: frame))
            }
            if subscription.overflowed {
                let message = "this client fell \(EventHub.subscriberBuffer) events behind; reconnect with Last-Event-ID"
                try await writer.write(ByteBuffer(string: "event: overflow\ndata: {\"message\":\"\(message)\"}\n\n"))
            }
            try await writer.finish(nil)
        }
        return Response(status: .ok, headers: [.contentType: "text/event-stream", .cacheControl: "no-store"], body: body)
    }
}

extension Array {
    func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var result: [T] = []
        for element in self { result.append(try await transform(element)) }
        return result
    }
}
