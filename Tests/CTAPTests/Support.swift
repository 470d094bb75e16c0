import CBOR
import CTAPTestSupport
import CredentialStore
import Crypto
import Foundation
import CTAPWire
@testable import CTAP

/// Answers prompts as told and records what was asked.
final class ScriptedPresence: UserPresence, @unchecked Sendable {
    var answer: UserPresenceResult = .approved
    var requests: [UserPresenceRequest] = []
    func confirm(_ request: UserPresenceRequest) async -> UserPresenceResult {
        requests.append(request)
        return answer
    }
}

struct Fixture {
    let store: SQLiteCredentialStore
    let presence = ScriptedPresence()
    let clock = ManualClock()
    let authenticator: Authenticator

    init(attestation: AttestationMode = .packed, store: SQLiteCredentialStore? = nil, builtInUV: Bool = false,
         config: AuthenticatorConfig? = nil) throws {
        self.store = try store ?? .inMemory()
        authenticator = try Authenticator(
            config: config ?? AuthenticatorConfig(attestation: attestation, builtInUV: builtInUV), store: self.store, presence: presence,
            random: SeededRandom(), clock: clock)
    }

    /// Sends a command with CBOR parameters and returns (status, decoded body).
    func call(_ command: UInt8, _ parameters: CBORValue? = nil) async throws -> (CTAPStatus, CBORValue?) {
        let exchange = await authenticator.handle([command] + (parameters?.encoded ?? []))
        return try decode(exchange.response)
    }

    func raw(_ bytes: [UInt8]) async throws -> (CTAPStatus, CBORValue?) {
        try decode(await authenticator.handle(bytes).response)
    }

    private func decode(_ response: [UInt8]) throws -> (CTAPStatus, CBORValue?) {
        let status = CTAPStatus(rawValue: response[0])
        guard response.count > 1 else { return (status, nil) }
        let body = Array(response.dropFirst())
        let value = try CBORReader.decode(body)
        // Every response must be exactly its own canonical encoding.
        precondition(value.encoded == body, "non-canonical response")
        return (status, value)
    }
}

let clientDataHash = Array(SHA256.hash(data: Array("client data".utf8)))

func makeCredentialRequest(rpId: String = "example.com", userId: [UInt8] = [1, 2, 3], userName: String = "alice",
                           algorithms: [Int] = [-7], rk: Bool? = nil, options extra: [(String, CBORValue?)] = [],
                           excludeList: [[UInt8]]? = nil) -> [(Int, CBORValue?)] {
    [
        (1, .bytes(clientDataHash)),
        (2, .textMap([("id", .text(rpId)), ("name", "Example")])),
        (3, .textMap([("id", .bytes(userId)), ("name", .text(userName)), ("displayName", .text(userName.capitalized))])),
        (4, .array(algorithms.map { .textMap([("alg", .int($0)), ("type", "public-key")]) })),
        (5, excludeList.map { .array($0.map { .textMap([("id", .bytes($0)), ("type", "public-key")]) }) }),
        (7, rk == nil && extra.isEmpty ? nil : .textMap((rk.map { [("rk", CBORValue.bool($0))] } ?? []) + extra)),
    ]
}

func getAssertionRequest(rpId: String = "example.com", allowList: [[UInt8]]? = nil, options: [(String, CBORValue?)] = []) -> [(Int, CBORValue?)] {
    [
        (1, .text(rpId)),
        (2, .bytes(clientDataHash)),
        (3, allowList.map { .array($0.map { .textMap([("id", .bytes($0)), ("type", "public-key")]) }) }),
        (5, options.isEmpty ? nil : .textMap(options)),
    ]
}

/// Replaces (or removes, with nil) one member of a request: "valid fixture, break one field".
func replacing(_ request: [(Int, CBORValue?)], _ key: Int, with value: CBORValue?) -> CBORValue {
    request.contains(where: { $0.0 == key }) ? .intMap(request.map { $0.0 == key ? (key, value) : $0 }) : .intMap(request + [(key, value)])
}

/// A parsed attested credential from makeCredential's authData.
struct AttestedCredential {
    var rpIdHash: [UInt8]
    var flags: UInt8
    var signCount: UInt32
    var aaguid: [UInt8]
    var credentialId: [UInt8]
    var publicKey: CBORValue

    init(authData: [UInt8]) throws {
        rpIdHash = Array(authData[0..<32])
        flags = authData[32]
        signCount = authData[33..<37].reduce(0) { $0 << 8 | UInt32($1) }
        aaguid = Array(authData[37..<53])
        let length = Int(authData[53]) << 8 | Int(authData[54])
        credentialId = Array(authData[55..<(55 + length)])
        let (key, used) = try CBORReader.decodePrefix(Array(authData[(55 + length)...]))
        publicKey = key
        precondition(55 + length + used == authData.count || flags & 0x80 != 0)  // extensions follow the key
    }
}

/// Verifies a WebAuthn signature with a COSE public key (ES256 or EdDSA).
func verify(signature: [UInt8], over message: [UInt8], with key: CBORValue) throws -> Bool {
    switch key[int: 3]?.intValue {
    case -7:
        let point = [0x04] + key[int: -2]!.bytesValue! + key[int: -3]!.bytesValue!
        let publicKey = try P256.Signing.PublicKey(x963Representation: point)
        return publicKey.isValidSignature(try P256.Signing.ECDSASignature(derRepresentation: signature), for: message)
    case -8:
        let publicKey = try Curve25519.Signing.PublicKey(rawRepresentation: key[int: -2]!.bytesValue!)
        return publicKey.isValidSignature(signature, for: message)
    default:
        return false
    }
}
