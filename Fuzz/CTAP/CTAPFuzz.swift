// libFuzzer target for the CTAP2 core: every command's parameter parsing and checks, the PIN
// protocols, extensions, credential management, large blobs, config and U2F key handles, with
// the real (in-memory SQLite) credential store behind it. Built by `make fuzz` through SwiftPM
// (it needs swift-crypto); in a normal build it replays saved inputs (Fuzz/Support;
// VERBOSE=1 prints each command's status).
//
// The input is a sequence of CTAP messages, each a 2-byte little-endian length and that many
// bytes (a command byte, then CBOR), so one input can set a PIN, make a credential, then poke
// at it. Invariants, after every message: an answer is a status byte; an error is the status
// alone; a success carries nothing or canonical CBOR that the strict reader takes back byte for
// byte. After the whole input: getInfo still answers, and every stored discoverable credential
// still loads and is counted (the device stays usable, nothing stored is corrupted).
// FUZZ_COMMAND=<command> switches to the structured mode of Structured.swift, one target per
// command that takes parameters.
import CBOR
import CredentialStore
import CTAP
import CTAPTestSupport
import CTAPWire
import Crypto
import CryptoExtras
import Foundation
import FuzzSupport
import WebAuthnClient

struct Approve: UserPresence {
    func confirm(_ request: UserPresenceRequest) async -> UserPresenceResult { .approved }
}

/// The seeded source, with RSA keys from a pool made once: generating a 2048-bit key per
/// RS256 makeCredential held the target to a few dozen inputs a second.
struct FuzzRandom: RandomSource {
    static let rsaKeys = (0..<4).map { _ in Array(try! _RSA.Signing.PrivateKey(keySize: .bits2048).derRepresentation) }
    let seeded = SeededRandom(seed: "vfido fuzz")
    func bytes(_ count: Int) -> [UInt8] { seeded.bytes(count) }
    func rsaKey() -> [UInt8]? { Self.rsaKeys[Int(seeded.bytes(1)[0]) % Self.rsaKeys.count] }
}

/// Runs an async body to completion from synchronous code (libFuzzer's callback).
final class Outcome<T>: @unchecked Sendable { var value: T? }
func blocking<T>(_ body: @escaping @Sendable () async -> T) -> T {
    let outcome = Outcome<T>()
    let done = DispatchSemaphore(value: 0)
    Task {
        outcome.value = await body()
        done.signal()
    }
    done.wait()
    return outcome.value!
}

/// VERBOSE=1 in the replayer prints each command's status.
let verbose = ProcessInfo.processInfo.environment["VERBOSE"] != nil
let config = AuthenticatorConfig(resetWindow: nil, maxResidentCredentials: 16)
let pin = "1234"

/// FUZZ_COMMAND=makeCredential (or getAssertion, clientPIN, credentialManagement, largeBlobs,
/// config) selects the structured mode for that command (Structured.swift); unset, the input is
/// raw CTAP messages.
let structuredCommand: CTAPCommand? = ProcessInfo.processInfo.environment["FUZZ_COMMAND"].flatMap { $0.isEmpty ? nil : $0 }.map { name in
    let commands: [String: CTAPCommand] = ["makeCredential": .makeCredential, "getAssertion": .getAssertion, "clientPIN": .clientPIN,
                                           "credentialManagement": .credentialManagement, "largeBlobs": .largeBlobs, "config": .config]
    guard let command = commands[name] else { fatalError("FUZZ_COMMAND=\(name): not one of \(commands.keys.sorted())") }
    return command
}

/// One store for every input, reset in place between them (opening a fresh SQLite store and
/// generating attestation keys per input cost most of the time): a reset deletes every row,
/// writes the template back and checks that the tables hold exactly the template again, so
/// nothing one input stored can leak into the next.
final class Fixture: @unchecked Sendable {
    let store = try! SQLiteCredentialStore.inMemory()
    var secrets: [(String, [UInt8])] = []
    var credentials: [StoredCredential] = []
    var rowCounts: [String: Int] = [:]
    /// mc, ga, cm, lbw, acfg: every permission vfido grants (it has no bio enrollment).
    static let allPermissions = 0x37

