// `make bench`: throughput of the authenticator core, the UDP round trip with 1 to 8 clients,
// how the key scales with stored passkeys, and the daemon's memory and start-up with 1 and
// 1000 keys, as JSON; `vfido-bench report` turns a run into docs/performance.md's figures.
// Figures are reported, never asserted in tests.
import CBOR
import CredentialStore
import Crypto
import CTAP
import CTAPHID
import CTAPTestSupport
import Foundation
import Logging
import VirtualKey
#if canImport(Glibc)
import Glibc
#endif

// `vfido-bench report <bench.json> <docs>`: writes docs/performance.md's figures and the SVG
// from a run's JSON instead of running.
if CommandLine.arguments.count == 4 && CommandLine.arguments[1] == "report" {
    try Report.write(json: CommandLine.arguments[2], docs: CommandLine.arguments[3])
    exit(0)
}

let clientDataHash = Array(SHA256.hash(data: Array("bench".utf8)))
let seconds = Double(ProcessInfo.processInfo.environment["BENCH_SECONDS"] ?? "") ?? 2.0

/// Runs `body` repeatedly for about `seconds` and returns operations per second. (A synchronous
/// body stays on its thread: an await per call would add an actor hop to what is measured.)
func rate(_ body: () throws -> Void) rethrows -> Double {
    for _ in 0..<20 { try body() }  // warm up
    let clock = ContinuousClock()
    var count = 0
    let start = clock.now
    while clock.now - start < .seconds(seconds) {
        for _ in 0..<20 { try body() }
        count += 20
    }
    let elapsed = clock.now - start
    return Double(count) / (Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
}

/// The same for a body that awaits (the authenticator is an actor).
func rate(_ body: () async throws -> Void) async rethrows -> Double {
    for _ in 0..<20 { try await body() }  // warm up
    let clock = ContinuousClock()
    var count = 0
    let start = clock.now
    while clock.now - start < .seconds(seconds) {
        for _ in 0..<20 { try await body() }
        count += 20
    }
    let elapsed = clock.now - start
    return Double(count) / (Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
}

struct Approve: UserPresence {
    func confirm(_ request: UserPresenceRequest) async -> UserPresenceResult { .approved }
}

func makeCredentialRequest(alg: Int, rk: Bool, user: Int) -> [UInt8] {
    [0x01] + CBORValue.intMap([
        (1, .bytes(clientDataHash)), (2, .textMap([("id", "bench.example")])),
        (3, .textMap([("id", .bytes(withUnsafeBytes(of: user) { Array($0) })), ("name", "bench")])),
        (4, .array([.textMap([("alg", .int(alg)), ("type", "public-key")])])),
        (7, rk ? .textMap([("rk", true)]) : nil),
    ]).encoded
}

func getAssertionRequest(credentialId: [UInt8]) -> [UInt8] {
    [0x02] + CBORValue.intMap([
        (1, "bench.example"), (2, .bytes(clientDataHash)),
        (3, .array([.textMap([("id", .bytes(credentialId)), ("type", "public-key")])])),
    ]).encoded
}

func credentialId(fromMakeCredential response: [UInt8]) throws -> [UInt8] {
    let authData = try CBORReader.decode(Array(response.dropFirst()))[int: 2]!.bytesValue!
    let length = Int(authData[53]) << 8 | Int(authData[54])
    return Array(authData[55..<(55 + length)])
}

/// A blocking CTAPHID-over-UDP client, run off the daemon's threads.
final class UDPClient: @unchecked Sendable {
    let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
    var peer = sockaddr_in()
    var channel: UInt32 = 0xFFFF_FFFF
    /// The command byte of the last reply (0xBF: a CTAPHID error, its code in the payload).
    var lastReplyCommand: UInt8 = 0

    init(port: Int) {
        peer.sin_family = sa_family_t(AF_INET)
        peer.sin_port = in_port_t(UInt16(port).bigEndian)
        peer.sin_addr.s_addr = inet_addr("127.0.0.1")
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    deinit { close(fd) }

    func transact(_ command: CTAPHIDCommand, _ payload: [UInt8]) -> [UInt8] {
        guard let reply = tryTransact(command, payload) else { fatalError("UDP receive failed") }
        return reply
    }

    /// `transact`, asking again (after 0.1 ms) while the key answers CTAPHID_ERROR(CHANNEL_BUSY):
    /// a key serves one transaction at a time, and hosts retry. The reply and how many retries.
    func transactWhenFree(_ command: CTAPHIDCommand, _ payload: [UInt8]) -> (reply: [UInt8], busy: Int) {
        var busy = 0
        while true {
            let reply = transact(command, payload)
            guard lastReplyCommand == 0xBF && reply.first == 0x06 else { return (reply, busy) }
            busy += 1
            usleep(100)
        }
    }

    /// The reply's payload, or nil if the key did not answer within the socket's timeout.
    func tryTransact(_ command: CTAPHIDCommand, _ payload: [UInt8]) -> [UInt8]? {
        for report in CTAPHIDPacket.frame(channel: channel, command: command, payload: payload) {
            _ = report.withUnsafeBytes { bytes in
                withUnsafePointer(to: &peer) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                        sendto(fd, bytes.baseAddress, bytes.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                    }
                }
            }
        }
        var buffer = [UInt8](repeating: 0, count: 64)
        var message: [UInt8] = []
        var expected = -1
        while expected < 0 || message.count < expected {
            guard recv(fd, &buffer, 64, 0) == 64 else { return nil }
            if buffer[4] == 0xBB { continue }  // keepalive
            if buffer[4] & 0x80 != 0 {
                lastReplyCommand = buffer[4]
                expected = Int(buffer[5]) << 8 | Int(buffer[6])
                message = Array(buffer[7...])
            } else {
                message += buffer[5...]
            }
        }
        return Array(message.prefix(expected))
    }
}

func percentile(_ sorted: [Double], _ p: Double) -> Double {
    sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))]
}

