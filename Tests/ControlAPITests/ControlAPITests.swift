import Bytes
@testable import ControlAPI
import Crypto
import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import Testing
import VirtualKey

typealias JSON = [String: Any]

/// The control API's router in process (HummingbirdTesting) over a real daemon with no
/// transports: every endpoint, and every refusal the API promises.
@Suite struct ControlAPITests {
    static let token = "test-token-0123456789abcdef0123456789abcdef"

    static func withAPI(_ body: @Sendable (Client) async throws -> Void) async throws {
        var configuration = DaemonConfiguration(stateDirectory: nil)
        configuration.udpPort = nil
        configuration.usbipPort = nil
        configuration.authenticator.resetWindow = nil
        let daemon = try await Daemon.start(configuration, logger: Logger(label: "test"))
        let app = Application(router: ControlServer.router(daemon: daemon, token: token))
        do {
            try await app.test(.router) { client in try await body(Client(client: client)) }
        } catch {
            await daemon.stop()
            throw error
        }
        await daemon.stop()
    }

    struct Client {
        let client: any TestClientProtocol

        @discardableResult
        func call(_ method: HTTPRequest.Method, _ path: String, _ body: JSON? = nil, raw: [UInt8]? = nil,
                  token: String? = ControlAPITests.token, status expected: HTTPResponse.Status = .ok, code: String? = nil,
                  sourceLocation: SourceLocation = #_sourceLocation) async throws -> Any? {
            var headers: HTTPFields = [.contentType: "application/json"]
            if let token { headers[.authorization] = "Bearer \(token)" }
            let data = try raw.map { Data($0) } ?? body.map { try JSONSerialization.data(withJSONObject: $0) }
            let response = try await client.execute(uri: path, method: method, headers: headers, body: data.map { ByteBuffer(bytes: $0) })
            let json = try? JSONSerialization.jsonObject(with: Data(buffer: response.body), options: [.fragmentsAllowed])
            #expect(response.status == expected, "\(method) \(path): \(json ?? "-")", sourceLocation: sourceLocation)
            if let code { #expect((json as? JSON)?["error_code"] as? String == code, "\(path): \(json ?? "-")", sourceLocation: sourceLocation) }
            return json
        }
    }

    static func credential(id: String = "Y3JlZC0x", resident: Bool = false) -> JSON {
        var c: JSON = ["credentialId": id, "isResidentCredential": resident, "rpId": "example.com",
                       "privateKey": Base64URL.encode(P256.Signing.PrivateKey().derRepresentation), "signCount": 7]
        if resident { c["userHandle"] = "dXNlcg"; c["userName"] = "alice" }
        return c
    }

    @Test func everyRouteIsInTheOpenAPIDocumentAndEveryDocumentedRouteExists() async throws {
        let document = try #require(try JSONSerialization.jsonObject(with: Data(OpenAPIDocument.json.utf8)) as? JSON)
        #expect(document["openapi"] as? String == "3.0.3")
        let paths = try #require(document["paths"] as? [String: JSON])
        var documented = Set<String>()
        for (path, item) in paths {
            for method in ["get", "put", "post", "patch", "delete"] where item[method] != nil { documented.insert("\(method.uppercased()) \(path)") }
        }
        var configuration = DaemonConfiguration(stateDirectory: nil)
        configuration.udpPort = nil
        configuration.usbipPort = nil
        let daemon = try await Daemon.start(configuration, logger: Logger(label: "test"))
        var routed = Set<String>()
        for route in ControlRoutes(daemon: daemon).routes { routed.insert("\(route.method.rawValue) \(route.path)") }
        await daemon.stop()
        routed.insert("GET /harness/pico/{token}")
        routed.insert("GET /harness/pico/{token}/{port}/{switch}/{state}")
        #expect(routed == documented, "routed only: \(routed.subtracting(documented)); documented only: \(documented.subtracting(routed))")
    }

