import Bytes
import CBOR
import Crypto
import CTAP
import EndToEnd
import Foundation
import Logging
import Testing
@testable import WebAuthnClient

extension InProcessKey {
    static func start() async throws -> InProcessKey {
        try await start(logger: Logger(label: "test") { _ in SwiftLogNoOpLogHandler() })
    }

    func client(origin: String = "http://localhost:8080", pin: String? = nil) -> WebAuthnClient {
        WebAuthnClient(device: CTAP2Device(transport: transport), origin: origin, pin: pin)
    }
}

func creation(user: String = "alice", userID: [UInt8] = Array(repeating: 1, count: 16), rk: String = "preferred",
              uv: String = "preferred", exclude: [String] = [], extensions: String = #"{"credProps": true}"#,
              attestation: String = "none", rpID: String = "localhost") throws -> CreationOptions {
    let json = """
        {"rp": {"id": "\(rpID)", "name": "test"}, "user": {"id": "\(Base64URL.encode(userID))", "name": "\(user)", "displayName": "\(user)"},
         "challenge": "\(Base64URL.encode((0..<32).map { UInt8($0) }))", "pubKeyCredParams": [{"type": "public-key", "alg": -7}],
         "authenticatorSelection": {"residentKey": "\(rk)", "userVerification": "\(uv)"}, "attestation": "\(attestation)",
         "excludeCredentials": [\(exclude.map { #"{"type": "public-key", "id": "\#($0)"}"# }.joined(separator: ","))],
         "extensions": \(extensions)}
        """
    return try JSONDecoder().decode(CreationOptions.self, from: Data(json.utf8))
}

func request(allow: [String] = [], uv: String = "preferred", extensions: String = "{}", rpID: String = "localhost") throws -> RequestOptions {
    let json = """
        {"challenge": "\(Base64URL.encode((0..<32).map { UInt8(255 - $0) }))", "rpId": "\(rpID)", "userVerification": "\(uv)",
         "allowCredentials": [\(allow.map { #"{"type": "public-key", "id": "\#($0)"}"# }.joined(separator: ","))], "extensions": \(extensions)}
        """
    return try JSONDecoder().decode(RequestOptions.self, from: Data(json.utf8))
}