var results: [String: Any] = ["seconds_per_measurement": seconds, "machine": machineDescription()]

/// `openssl speed`'s sign rates on one core (the machine's signing limit, issue 19), from its
/// table: "256 bits ecdsa (nistp256) <sign s> <verify s> <sign/s> <verify/s>"; nil without openssl.
func opensslSignRates() -> [String: Double]? {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["openssl", "speed", "-seconds", String(max(1, Int(seconds))), "ecdsap256", "ed25519"]
    let output = Pipe()
    process.standardOutput = output
    process.standardError = FileHandle.nullDevice
    guard (try? process.run()) != nil else { return nil }
    let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    guard process.terminationStatus == 0 else { return nil }
    var rates: [String: Double] = [:]
    for line in text.split(separator: "\n") {
        let name = line.contains("ecdsa (nistp256)") ? "ES256" : line.contains("EdDSA (Ed25519)") ? "EdDSA" : nil
        let numbers = line.split(separator: " ").compactMap { Double($0) }
        if let name, numbers.count >= 3 { rates[name] = numbers[numbers.count - 2] }  // bits, sign/s, verify/s
    }
    return rates.count == 2 ? rates : nil
}

/// Microseconds per call of `body`, from `rate`.
func microseconds(_ body: () throws -> Void) rethrows -> Double { 1e6 / (try rate(body)) }

// The machine's limit, measured in the same run as everything below.
let openssl = opensslSignRates()
if openssl == nil { FileHandle.standardError.write(Data("bench: openssl speed did not run (openssl missing?): no ratios\n".utf8)) }
results["openssl_speed_sign_ops_per_s"] = openssl ?? [:]

// Raw swift-crypto sign rates, the ceiling for the figures below.
let message = Array(repeating: UInt8(7), count: 69)
let p256 = P256.Signing.PrivateKey()
let ed25519 = Curve25519.Signing.PrivateKey()
results["swift_crypto_sign_ops_per_s"] = [
    "ES256": try rate { _ = try p256.signature(for: message) },
    "EdDSA": try rate { _ = try ed25519.signature(for: message) },
]