    /// The template: a new device's secrets; in structured mode also a PIN and two discoverable
    /// credentials at example.com, so that tokens, credential management and large blobs have
    /// something to work on.
    init(structured: Bool) {
        let authenticator = try! Authenticator(config: config, store: store, presence: Approve(), random: FuzzRandom(), clock: ManualClock())
        if structured {
            let agreement = blocking { await Self.agree(authenticator) }
            let newPinEnc = try! agreement.encrypt(Array(pin.utf8) + [UInt8](repeating: 0, count: 64 - pin.count))
            Self.expectSuccess(authenticator, [CTAPCommand.clientPIN.rawValue] + CBORValue.intMap([
                (1, .int(2)), (2, .int(3)), (3, agreement.platformKey), (4, .bytes(agreement.authenticate(newPinEnc))), (5, .bytes(newPinEnc)),
            ]).encoded)
            let token = blocking { await Self.token(authenticator, permissions: Fixture.allPermissions) }
            for n in 1...2 {
                let clientDataHash = [UInt8](repeating: UInt8(n), count: 32)
                Self.expectSuccess(authenticator, [CTAPCommand.makeCredential.rawValue] + CBORValue.intMap([
                    (1, .bytes(clientDataHash)), (2, .textMap([("id", .text(Shapes.rpId))])),
                    (3, .textMap([("id", .bytes([UInt8(n)])), ("name", .text("user\(n)"))])),
                    (4, .array([.textMap([("type", .text("public-key")), ("alg", .int(-7))])])),
                    (6, .textMap([("largeBlobKey", .bool(true)), ("credBlob", .bytes([1, 2, 3]))])),
                    (7, .textMap([("rk", .bool(true))])), (8, .bytes(PinProtocolTwo.authenticate(token: token, clientDataHash))), (9, .int(2)),
                ]).encoded)
            }
        }
        secrets = try! store.secretNames().map { ($0, try! store.loadSecret($0)!) }
        credentials = try! store.allStoredCredentials()
        restore()
        rowCounts = try! store.rowCounts()
    }

    /// Every row deleted, then the template's secrets and credentials written back (counters
    /// start again from zero).
    func restore() {
        try! store.wipe()
        for (name, blob) in secrets { try! store.saveSecret(name, blob) }
        for credential in credentials { try! store.saveCredential(credential) }
    }

    func reset() -> Authenticator {
        restore()
        let counts = try! store.rowCounts()
        precondition(counts == rowCounts, "a reset left the store at \(counts), not the template's \(rowCounts)")
        return try! Authenticator(config: config, store: store, presence: Approve(), random: FuzzRandom(), clock: ManualClock())
    }

    static func expectSuccess(_ authenticator: Authenticator, _ message: [UInt8]) {
        let response = blocking { await authenticator.handle(message) }.response
        precondition(response.first == 0, "template command 0x\(String(message[0], radix: 16)) failed: \(response)")
    }

    static func agree(_ authenticator: Authenticator) async -> PinProtocolTwo {
        let reply = await authenticator.handle([CTAPCommand.clientPIN.rawValue] + CBORValue.intMap([(1, .int(2)), (2, .int(2))]).encoded).response
        let key = try! CBORReader.decode(Array(reply.dropFirst()))[int: 1]!
        return try! PinProtocolTwo(authenticatorKey: key)
    }

