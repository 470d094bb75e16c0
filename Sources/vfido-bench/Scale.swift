// How the key scales with stored passkeys (issue 19, item 4): one on-disk store grown to 10, 1k,
// 10k and 100k discoverable credentials spread over 1k RPs, plus one RP with a single account.
// At each size: getAssertion p50 by allowList and discoverably, getInfo p50, credential
// management's enumeration per credential, opening the store and the key again, and its size.
import CBOR
import CredentialStore
import CTAP
import CTAPWire
import Crypto
import Foundation
import VirtualKey
import WebAuthnClient

/// Median microseconds of `body` over about `seconds` (at least 50 calls).
func medianMicroseconds(_ body: () async throws -> Void) async rethrows -> Double {
    var samples: [Double] = []
    let clock = ContinuousClock()
    let start = clock.now
    while clock.now - start < .seconds(min(seconds, 1)) || samples.count < 50 {
        let t0 = clock.now
        try await body()
        samples.append(microseconds(clock.now - t0))
    }
    return percentile(samples.sorted(), 0.5)
}

func microseconds(_ d: Duration) -> Double { Double(d.components.seconds) * 1e6 + Double(d.components.attoseconds) / 1e12 }

/// One CTAP exchange in process; the reply's CBOR body, after checking the status is success.
@discardableResult
func ok(_ authenticator: Authenticator, _ command: UInt8, _ parameters: CBORValue? = nil) async throws -> CBORValue {
    let response = await authenticator.handle([command] + (parameters?.encoded ?? [])).response
    guard response.first == 0 else { throw BenchError("command 0x\(String(command, radix: 16)) answered 0x\(String(response.first ?? 0, radix: 16))") }
    return response.count > 1 ? try CBORReader.decode(Array(response.dropFirst())) : .null
}

struct BenchError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

func residentRequest(rp: String, user: Int) -> CBORValue {
    .intMap([
        (1, .bytes(clientDataHash)), (2, .textMap([("id", .text(rp))])),
        (3, .textMap([("id", .bytes(withUnsafeBytes(of: UInt32(user).bigEndian) { Array($0) })), ("name", .text("user\(user)"))])),
        (4, .array([.textMap([("alg", -7), ("type", "public-key")])])),
        (7, .textMap([("rk", true), ("uv", true)])),
    ])
}

func assertionRequest(rp: String, allow: [UInt8]?) -> CBORValue {
    .intMap([
        (1, .text(rp)), (2, .bytes(clientDataHash)),
        (3, allow.map { .array([.textMap([("id", .bytes($0)), ("type", "public-key")])]) }),
    ])
}

/// Credential management's enumeration of every RP and every credential, with a token
/// (permission cm), as a platform lists passkeys; returns how many credentials it saw.
func enumerateAll(_ authenticator: Authenticator, token: [UInt8]) async throws -> Int {
    func param(_ message: [UInt8]) -> CBORValue { .bytes(PinProtocolTwo.authenticate(token: token, message)) }
    let first = try await ok(authenticator, 0x0A, .intMap([(1, 2), (3, 2), (4, param([2]))]))
    var rps = [first]
    for _ in 1..<(first[int: 5]?.intValue ?? 1) { rps.append(try await ok(authenticator, 0x0A, .intMap([(1, 3)]))) }
    var seen = 0
    for rp in rps {
        guard let hash = rp[int: 4] else { continue }
        let params = CBORValue.intMap([(1, hash)])
        let credential = try await ok(authenticator, 0x0A, .intMap([(1, 4), (2, params), (3, 2), (4, param([4] + params.encoded))]))
        seen += 1
        for _ in 1..<(credential[int: 9]?.intValue ?? 1) {
            try await ok(authenticator, 0x0A, .intMap([(1, 5)]))
            seen += 1
        }
    }
    return seen
}