    @Test func everyRequestNeedsTheToken() async throws {
        try await Self.withAPI { api in
            try await api.call(.get, "/keys", token: nil, status: .unauthorized, code: "unauthorized")
            try await api.call(.get, "/keys", token: "wrong", status: .unauthorized, code: "unauthorized")
            try await api.call(.get, "/", token: nil, status: .unauthorized)
            try await api.call(.get, "/keys?access_token=\(Self.token)", token: nil)
            try await api.call(.get, "/harness/pico/wrong/usb1/touch/on", token: nil, status: .unauthorized)
            try await api.call(.get, "/harness/pico/\(Self.token)/usb1/touch/on", token: nil)
            try await api.call(.get, "/harness/pico/\(Self.token)/usb9/touch/on", token: nil, status: .notFound, code: "key_not_found")
            try await api.call(.get, "/nowhere", status: .notFound, code: "endpoint_not_found")
        }
    }

    @Test func keysAndDevice() async throws {
        try await Self.withAPI { api in
            let keys = try #require(try await api.call(.get, "/keys") as? [JSON])
            #expect(keys.count == 1 && keys[0]["key"] as? Int == 1 && keys[0]["plugged"] as? Bool == true)
            try await api.call(.get, "/keys/2", status: .notFound, code: "key_not_found")
            try await api.call(.get, "/keys/x", status: .notFound, code: "key_not_found")
            #expect((try await api.call(.post, "/keys/1/unplug") as? JSON)?["plugged"] as? Bool == false)
            #expect((try await api.call(.post, "/keys/1/plug") as? JSON)?["plugged"] as? Bool == true)
            try await api.call(.post, "/keys/1/power-cycle")
            try await api.call(.post, "/keys/1/credentials", Self.credential(), status: .created)
            #expect((try await api.call(.post, "/keys/1/reset") as? JSON)?["storedCredentials"] as? Int == 0)
            let events = try #require(try await api.call(.get, "/events/recent") as? [JSON])
            #expect(events.map { $0["type"] as? String } == ["unplugged", "plugged", "powerCycled", "credentialAdded", "reset"])
            #expect((try await api.call(.get, "/events/recent?after=\(events[3]["sequence"] as? Int ?? 0)") as? [JSON])?.count == 1)
            let page = try await api.client.execute(uri: "/?access_token=\(Self.token)", method: .get)
            #expect(page.status == .ok && String(buffer: page.body).contains("vfido inspector"))
            #expect((try await api.call(.get, "/openapi.json") as? JSON)?["paths"] != nil)
        }
    }

    @Test func presenceAndPrompts() async throws {
        try await Self.withAPI { api in
            #expect((try await api.call(.get, "/keys/1/presence") as? JSON)?["policy"] as? String == "auto")
            let set = try #require(try await api.call(.put, "/keys/1/presence", ["isUserConsenting": false, "isUserVerified": false]) as? JSON)
            #expect(set["policy"] as? String == "control" && set["isUserVerified"] as? Bool == false)
            try await api.call(.put, "/keys/1/presence", ["policy": "maybe"], status: .badRequest, code: "invalid_field")
            try await api.call(.put, "/keys/1/presence", ["policy": "terminal"], status: .badRequest, code: "invalid_field")
            try await api.call(.put, "/keys/1/presence", ["policy": "auto", "isUserConsenting": true], status: .badRequest, code: "invalid_field")
            try await api.call(.put, "/keys/1/presence", ["touch": true], status: .badRequest, code: "unknown_field")
            try await api.call(.put, "/keys/1/presence", ["touching": "yes"], status: .badRequest, code: "invalid_field")
            #expect((try await api.call(.get, "/keys/1/presence") as? JSON)?["policy"] as? String == "control")  // refused: unchanged
            #expect((try await api.call(.get, "/keys/1/prompts") as? [JSON])?.isEmpty == true)
            try await api.call(.post, "/keys/1/prompts/approve", status: .notFound, code: "prompt_not_found")
            try await api.call(.post, "/keys/1/prompts/deny", ["id": 5], status: .notFound, code: "prompt_not_found")
            try await api.call(.post, "/keys/1/prompts/approve", ["wait": 1000], status: .badRequest, code: "invalid_field")
        }
    }

