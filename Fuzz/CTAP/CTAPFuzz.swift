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
/// RS256 makeCredential held the target to a few dozen inputs a second. Rewound before every
/// input, so that an input draws the same bytes wherever it runs.
final class FuzzRandom: RandomSource, @unchecked Sendable {
    static let rsaKeys = (0..<4).map { _ in Array(try! _RSA.Signing.PrivateKey(keySize: .bits2048).derRepresentation) }
    private var seeded = SeededRandom(seed: "vfido fuzz")
    func rewind() { seeded = SeededRandom(seed: "vfido fuzz") }
    func bytes(_ count: Int) -> [UInt8] { seeded.bytes(count) }
    func rsaKey() -> [UInt8]? { Self.rsaKeys[Int(seeded.bytes(1)[0]) % Self.rsaKeys.count] }
}

let executor = CallerExecutor()
func blocking<T>(_ body: @escaping @Sendable () async -> T) -> T { executor.run(body) }

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

/// One store and one authenticator for every input, reset in place between them (a fresh
/// SQLite store and authenticator per input cost most of the time). The store is put back to
/// the template when the input wrote to it (deleting every row, writing the template, checking
/// that the tables hold exactly the template's rows) and the authenticator reads its stored
/// state again; an input that wrote nothing leaves only per-boot state behind, which a power
/// cycle forgets. The randomness is rewound either way. The replayer checks
/// that this leaks nothing: every input there also runs on a fresh store and authenticator, and
/// must answer the same (`Trace`).
final class Fixture: @unchecked Sendable {
    let store = try! SQLiteCredentialStore.inMemory()
    let random = FuzzRandom()
    let clock = ManualClock()  // one calendar: certificates made from the template agree
    var authenticator: Authenticator!
    var secrets: [(String, [UInt8])] = []
    var credentials: [StoredCredential] = []
    var rowCounts: [String: Int] = [:]
    var rowsWrittenAtReset: Int64 = 0
    /// mc, ga, cm, lbw, acfg: every permission vfido grants (it has no bio enrollment).
    static let allPermissions = 0x37

    /// The template: a new device's secrets; in structured mode also a PIN and two discoverable
    /// credentials at example.com, so that tokens, credential management and large blobs have
    /// something to work on.
    init(structured: Bool) {
        let authenticator = try! Authenticator(config: config, store: store, presence: Approve(), random: random, clock: clock)
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
        self.authenticator = authenticator
        restore(into: store)
        rowCounts = try! store.rowCounts()
        rowsWrittenAtReset = try! store.rowsWritten()
    }

    /// Every row of `store` deleted, then the template's secrets and credentials written back
    /// (counters start again from zero).
    func restore(into store: SQLiteCredentialStore) {
        try! store.wipe()
        for (name, blob) in secrets { try! store.saveSecret(name, blob) }
        for credential in credentials { try! store.saveCredential(credential) }
    }

    /// The authenticator as the template left it, for the next input.
    func reset() async -> Authenticator {
        random.rewind()
        if try! store.rowsWritten() != rowsWrittenAtReset {
            restore(into: store)
            let counts = try! store.rowCounts()
            precondition(counts == rowCounts, "a reset left the store at \(counts), not the template's \(rowCounts)")
            rowsWrittenAtReset = try! store.rowsWritten()
            try! await authenticator.reload()
        } else {
            await authenticator.powerCycle()
        }
        return authenticator
    }

