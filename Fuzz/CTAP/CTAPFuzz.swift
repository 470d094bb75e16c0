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
import CBOR
import CredentialStore
import CTAP
import CTAPTestSupport
import Foundation
import FuzzSupport

struct Approve: UserPresence {
    func confirm(_ request: UserPresenceRequest) async -> UserPresenceResult { .approved }
}

/// Records the secrets an authenticator saves when it is first created, so each input can start
/// from a copy instead of generating attestation keys and certificates again (milliseconds each).
final class RecordingStore: CredentialStore, @unchecked Sendable {
    let inner: SQLiteCredentialStore
    var saved: [(String, [UInt8])] = []
    init(_ inner: SQLiteCredentialStore) { self.inner = inner }
    func loadSecret(_ name: String) throws -> [UInt8]? { try inner.loadSecret(name) }
    func saveSecret(_ name: String, _ value: [UInt8]) throws { saved.append((name, value)); try inner.saveSecret(name, value) }
    func incrementSignCount() throws -> UInt32 { try inner.incrementSignCount() }
    func residentCredentials(rpIdHash: [UInt8]) throws -> [StoredCredential] { try inner.residentCredentials(rpIdHash: rpIdHash) }
    func storedCredential(id: [UInt8]) throws -> StoredCredential? { try inner.storedCredential(id: id) }
    func allResidentCredentials() throws -> [StoredCredential] { try inner.allResidentCredentials() }
    func allStoredCredentials() throws -> [StoredCredential] { try inner.allStoredCredentials() }
    func storedCredentialCount() throws -> Int { try inner.storedCredentialCount() }
    func incrementSignCount(credentialId: [UInt8]) throws -> UInt32 { try inner.incrementSignCount(credentialId: credentialId) }
    func residentCredentialCount() throws -> Int { try inner.residentCredentialCount() }
    func saveCredential(_ credential: StoredCredential) throws { try inner.saveCredential(credential) }
    func deleteCredential(id: [UInt8]) throws { try inner.deleteCredential(id: id) }
    func saveDetachedKey(id: [UInt8], privateKey: [UInt8]) throws { try inner.saveDetachedKey(id: id, privateKey: privateKey) }
    func detachedKey(id: [UInt8]) throws -> [UInt8]? { try inner.detachedKey(id: id) }
    func detachedKeyCount() throws -> Int { try inner.detachedKeyCount() }
    func wipe() throws { try inner.wipe() }
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
let templateSecrets: [(String, [UInt8])] = {
    let recorder = RecordingStore(try! SQLiteCredentialStore.inMemory())
    _ = try! Authenticator(config: config, store: recorder, presence: Approve(), random: SeededRandom(seed: "vfido fuzz"), clock: ManualClock())
    return recorder.saved
}()

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

func run(_ input: [UInt8]) {
    let store = try! SQLiteCredentialStore.inMemory()
    for (name, blob) in templateSecrets { try! store.saveSecret(name, blob) }
    let authenticator = try! Authenticator(config: config, store: store, presence: Approve(), random: SeededRandom(seed: "vfido fuzz"), clock: ManualClock())
    for message in messages(input) {
        let exchange = blocking { await authenticator.handle(message) }
        if verbose { print(String(format: "  command 0x%02X (%d bytes) -> status 0x%02X", message.first ?? 0, message.count, exchange.response[0])) }
        check(exchange.response, for: message)
    }
    let info = blocking { await authenticator.handle([0x04]) }
    precondition(info.response.first == 0 && info.response.count > 1, "getInfo fails after the input: \(info.response)")
    check(info.response, for: [0x04])
    guard let stored = try? store.allResidentCredentials() else { preconditionFailure("the stored credentials no longer load") }
    precondition((try? store.residentCredentialCount()) == stored.count, "the credential count disagrees with the credentials")
}

@main
struct Main {
    static func main() { fuzzMain(run) }
}