    @Test func overrides() async throws {
        try await Self.withAPI { api in
            #expect((try await api.call(.get, "/keys/1/overrides") as? JSON)?["isBogusSignature"] as? Bool == false)
            let set = try #require(try await api.call(.put, "/keys/1/overrides", ["isBogusSignature": true, "isBadUV": true]) as? JSON)
            #expect(set["isBogusSignature"] as? Bool == true && set["isBadUV"] as? Bool == true && set["isBadUP"] as? Bool == false)
            try await api.call(.put, "/keys/1/overrides", ["isBadUp": true], status: .badRequest, code: "unknown_field")
            #expect((try await api.call(.get, "/keys/1/overrides") as? JSON)?["isBadUP"] as? Bool == false)
        }
    }

    @Test func credentials() async throws {
        try await Self.withAPI { api in
            let added = try #require(try await api.call(.post, "/keys/1/credentials", Self.credential(resident: true), status: .created) as? JSON)
            #expect(added["privateKey"] == nil && added["signCount"] as? Int == 7 && added["algorithm"] as? Int == -7)
            try await api.call(.post, "/keys/1/credentials", Self.credential(id: "Y3JlZC0y"), status: .created)
            #expect((try await api.call(.get, "/keys/1/credentials") as? [JSON])?.count == 2)
            #expect((try await api.call(.get, "/keys/1/credentials/Y3JlZC0x") as? JSON)?["userName"] as? String == "alice")
            let patched = try #require(try await api.call(.patch, "/keys/1/credentials/Y3JlZC0x",
                                                          ["backupEligibility": true, "backupState": true, "signCount": 99]) as? JSON)
            #expect(patched["backupState"] as? Bool == true && patched["signCount"] as? Int == 99)
            try await api.call(.patch, "/keys/1/credentials/Y3JlZC0x", ["backupEligibility": false], status: .badRequest, code: "invalid_credential")
            try await api.call(.patch, "/keys/1/credentials/Y3JlZC0x", ["signCount": -1], status: .badRequest, code: "invalid_field")
            try await api.call(.patch, "/keys/1/credentials/Y3JlZC0x", ["sign_count": 1], status: .badRequest, code: "unknown_field")
            let webdriver = try #require(try await api.call(.post, "/keys/1/credentials/export") as? [JSON])
            #expect(webdriver.allSatisfy { ($0["privateKey"] as? String)?.isEmpty == false })
            let cxf = try #require(try await api.call(.post, "/keys/1/credentials/export", ["format": "cxf"]) as? JSON)
            #expect(((cxf["accounts"] as? [JSON])?.first?["items"] as? [JSON])?.count == 2)
            try await api.call(.post, "/keys/1/credentials/export", ["format": "pem"], status: .badRequest, code: "invalid_field")
            try await api.call(.delete, "/keys/1/credentials/Y3JlZC0y", status: .noContent)
            try await api.call(.delete, "/keys/1/credentials/Y3JlZC0y", status: .notFound, code: "credential_not_found")
            try await api.call(.get, "/keys/1/credentials/!!", status: .badRequest, code: "invalid_credential_id")
            #expect((try await api.call(.delete, "/keys/1/credentials") as? JSON)?["removed"] as? Int == 1)
            try await api.call(.get, "/keys/1/credentials/Y3JlZC0x", status: .notFound, code: "credential_not_found")
        }
    }

    @Test func refusedCredentialsChangeNothing() async throws {
        try await Self.withAPI { api in
            var bad = Self.credential()
            bad["privateKey"] = "AAAA"
            try await api.call(.post, "/keys/1/credentials", bad, status: .badRequest, code: "invalid_private_key")
            bad = Self.credential()
            bad["privateKey"] = Base64URL.encode(P521.Signing.PrivateKey().derRepresentation)
            try await api.call(.post, "/keys/1/credentials", bad, status: .badRequest, code: "unsupported_key_type")
            bad = Self.credential()
            bad["largeBlob"] = "AAAA"  // on a non-discoverable credential
            try await api.call(.post, "/keys/1/credentials", bad, status: .badRequest, code: "invalid_credential")
            bad = Self.credential(resident: true)
            bad["largeBlob"] = Base64URL.encode((0..<5000).map { _ in UInt8.random(in: 0...255) })  // beyond the array's 4 KiB
            try await api.call(.post, "/keys/1/credentials", bad, status: .init(code: 507), code: "key_store_full")
            bad = Self.credential()
            bad["credentialId"] = "not base64url!"
            try await api.call(.post, "/keys/1/credentials", bad, status: .badRequest, code: "invalid_field")
            bad = Self.credential()
            bad.removeValue(forKey: "privateKey")
            try await api.call(.post, "/keys/1/credentials", bad, status: .badRequest, code: "missing_field")
            try await api.call(.post, "/keys/1/credentials", raw: Array("[1,2]".utf8), status: .badRequest, code: "invalid_request")
            try await api.call(.post, "/keys/1/credentials", raw: [UInt8](repeating: 0x20, count: ControlRoutes.maxBody + 1),
                               status: .contentTooLarge, code: "request_too_large")
            try await api.call(.post, "/keys/1/credentials", Self.credential(), status: .created)
            try await api.call(.post, "/keys/1/credentials", Self.credential(), status: .conflict, code: "credential_conflict")
            #expect((try await api.call(.get, "/keys/1/credentials") as? [JSON])?.count == 1)
        }
    }
}