    /// A PIN/UV auth token with `permissions`, bound to example.com.
    static func token(_ authenticator: Authenticator, permissions: Int) async -> [UInt8] {
        let agreement = await agree(authenticator)
        let pinHashEnc = try! agreement.encrypt(Array(SHA256.hash(data: Array(pin.utf8)).prefix(16)))
        let reply = await authenticator.handle([CTAPCommand.clientPIN.rawValue] + CBORValue.intMap([
            (1, .int(2)), (2, .int(9)), (3, agreement.platformKey), (6, .bytes(pinHashEnc)), (9, .int(permissions)), (10, .text(Shapes.rpId)),
        ]).encoded).response
        precondition(reply.first == 0, "no PIN token: \(reply)")
        return try! agreement.decrypt(try! CBORReader.decode(Array(reply.dropFirst()))[int: 2]!.bytesValue!)
    }
}

let fixture = Fixture(structured: structuredCommand != nil)

/// Splits the input into CTAP messages: 2-byte little-endian length, then the bytes.
func messages(_ input: [UInt8]) -> [[UInt8]] {
    var out: [[UInt8]] = []
    var at = 0
    while at + 2 <= input.count && out.count < 32 {
        let length = min(Int(input[at]) | Int(input[at + 1]) << 8, input.count - at - 2, config.maxMessageSize)
        out.append(Array(input[(at + 2)..<(at + 2 + length)]))
        at += 2 + length
    }
    return out
}

/// Structured mode: up to 8 requests (while the input lasts), most of the chosen command, some of the others (so that
/// a getAssertion can be followed by getNextAssertion, a blob write by a read, a reset by anything).
func structuredMessages(_ command: CTAPCommand, _ input: [UInt8], authenticator: Authenticator) async -> [[UInt8]] {
    var choices = Choices(bytes: input)
    let permissions = Int(choices.byte()) & Fixture.allPermissions
    let context = Context(token: await Fixture.token(authenticator, permissions: permissions == 0 ? Fixture.allPermissions : permissions),
                          credentialIds: fixture.credentials.map(\.id))
    let others: [CTAPCommand] = [.makeCredential, .getAssertion, .getNextAssertion, .getInfo, .clientPIN, .reset,
                                 .credentialManagement, .selection, .largeBlobs, .config]
    var requests: [[UInt8]] = []
    while requests.count < 8 && (requests.isEmpty || choices.at < input.count) {  // until the bytes run out
        requests.append(structuredRequest(choices.below(4) == 0 ? others[choices.below(others.count)] : command, &choices, context))
    }
    return requests
}

func check(_ response: [UInt8], for message: [UInt8]) {
    guard let status = response.first else { preconditionFailure("an empty answer to \(message)") }
    guard status == 0 else {
        precondition(response.count == 1, "error 0x\(String(status, radix: 16)) carries \(response.count - 1) more bytes")
        return
    }
    let body = Array(response.dropFirst())
    guard !body.isEmpty else { return }
    // U2F answers over CTAPHID_MSG are not CBOR, but this target speaks CTAP2 (CTAPHID_CBOR) only.
    guard let value = try? CBORReader.decode(body) else { preconditionFailure("a success answer that is not strict CBOR: \(body)") }
    precondition(value.encoded == body, "a success answer that is not canonical CBOR")
}

/// One input, in one task (a hop between threads per message cost more than most commands).
func run(_ input: [UInt8]) {
    let authenticator = fixture.reset()
    blocking {
        let requests = if let structuredCommand { await structuredMessages(structuredCommand, input, authenticator: authenticator) } else { messages(input) }
        for message in requests {
            let exchange = await authenticator.handle(message)
            if verbose { print(String(format: "  command 0x%02X (%d bytes) -> status 0x%02X", message.first ?? 0, message.count, exchange.response[0])) }
            check(exchange.response, for: message)
        }
        let info = await authenticator.handle([0x04])
        precondition(info.response.first == 0 && info.response.count > 1, "getInfo fails after the input: \(info.response)")
        check(info.response, for: [0x04])
    }
    guard let stored = try? fixture.store.allResidentCredentials() else { preconditionFailure("the stored credentials no longer load") }
    precondition((try? fixture.store.residentCredentialCount()) == stored.count, "the credential count disagrees with the credentials")
}

@main
struct Main {
    static func main() { fuzzMain(run) }
}
