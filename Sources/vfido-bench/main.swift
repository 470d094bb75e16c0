// `make bench`: throughput of the authenticator core and the UDP round trip, as JSON.
// Figures are reported in docs/performance.md, never asserted in tests.
import CBOR
import CredentialStore
import Crypto
import CTAP
import CTAPHID
import Foundation
import Logging
import VirtualKey
#if canImport(Glibc)
import Glibc
#endif

let clientDataHash = Array(SHA256.hash(data: Array("bench".utf8)))
let seconds = Double(ProcessInfo.processInfo.environment["BENCH_SECONDS"] ?? "") ?? 2.0

/// Runs `body` repeatedly for about `seconds` and returns operations per second.
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

    init(port: Int) {
        peer.sin_family = sa_family_t(AF_INET)
        peer.sin_port = in_port_t(UInt16(port).bigEndian)
        peer.sin_addr.s_addr = inet_addr("127.0.0.1")
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    func transact(_ command: CTAPHIDCommand, _ payload: [UInt8]) -> [UInt8] {
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
            guard recv(fd, &buffer, 64, 0) == 64 else { fatalError("UDP receive failed") }
            if buffer[4] == 0xBB { continue }  // keepalive
            if buffer[4] & 0x80 != 0 {
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

var results: [String: Any] = ["seconds_per_measurement": seconds]

// Raw swift-crypto sign rates, the ceiling for the figures below.
let message = Array(repeating: UInt8(7), count: 69)
let p256 = P256.Signing.PrivateKey()
let ed25519 = Curve25519.Signing.PrivateKey()
results["swift_crypto_sign_ops_per_s"] = [
    "ES256": try await rate { _ = try p256.signature(for: message) },
    "EdDSA": try await rate { _ = try ed25519.signature(for: message) },
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
    inProcess[name] = ["makeCredential_ops_per_s": makeCredentialRate, "getAssertion_ops_per_s": getAssertionRate]
}
results["in_process"] = inProcess

// UDP round trip: a real daemon on loopback, one getAssertion per round trip.
LoggingSystem.bootstrap { _ in SwiftLogNoOpLogHandler() }
var configuration = DaemonConfiguration(stateDirectory: nil)
configuration.udpPort = 0
configuration.usbipPort = nil
let daemon = try await Daemon.start(configuration, logger: Logger(label: "bench"))
let port = daemon.keys[0].udp?.localAddress?.port ?? 0
let roundTrips: [Double] = await withCheckedContinuation { continuation in
    Thread.detachNewThread {
        let client = UDPClient(port: port)
        let reply = client.transact(.`init`, [1, 2, 3, 4, 5, 6, 7, 8])
        client.channel = CTAPHIDPacket.channel(of: reply[8..<12])
        let id = try! credentialId(fromMakeCredential: client.transact(.cbor, makeCredentialRequest(alg: -7, rk: false, user: 1)))
        let request = getAssertionRequest(credentialId: id)
        var samples: [Double] = []
        let clock = ContinuousClock()
        let start = clock.now
        while clock.now - start < .seconds(seconds) || samples.count < 100 {
            let t0 = clock.now
            let response = client.transact(.cbor, request)
            precondition(response[0] == 0)
            let d = clock.now - t0
            samples.append(Double(d.components.seconds) * 1e3 + Double(d.components.attoseconds) / 1e15)
        }
        continuation.resume(returning: samples.sorted())
    }
}
await daemon.stop()
results["udp_getAssertion_round_trip_ms"] = [
    "samples": roundTrips.count, "p50": percentile(roundTrips, 0.5), "p99": percentile(roundTrips, 0.99),
]
results["build"] = {
    #if DEBUG
    "debug"
    #else
    "release"
    #endif
}()

let json = try JSONSerialization.data(withJSONObject: results, options: [.prettyPrinted, .sortedKeys])
print(String(decoding: json, as: UTF8.self))