extension ControlAPITests {
    @Test func keysAddedAtRuntimeWithOptionsAndRemoved() async throws {
        try await Self.withAPI { api in
            let full = try #require(try await api.call(.post, "/keys", [:], status: .created) as? JSON)
            #expect(full["key"] as? Int == 2)
            #expect(full["protocolVersion"] as? String == "ctap2_1")
            #expect(full["addedAtRuntime"] as? Bool == true)
            #expect(full["hasResidentKey"] as? Bool == true)
            let reduced = try #require(try await api.call(.post, "/keys", [
                "protocol": "ctap2", "hasResidentKey": false, "hasUserVerification": true, "extensions": ["prf"],
                "isUserConsenting": false, "defaultBackupEligibility": true,
            ], status: .created) as? JSON)
            #expect(reduced["key"] as? Int == 3)
            #expect(reduced["protocolVersion"] as? String == "ctap2")
            #expect(reduced["hasResidentKey"] as? Bool == false)
            #expect(reduced["hasUserVerification"] as? Bool == true)
            #expect(reduced["hasLargeBlob"] as? Bool == false)
            #expect(reduced["extensions"] as? [String] == ["hmac-secret"])  // hmac-secret-mc is CTAP 2.2
            #expect((reduced["presence"] as? JSON)?["policy"] as? String == "control")
            #expect(reduced["defaultBackupEligibility"] as? Bool == true)
            // A key without discoverable credentials takes none through the API either.
            try await api.call(.post, "/keys/3/credentials", Self.credential(resident: true), status: .badRequest, code: "invalid_credential")
            try await api.call(.post, "/keys/3/credentials", Self.credential(), status: .created)
            #expect((try await api.call(.get, "/keys") as? [JSON])?.map { $0["key"] as? Int } == [1, 2, 3])

            // Refusals add nothing.
            for (body, code) in [(["protocol": "ctap3"], "invalid_field"), (["transport": "nfc"], "unsupported_field"),
                                 (["bogus": 1], "unknown_field"), (["extensions": ["nope"]], "invalid_field"),
                                 (["protocol": "ctap1/u2f", "hasResidentKey": true], "invalid_field"),
                                 (["protocol": "ctap2", "hasLargeBlob": true], "invalid_field"),
                                 (["defaultBackupState": true], "invalid_field"),
                                 (["hasResidentKey": "yes"], "invalid_field")] as [(JSON, String)] {
                try await api.call(.post, "/keys", body, status: .badRequest, code: code)
            }
            #expect((try await api.call(.get, "/keys") as? [JSON])?.count == 3)

            // The key started with the daemon keeps its state on disk: it is unplugged, never removed.
            try await api.call(.delete, "/keys/1", status: .conflict, code: "key_not_removable")
            try await api.call(.delete, "/keys/3", status: .noContent)
            try await api.call(.get, "/keys/3", status: .notFound, code: "key_not_found")
            try await api.call(.get, "/keys/3/credentials", status: .notFound, code: "key_not_found")
            let u2f = try #require(try await api.call(.post, "/keys", ["protocol": "ctap1/u2f"], status: .created) as? JSON)
            #expect(u2f["key"] as? Int == 3)
            #expect(u2f["protocolVersion"] as? String == "ctap1/u2f")
            #expect(u2f["hasResidentKey"] as? Bool == false)
        }
    }
}