    /// What the harness did before it reset in place, for the replayer's check: a new store
    /// holding the template, and a new authenticator on it.
    func fresh() -> (Authenticator, SQLiteCredentialStore) {
        let store = try! SQLiteCredentialStore.inMemory()
        restore(into: store)
        return (try! Authenticator(config: config, store: store, presence: Approve(), random: FuzzRandom(), clock: clock), store)
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

/// What an input did, to compare two runs of it: each answer's status, then the getInfo
/// answer and every stored credential after it. (Not the answers' bytes: signatures and the
/// host side of the PIN protocol draw randomness of their own.)
struct Trace: Equatable {
    var statuses: [UInt8] = []
    var info: [UInt8] = []
    var stored: [StoredCredential] = []
}

/// The last getInfo answer that passed `check`.
let checkedInfo = Box<[UInt8]>()

/// One input, in one task (a hop between threads per message cost more than most commands).
func trace(_ input: [UInt8], on authenticator: Authenticator, store: SQLiteCredentialStore) async -> Trace {
    var trace = Trace()
    let requests = if let structuredCommand { await structuredMessages(structuredCommand, input, authenticator: authenticator) } else { messages(input) }
    for message in requests {
        let exchange = await authenticator.handle(message)
        if verbose { print(String(format: "  command 0x%02X (%d bytes) -> status 0x%02X", message.first ?? 0, message.count, exchange.response[0])) }
        check(exchange.response, for: message)
        trace.statuses.append(exchange.response[0])
    }
    trace.info = await authenticator.handle([0x04]).response
    precondition(trace.info.first == 0 && trace.info.count > 1, "getInfo fails after the input: \(trace.info)")
    if trace.info != checkedInfo.value {  // most inputs leave getInfo as the last one checked
        check(trace.info, for: [0x04])
        checkedInfo.value = trace.info
    }
    if store === fixture.store && (try? store.rowsWritten()) == fixture.rowsWrittenAtReset {
        trace.stored = fixture.credentials  // nothing written: the template's, which load
        return trace
    }
    guard let stored = try? store.allStoredCredentials() else { preconditionFailure("the stored credentials no longer load") }
    precondition((try? store.residentCredentialCount()) == stored.filter(\.discoverable).count, "the credential count disagrees with the credentials")
    trace.stored = stored
    return trace
}

/// FUZZ_RESET=fresh runs every input as the harness did before it reset in place (the baseline
/// `Fuzz/run.sh --speed` measures against, in the same run): a new store holding the template,
/// a new authenticator with plain seeded randomness (so an RSA key generated per RS256
/// credential), each message in a task of its own on the cooperative pool.
let freshPerInput = ProcessInfo.processInfo.environment["FUZZ_RESET"] == "fresh"

func runAsBefore(_ input: [UInt8]) {
    precondition(structuredCommand == nil, "FUZZ_RESET=fresh is the raw target's baseline, not the structured ones'")
    let store = try! SQLiteCredentialStore.inMemory()
    fixture.restore(into: store)
    let authenticator = try! Authenticator(config: config, store: store, presence: Approve(), random: SeededRandom(seed: "vfido fuzz"), clock: fixture.clock)
    func onPool<T>(_ body: @escaping @Sendable () async -> T) -> T {
        let box = Box<T>()
        let done = DispatchSemaphore(value: 0)
        Task.detached {
            box.value = await body()
            done.signal()
        }
        done.wait()
        return box.value!
    }
    for message in messages(input) { check(onPool { await authenticator.handle(message) }.response, for: message) }
    let info = onPool { await authenticator.handle([0x04]) }.response
    precondition(info.first == 0 && info.count > 1, "getInfo fails after the input: \(info)")
    check(info, for: [0x04])
    guard let stored = try? store.allResidentCredentials() else { preconditionFailure("the stored credentials no longer load") }
    precondition((try? store.residentCredentialCount()) == stored.count, "the credential count disagrees with the credentials")
}

func run(_ input: [UInt8]) {
    if freshPerInput { return runAsBefore(input) }
    blocking {
        let traced = await trace(input, on: await fixture.reset(), store: fixture.store)
        #if !FUZZING
        let (freshAuthenticator, freshStore) = fixture.fresh()
        let fresh = await trace(input, on: freshAuthenticator, store: freshStore)
        if traced != fresh {
            let differing = [("the answers' statuses", traced.statuses == fresh.statuses), ("getInfo", traced.info == fresh.info),
                             ("the stored credentials", traced.stored == fresh.stored)].filter { !$0.1 }.map(\.0)
            preconditionFailure("the reset in place leaks state: \(differing.joined(separator: ", ")) differ from a fresh device's")
        }
        #endif
    }
}

@main
struct Main {
    static func main() { fuzzMain(run) }
}