/// Verifies an assertion with the public key create() returned (SPKI DER), in swift-crypto.
func verifies(_ assertion: PublicKeyCredential, with registration: PublicKeyCredential) throws -> Bool {
    let key = try P256.Signing.PublicKey(derRepresentation: try #require(registration.publicKey))
    let signed = assertion.authenticatorData + Array(SHA256.hash(data: assertion.clientDataJSON))
    return key.isValidSignature(try P256.Signing.ECDSASignature(derRepresentation: try #require(assertion.signature)), for: signed)
}

@Suite(.serialized) struct ClientTests {
    @Test func createThenGetSignsOverTheClientDataItSent() async throws {
        let key = try await InProcessKey.start()
        defer { Task { await key.daemon.stop() } }
        let client = key.client()
        let registration = try await client.create(try creation())
        #expect(registration.clientExtensionResults.credProps?.rk == true)  // preferred + a key that stores passkeys
        let object = try CBORReader.decode(try #require(registration.attestationObject))
        #expect(object[text: "fmt"]?.textValue == "none" && object[text: "attStmt"] == .map([]))
        let authData = try #require(object[text: "authData"]?.bytesValue)
        #expect(authData == registration.authenticatorData)
        #expect(Array(authData[0..<32]) == Array(SHA256.hash(data: Array("localhost".utf8))))
        #expect(registration.publicKeyAlgorithm == -7)

        let assertion = try await client.get(try request(allow: [registration.id]))
        #expect(assertion.rawId == registration.rawId)
        #expect(try verifies(assertion, with: registration))
        #expect(String(decoding: assertion.clientDataJSON, as: UTF8.self).hasPrefix(#"{"type":"webauthn.get","challenge":""#))
        // Discoverable: the user handle comes back.
        let discovered = try await client.get(try request())
        #expect(discovered.userHandle == Array(repeating: 1, count: 16))
        #expect(try verifies(discovered, with: registration))
    }

    @Test func directAttestationKeepsThePackedStatement() async throws {
        let key = try await InProcessKey.start()
        defer { Task { await key.daemon.stop() } }
        let registration = try await key.client().create(try creation(attestation: "direct"))
        let object = try CBORReader.decode(try #require(registration.attestationObject))
        #expect(object[text: "fmt"]?.textValue == "packed")
        #expect(object[text: "attStmt"]?[text: "x5c"]?.arrayValue?.isEmpty == false)
    }

    @Test func excludedCredentialIsInvalidState() async throws {
        let key = try await InProcessKey.start()
        defer { Task { await key.daemon.stop() } }
        let client = key.client()
        let first = try await client.create(try creation(rk: "discouraged"))
        #expect(first.clientExtensionResults.credProps?.rk == false)
        await #expect(throws: WebAuthnClientError(.invalidState, "the key already holds a credential from the exclude list")) {
            _ = try await client.create(try creation(exclude: [first.id]))
        }
    }

    @Test func rpIDMustBeTheOriginsHostOrARegistrableSuffix() async throws {
        let key = try await InProcessKey.start()
        defer { Task { await key.daemon.stop() } }
        let client = key.client(origin: "https://login.example.com")
        _ = try await client.create(try creation(rpID: "example.com"))
        do {
            _ = try await client.create(try creation(rpID: "other.example"))
            Issue.record("an RP ID outside the origin was accepted")
        } catch let error as WebAuthnClientError {
            #expect(error.name == .security)
        }
    }

    @Test func aPINIsUsedThroughProtocolTwoAndSetsUV() async throws {
        let key = try await InProcessKey.start()
        defer { Task { await key.daemon.stop() } }
        let device = CTAP2Device(transport: key.transport)
        // setPIN (§6.5.5.5), written here from the spec: newPinEnc = encrypt(PIN padded to 64 bytes).
        let session = try await PinProtocolTwo.agree(with: device)
        let newPinEnc = try session.encrypt(Array("4321".utf8) + [UInt8](repeating: 0, count: 60))
        _ = try await device.clientPIN(.intMap([(1, .int(2)), (2, .int(3)), (3, session.platformKey),
                                               (4, .bytes(session.authenticate(newPinEnc))), (5, .bytes(newPinEnc))]))
        #expect(try await device.getInfo().pinIsSet)

        // A passkey needs the PIN once one is set: without it the client refuses before the key does.
        do {
            _ = try await key.client().create(try creation())
            Issue.record("created a passkey on a PIN-protected key without the PIN")
        } catch let error as WebAuthnClientError { #expect(error.name == .notAllowed) }
        do {
            _ = try await key.client(pin: "0000").create(try creation())
            Issue.record("a wrong PIN was accepted")
        } catch let error as WebAuthnClientError { #expect(error.name == .notAllowed && error.message.contains("PIN_INVALID")) }

        let client = key.client(pin: "4321")
        let registration = try await client.create(try creation(uv: "required"))
        #expect(registration.authenticatorData[32] & 0x04 != 0)  // UV
        let assertion = try await client.get(try request(allow: [registration.id], uv: "required"))
        #expect(assertion.authenticatorData[32] & 0x05 == 0x05)  // UP and UV
        #expect(try verifies(assertion, with: registration))
    }

    @Test func prfIsHMACSecretWithWebAuthnSalts() async throws {
        let key = try await InProcessKey.start()
        defer { Task { await key.daemon.stop() } }
        let client = key.client()
        let registration = try await client.create(try creation(extensions: #"{"prf": {}}"#))
        #expect(registration.clientExtensionResults.prf?.enabled == true)
        func prf(_ first: String, _ second: String? = nil) async throws -> PublicKeyCredential.ClientExtensionResults.PRF.Results? {
            let eval = second.map { #"{"first": "\#(first)", "second": "\#($0)"}"# } ?? #"{"first": "\#(first)"}"#
            return try await client.get(try request(allow: [registration.id], extensions: #"{"prf": {"eval": \#(eval)}}"#))
                .clientExtensionResults.prf?.results
        }
        let a = try #require(try await prf("AAAA"))
        #expect(Base64URL.decode(a.first)?.count == 32 && a.second == nil)
        #expect(try await prf("AAAA")?.first == a.first)  // a PRF: same input, same output
        let b = try #require(try await prf("AAAB", "AAAA"))
        #expect(b.first != a.first && b.second == a.first)
    }

    @Test func severalAccountsGoThroughThePicker() async throws {
        let key = try await InProcessKey.start()
        defer { Task { await key.daemon.stop() } }
        var client = key.client()
        _ = try await client.create(try creation(user: "alice", userID: Array(repeating: 1, count: 16), rk: "required"))
        let bob = try await client.create(try creation(user: "bob", userID: Array(repeating: 2, count: 16), rk: "required"))
        let offered = Offered()
        client.chooseAccount = { accounts in
            offered.handles = accounts.compactMap(\.userHandle)
            return accounts.firstIndex { $0.userHandle == Array(repeating: 2, count: 16) } ?? 0
        }
        let assertion = try await client.get(try request())
        #expect(Set(offered.handles) == [Array(repeating: 1, count: 16), Array(repeating: 2, count: 16)])
        #expect(assertion.rawId == bob.rawId && assertion.userHandle == Array(repeating: 2, count: 16))
        #expect(try verifies(assertion, with: bob))
    }

    @Test func toJSONAndTheSDKWrapper() async throws {
        let key = try await InProcessKey.start()
        defer { Task { await key.daemon.stop() } }
        let registration = try await key.client().create(try creation())
        let json = registration.jsonObject()
        #expect(json["id"] as? String == registration.id && json["rawId"] as? String == registration.id)
        #expect(json["type"] as? String == "public-key")
        let response = try #require(json["response"] as? [String: Any])
        #expect(Set(response.keys) == ["clientDataJSON", "attestationObject", "authenticatorData", "transports", "publicKey", "publicKeyAlgorithm"])
        #expect(Base64URL.decode(response["clientDataJSON"] as? String ?? "") == registration.clientDataJSON)

        let wrapper = try #require(Data(base64Encoded: registration.sdkWrapper(sessionID: "s-1")))
        let decoded = try #require(try JSONSerialization.jsonObject(with: wrapper) as? [String: Any])
        #expect(decoded["webauthnSessionId"] as? String == "s-1")
        let inner = try #require(decoded["publicKeyCredential"] as? [String: Any])
        // Binary fields in standard base64 inside the wrapper (btoa), the id stays base64url.
        #expect(Data(base64Encoded: inner["rawId"] as? String ?? "").map(Array.init) == registration.rawId)
        #expect(inner["id"] as? String == registration.id)
    }
}

final class Offered: @unchecked Sendable { var handles: [[UInt8]] = [] }

/// A user who never touches the key: the prompt ends only when the platform cancels it.
final class AbsentUser: UserPresence, @unchecked Sendable {
    private let lock = NSLock()
    private var endings: [UserPresenceResult] = []
    var results: [UserPresenceResult] { lock.withLock { endings } }
    func confirm(_ request: UserPresenceRequest) async -> UserPresenceResult {
        while !Task.isCancelled { try? await Task.sleep(for: .milliseconds(5)) }
        lock.withLock { endings.append(.cancelled) }
        return .cancelled
    }
}

@Suite(.serialized) struct CeremonyTimeout {
    @Test func anUnansweredPromptIsCancelledWhenTheOptionsTimeoutRunsOut() async throws {
        let user = AbsentUser()
        let key = try await InProcessKey.start(presence: user, logger: Logger(label: "test") { _ in SwiftLogNoOpLogHandler() })
        defer { Task { await key.daemon.stop() } }
        var options = try creation()
        options.timeout = 300
        do {
            _ = try await key.client().create(options)
            Issue.record("create() succeeded without a touch")
        } catch let error as WebAuthnClientError {
            #expect(error.name == .notAllowed)
            #expect(error.message.contains("timed out"))
        }
        // The key was told: CTAPHID_CANCEL ended its prompt (without it the prompt would still
        // wait, and `results` would be empty). No time bound: a loaded machine is only slower.
        #expect(user.results == [.cancelled])
        // The key is free again at once.
        #expect(try await key.client().device.getInfo().versions.contains("FIDO_2_1"))
    }
}

@Suite struct PublicKeyDER {
    /// getPublicKey() is SubjectPublicKeyInfo: the fixed prefixes of RFC 5480 and RFC 8410.
    @Test func coseKeysBecomeTheSPKIBrowsersReturn() throws {
        let p256 = P256.Signing.PrivateKey().publicKey.x963Representation
        let ec2 = CBORValue.intMap([(1, 2), (3, -7), (-1, 1), (-2, .bytes(Array(p256[1...32]))), (-3, .bytes(Array(p256[33...64])))])
        let der = try #require(SubjectPublicKeyInfo.der(ec2))
        #expect(der == [UInt8](hex: "3059301306072a8648ce3d020106082a8648ce3d030107034200")! + Array(p256))
        let ed = Array(Curve25519.Signing.PrivateKey().publicKey.rawRepresentation)
        let okp = CBORValue.intMap([(1, 1), (3, -8), (-1, 6), (-2, .bytes(ed))])
        #expect(SubjectPublicKeyInfo.der(okp) == [UInt8](hex: "302a300506032b6570032100")! + ed)
        let p384 = P384.Signing.PrivateKey().publicKey.x963Representation
        let ec2384 = CBORValue.intMap([(1, 2), (3, -35), (-1, 2), (-2, .bytes(Array(p384[1...48]))), (-3, .bytes(Array(p384[49...96])))])
        #expect(SubjectPublicKeyInfo.der(ec2384) == [UInt8](hex: "3076301006072a8648ce3d020106052b81040022036200")! + Array(p384))
        #expect(SubjectPublicKeyInfo.der(.intMap([(1, 2), (3, -7), (-1, 1), (-2, .bytes([1])), (-3, .bytes([2]))])) == nil)
    }
}