// In-process: the authenticator core on an in-memory SQLite store.
var inProcess: [String: Any] = [:]
for (name, alg) in [("ES256", -7), ("EdDSA", -8)] {
    let authenticator = try Authenticator(store: try SQLiteCredentialStore.inMemory(), presence: Approve(), random: SystemRandom(), clock: SystemClock())
    var user = 0
    let makeCredentialRate = try await rate {
        user += 1
        let response = await authenticator.handle(makeCredentialRequest(alg: alg, rk: false, user: user)).response
        precondition(response[0] == 0)
    }
    let id = try credentialId(fromMakeCredential: await authenticator.handle(makeCredentialRequest(alg: alg, rk: false, user: 0)).response)
    let assertion = getAssertionRequest(credentialId: id)
    let getAssertionRate = await rate {
        let response = await authenticator.handle(assertion).response
        precondition(response[0] == 0)
    }
    // The same with the caller and the authenticator actor on one thread (a task executor the
    // caller drains): what the core costs without the hops between threads.
    let oneThread = CallerExecutor()
    let oneThreadRate = rate {
        let response = oneThread.run { await authenticator.handle(assertion).response }
        precondition(response[0] == 0)
    }
    inProcess[name] = ["makeCredential_ops_per_s": makeCredentialRate, "getAssertion_ops_per_s": getAssertionRate,
                       "getAssertion_one_thread_ops_per_s": oneThreadRate]
}
results["in_process"] = inProcess
let getAssertionRates = inProcess.mapValues { ($0 as? [String: Double])?["getAssertion_ops_per_s"] ?? 0 }
let oneThreadRates = inProcess.mapValues { ($0 as? [String: Double])?["getAssertion_one_thread_ops_per_s"] ?? 0 }
if let openssl {
    results["getAssertion_es256_vs_openssl_ratio"] = getAssertionRates["ES256"]! / openssl["ES256"]!
    results["getAssertion_eddsa_vs_openssl_ratio"] = getAssertionRates["EdDSA"]! / openssl["EdDSA"]!
    results["getAssertion_one_thread_es256_vs_openssl_ratio"] = oneThreadRates["ES256"]! / openssl["ES256"]!
    results["getAssertion_one_thread_eddsa_vs_openssl_ratio"] = oneThreadRates["EdDSA"]! / openssl["EdDSA"]!
}

// The durable store: getAssertion (ES256, non-resident) when every counter is a WAL commit with
// synchronous=FULL, as a daemon with a state directory has it.
let stateDirectory = FileManager.default.temporaryDirectory.appendingPathComponent("vfido-bench-\(getpid())")
defer { try? FileManager.default.removeItem(at: stateDirectory) }
let diskStore = try SQLiteCredentialStore(directory: stateDirectory)
let onDisk = try Authenticator(store: diskStore, presence: Approve(), random: SystemRandom(), clock: SystemClock())
let diskAssertion = getAssertionRequest(credentialId: try credentialId(fromMakeCredential: await onDisk.handle(makeCredentialRequest(alg: -7, rk: false, user: 0)).response))
let diskRate = await rate {
    let response = await onDisk.handle(diskAssertion).response
    precondition(response[0] == 0)
}
results["on_disk_getAssertion_es256_ops_per_s"] = diskRate
if let openssl { results["on_disk_getAssertion_es256_vs_openssl_ratio"] = diskRate / openssl["ES256"]! }

// Scale with stored passkeys (BENCH_SCALE: the sizes, comma-separated).
let scaleSizes = (ProcessInfo.processInfo.environment["BENCH_SCALE"] ?? "10,1000,10000,100000").split(separator: ",").compactMap { Int($0) }
let scale = try await scaleSeries(sizes: scaleSizes, rps: 1000)
results["scale"] = scale
if let smallest = scale.first, let largest = scale.last {
    for name in ["getAssertion_allowList_p50_us", "getAssertion_discoverable_one_account_p50_us", "getInfo_p50_us"] {
        results["scale_\(name)_largest_vs_smallest_ratio"] = (largest[name] as! Double) / (smallest[name] as! Double)
    }
}

// Where an ES256 getAssertion's time goes, piece by piece (microseconds per call).
let sealer = CredentialIDSealer(masterKey: Array(SHA256.hash(data: Array("bench".utf8))))
let rpIdHash = Array(SHA256.hash(data: Array("bench.example".utf8)))
let sealedId = try sealer.seal(CredentialSource(key: p256.rawRepresentation.withUnsafeBytes { Array($0) }, algorithm: .es256,
                                                isResident: false, credProtect: 1), rpIdHash: rpIdHash, nonce: Array(repeating: 1, count: 12))
