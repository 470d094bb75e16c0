import CTAP
import Foundation
import Logging
import RelyingPartyServer
import VirtualKey
import WebAuthnClient

/// What `vfido e2e` runs against.
public struct EndToEndOptions: Sendable {
    /// The relying party's base URL; nil: start one in this process.
    public var rpURL: URL?
    /// The page origin the client claims; nil: the RP URL's origin.
    public var origin: String?
    /// A key over UDP (host, port); nil: a fresh in-memory key in this process.
    public var udpKey: (host: String, port: Int)?
    public var pin: String?
    public var clientID = "vfido-demo"
    public var clientSecret = "vfido-demo-secret"
    public var timeoutWait: Duration = .seconds(15)
    public init() {}
}

public struct FlowResult: Sendable, Codable {
    public enum Outcome: String, Sendable, Codable { case passed, failed, skipped }
    public var flow: String
    public var outcome: Outcome
    public var seconds: Double
    public var detail: String
}

public struct Report: Sendable, Codable {
    public var rp: String
    public var origin: String
    public var key: String
    public var results: [FlowResult]
    public var seconds: Double
    /// Every ceremony's credential (written with `--ceremonies FILE`, not in the report itself).
    public var ceremonies: [Ceremony] = []

    enum CodingKeys: String, CodingKey { case rp, origin, key, results, seconds }

    public var failed: [String] { results.filter { $0.outcome == .failed }.map(\.flow) }

    /// The table `vfido e2e` prints.
    public var table: String {
        let width = max(4, results.map(\.flow.count).max() ?? 0)
        var lines = ["relying party \(rp) (origin \(origin)), key: \(key)", "",
                     "flow".padding(toLength: width, withPad: " ", startingAt: 0) + "  result   time     detail"]
        for result in results {
            let mark = result.outcome == .passed ? "PASS" : result.outcome == .failed ? "FAIL" : "SKIP"
            lines.append(result.flow.padding(toLength: width, withPad: " ", startingAt: 0) + "  " + mark + "   "
                         + String(format: "%6.2fs", result.seconds) + "  " + result.detail)
        }
        let passed = results.filter { $0.outcome == .passed }.count
        let skipped = results.filter { $0.outcome == .skipped }.map(\.flow)
        lines.append("")
        lines.append("\(passed)/\(results.count) flows passed in \(String(format: "%.2f", seconds)) s"
                     + (skipped.isEmpty ? "" : "; SKIPPED: " + skipped.joined(separator: ", "))
                     + (failed.isEmpty ? "" : "; FAILED: " + failed.joined(separator: ", ")))
        return lines.joined(separator: "\n")
    }
}

/// Runs every flow and reports each one (a failed flow does not stop the others).
public func runEndToEnd(_ options: EndToEndOptions, logger: Logger) async throws -> Report {
    var embedded: RPServer.Running?
    var key: InProcessKey?
    let started = ContinuousClock.now

    // The relying party: the given one, or ours on a free loopback port (origin http://localhost:PORT).
    let base: URL
    if let url = options.rpURL {
        base = url
    } else {
        var configuration: RPConfiguration?
        var lastError: Error?
        for _ in 0..<5 {
            let port = try freeTCPPort()
            var candidate = RPConfiguration(port: port)
            candidate.crossDeviceTimeout = 3
            do {
                embedded = try await RPServer.start(candidate, logger: logger)
                configuration = candidate
                break
            } catch { lastError = error }
        }
        guard let configuration else { throw lastError ?? FlowFailure("cannot start the relying party") }
        base = URL(string: "http://localhost:\(configuration.port)/")!
    }
    let origin = options.origin ?? originOf(base)

    // The key: over UDP, or a fresh one in this process behind its CTAPHID session.
    let transport: HIDReportTransport
    let keyName: String
    if let udp = options.udpKey {
        transport = try await UDPHIDTransport.connect(host: udp.host, port: udp.port)
        keyName = "udp \(udp.host):\(udp.port)"
    } else {
        let started = try await InProcessKey.start(logger: logger)
        key = started
        transport = started.transport
        keyName = "in-process (fresh, in memory)"
    }

    let device = CTAP2Device(transport: transport)
    do {
        _ = try await device.getInfo()
    } catch {
        await transport.close()
        await key?.daemon.stop()
        await embedded?.stop()
        throw FlowFailure("the key (\(keyName)) does not answer getInfo: \(error)")
    }
    let client = WebAuthnClient(device: device, origin: origin, pin: options.pin)
    let runner = FlowRunner(http: HTTPClient(base: base), client: client, clientID: options.clientID,
                            clientSecret: options.clientSecret, timeoutWait: options.timeoutWait)
    var results: [FlowResult] = []
    for flow in runner.flows {
        let begin = ContinuousClock.now
        var result = FlowResult(flow: flow.name, outcome: .passed, seconds: 0, detail: "")
        do {
            result.detail = try await flow.run()
        } catch let skipped as FlowSkipped {
            result.outcome = .skipped
            result.detail = skipped.reason
        } catch {
            result.outcome = .failed
            result.detail = "\(error)"
        }
        result.seconds = seconds(ContinuousClock.now - begin)
        results.append(result)
    }
    await transport.close()
    await key?.daemon.stop()
    await embedded?.stop()
    return Report(rp: base.absoluteString, origin: origin, key: keyName, results: results,
                  seconds: seconds(ContinuousClock.now - started),
                  ceremonies: runner.ceremonies)
}

/// A fresh in-memory vfido key (no network transports) and a client transport wired to its
/// CTAPHID session: the key of the demo and of the client's unit tests.
public struct InProcessKey: Sendable {
    public let daemon: Daemon
    public let transport: InProcessTransport

    public static func start(presence: UserPresence? = nil, logger: Logger) async throws -> InProcessKey {
        var configuration = DaemonConfiguration(stateDirectory: nil)
        configuration.udpPort = nil
        configuration.usbipPort = nil
        let daemon = try await Daemon.start(configuration, presence: presence, logger: logger)
        let session = daemon.keys[0].session
        // The session's replies go to the transport that sends to it: tied after both exist.
        let replies = Replies()
        let transport = InProcessTransport { report in await session.receive(report, reply: replies.sink) }
        replies.transport = transport
        return InProcessKey(daemon: daemon, transport: transport)
    }

    final class Replies: @unchecked Sendable {
        weak var transport: InProcessTransport?
        var sink: ReportSink { ReportSink { [weak self] in self?.transport?.deliver($0) } }
    }
}

func seconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
}

func originOf(_ url: URL) -> String {
    var components = URLComponents()
    components.scheme = url.scheme
    components.host = url.host
    components.port = url.port
    return components.string ?? url.absoluteString
}

/// A free loopback TCP port (bound and released; the RP binds it right after).
func freeTCPPort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
    }
    guard bound else { throw FlowFailure("no free TCP port on 127.0.0.1") }
    return Int(UInt16(bigEndian: address.sin_port))
}