/// A pinUvAuthToken from built-in user verification (getPinUvAuthTokenUsingUvWithPermissions),
/// which the bench's presence approves.
func uvToken(_ authenticator: Authenticator, permissions: Int) async throws -> [UInt8] {
    let agreement = try await ok(authenticator, 0x06, .intMap([(1, 2), (2, 2)]))
    let session = try PinProtocolTwo(authenticatorKey: agreement[int: 1] ?? .null)
    let reply = try await ok(authenticator, 0x06, .intMap([(1, 2), (2, 6), (3, session.platformKey), (9, .int(permissions))]))
    return try session.decrypt(reply[int: 2]?.bytesValue ?? [])
}

/// The scale series: a list of one entry per size.
func scaleSeries(sizes: [Int], rps: Int) async throws -> [[String: Any]] {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("vfido-bench-scale-\(getpid())")
    defer { try? FileManager.default.removeItem(at: directory) }
    // Built-in UV, which the bench's presence approves: discoverable credentials need UV.
    var config = AuthenticatorConfig(maxResidentCredentials: 1 << 20, builtInUV: true)
    config.resetWindow = nil
    func open() throws -> Authenticator {
        try Authenticator(config: config, store: try SQLiteCredentialStore(directory: directory), presence: Approve(),
                          random: SystemRandom(), clock: SystemClock())
    }
    var authenticator = try open()
    // The RP with one account, made first so that it is the oldest row at every size.
    let soloMade = try await ok(authenticator, 0x01, residentRequest(rp: "solo.example", user: 0))
    let solo = try credentialId(fromMakeCredential: [0] + soloMade.encoded)
    var firstOfRP0: [UInt8]?
    var made = 1
    var series: [[String: Any]] = []
    for size in sizes {
        let clock = ContinuousClock()
        let t0 = clock.now
        while made < size {
            let reply = try await ok(authenticator, 0x01, residentRequest(rp: "rp\(made % rps).example", user: made))
            if firstOfRP0 == nil && made % rps == 0 { firstOfRP0 = try credentialId(fromMakeCredential: [0] + reply.encoded) }
            made += 1
        }
        let fillSeconds = microseconds(clock.now - t0) / 1e6
        let allowed = firstOfRP0 ?? solo
        let allowedRP = firstOfRP0 == nil ? "solo.example" : "rp0.example"
        let allowList = try await medianMicroseconds { try await ok(authenticator, 0x02, assertionRequest(rp: allowedRP, allow: allowed)) }
        let discoverable = try await medianMicroseconds { try await ok(authenticator, 0x02, assertionRequest(rp: "solo.example", allow: nil)) }
        let getInfo = try await medianMicroseconds { try await ok(authenticator, 0x04) }
        let token = try await uvToken(authenticator, permissions: 0x04)
        let e0 = clock.now
        let listed = try await enumerateAll(authenticator, token: token)
        let enumerateMicroseconds = microseconds(clock.now - e0)
        guard listed == made else { throw BenchError("enumeration listed \(listed) of \(made) credentials") }
        // Starting again on this store: opening it (with its integrity check) and a first getInfo.
        let s0 = clock.now
        authenticator = try open()
        try await ok(authenticator, 0x04)
        let startMilliseconds = microseconds(clock.now - s0) / 1e3
        let bytes = try FileManager.default.contentsOfDirectory(atPath: directory.path)
            .filter { $0.hasPrefix(SQLiteCredentialStore.databaseName) }
            .map { ((try? FileManager.default.attributesOfItem(atPath: directory.appendingPathComponent($0).path)[.size]) as? Int) ?? 0 }
            .reduce(0, +)
        FileHandle.standardError.write(Data("bench: \(made) passkeys: filled in \(Int(fillSeconds)) s, enumerated in \(Int(enumerateMicroseconds / 1e6)) s\n".utf8))
        series.append([
            "discoverable_credentials": made, "rps": min(made - 1, rps) + 1, "fill_seconds": fillSeconds,
            "getAssertion_allowList_p50_us": allowList, "getAssertion_discoverable_one_account_p50_us": discoverable,
            "getInfo_p50_us": getInfo, "enumerate_us_per_credential": enumerateMicroseconds / Double(made),
            "start_ms": startMilliseconds, "store_bytes": bytes,
        ])
    }
    return series
}