let memoryStore = try SQLiteCredentialStore.inMemory()
let request = getAssertionRequest(credentialId: sealedId)
results["getAssertion_es256_parts_us"] = [
    "whole_in_memory": 1e6 / getAssertionRates["ES256"]!,
    "whole_in_memory_one_thread": 1e6 / oneThreadRates["ES256"]!,
    "open_sealed_credential_id": try microseconds { precondition(sealer.open(sealedId, rpIdHash: rpIdHash) != nil) },
    "import_p256_key": try microseconds { _ = try P256.Signing.PrivateKey(rawRepresentation: p256.rawRepresentation) },
    "sign_p256": try microseconds { _ = try p256.signature(for: message) },
    "counter_in_memory": try microseconds { _ = try memoryStore.incrementSignCount() },
    "counter_on_disk": try microseconds { _ = try diskStore.incrementSignCount() },
    "parse_request_cbor": try microseconds { _ = try CBORReader.decode(Array(request.dropFirst())) },
    "sha256_client_data": try microseconds { _ = SHA256.hash(data: request) },
]

// UDP round trip: a real daemon on loopback, one getAssertion per round trip.
LoggingSystem.bootstrap { _ in SwiftLogNoOpLogHandler() }
var configuration = DaemonConfiguration(stateDirectory: nil)
configuration.udpPort = 0
configuration.usbipPort = nil
let daemon = try await Daemon.start(configuration, logger: Logger(label: "bench"))
let port = daemon.keys[0].udp?.localAddress?.port ?? 0
/// `clients` threads, each with its own channel and credential, doing getAssertion round trips
/// for `seconds`: every round trip's milliseconds, and the elapsed seconds.
func concurrentRoundTrips(clients: Int) async -> (samples: [Double], seconds: Double, busy: Int) {
    let clock = ContinuousClock()
    let start = clock.now
    let perClient: [([Double], Int)] = await withTaskGroup(of: ([Double], Int).self) { group in
        for c in 0..<clients {
            group.addTask {
                await withCheckedContinuation { continuation in
                    Thread.detachNewThread {
                        let client = UDPClient(port: port)
                        let reply = client.transact(.`init`, [1, 2, 3, 4, 5, 6, 7, UInt8(c)])
                        client.channel = CTAPHIDPacket.channel(of: reply[8..<12])
                        let made = client.transactWhenFree(.cbor, makeCredentialRequest(alg: -7, rk: false, user: c + 1)).reply
                        let id = try! credentialId(fromMakeCredential: made)
                        let request = getAssertionRequest(credentialId: id)
                        var samples: [Double] = []
                        var busy = 0
                        let begin = clock.now
                        while clock.now - begin < .seconds(seconds) || samples.count < 100 {
                            let t0 = clock.now
                            // The sample is the whole wait, retries while another channel is served included.
                            let (reply, retries) = client.transactWhenFree(.cbor, request)
                            precondition(reply.first == 0, "getAssertion answered \(reply.first ?? 0xFF)")
                            busy += retries
                            samples.append(microseconds(clock.now - t0) / 1e3)
                        }
                        continuation.resume(returning: (samples, busy))
                    }
                }
            }
        }
        return await group.reduce(into: []) { $0.append($1) }
    }
    return (perClient.map(\.0).joined().sorted(), microseconds(clock.now - start) / 1e6, perClient.map(\.1).reduce(0, +))
}

var concurrent: [[String: Any]] = []
for clients in [1, 2, 4, 8] {
    let (samples, elapsed, busy) = await concurrentRoundTrips(clients: clients)
    concurrent.append(["clients": clients, "ops_per_s": Double(samples.count) / elapsed, "samples": samples.count, "channel_busy_retries": busy,
                       "p50_ms": percentile(samples, 0.5), "p99_ms": percentile(samples, 0.99)])
    if clients == 1 {
        results["udp_getAssertion_round_trip_ms"] = ["samples": samples.count, "p50": percentile(samples, 0.5), "p99": percentile(samples, 0.99)]
    }
}
results["udp_concurrent_clients"] = concurrent
await daemon.stop()

// The daemon as a user starts it: its memory, one key and a thousand.
results["daemon"] = try daemonFigures()

results["build"] = {
    #if DEBUG
    "debug"
    #else
    "release"
    #endif
}()

let json = try JSONSerialization.data(withJSONObject: results, options: [.prettyPrinted, .sortedKeys])
print(String(decoding: json, as: UTF8.self))
