import CTAP
import Foundation
import Logging
import NIOCore
import NIOPosix

/// The control socket: a Unix socket (0600, in the state directory) that `vfido power-cycle`,
/// `vfido approve`, `vfido deny` and `vfido prompts` talk to. One request line per connection,
/// one reply line: "ok ..." or "error ...".
///
///     power-cycle KEY           forget per-boot state, as if re-plugged
///     approve KEY WAIT_MS       answer the oldest waiting prompt (--presence control)
///     deny KEY WAIT_MS
///     prompts KEY               list the waiting prompts
public final class ControlServer: Sendable {
    static let maxLine = 256

    let path: String
    let task: Task<Void, Never>

    private init(path: String, task: Task<Void, Never>) {
        self.path = path
        self.task = task
    }

    public static func start(path: String, keys: [RunningKey], group: EventLoopGroup, logger: Logger) async throws -> ControlServer {
        let server = try await ServerBootstrap(group: group)
            .bind(unixDomainSocketPath: path, cleanupExistingSocketFile: true) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                }
            }
        // The socket has no authentication of its own: only its owner may connect.
        chmod(path, 0o600)
        let task = Task<Void, Never> {
            _ = try? await server.executeThenClose { connections in
                try await withThrowingDiscardingTaskGroup { group in
                    for try await connection in connections {
                        group.addTask { await serve(connection, keys: keys, logger: logger) }
                    }
                }
            }
        }
        return ControlServer(path: path, task: task)
    }

    public func close() async {
        task.cancel()
        _ = await task.value
        unlink(path)
    }

    static func serve(_ connection: NIOAsyncChannel<ByteBuffer, ByteBuffer>, keys: [RunningKey], logger: Logger) async {
        try? await connection.executeThenClose { inbound, outbound in
            var received = ""
            for try await chunk in inbound {
                received += String(buffer: chunk)
                if let newline = received.firstIndex(of: "\n") {
                    let reply = await respond(to: String(received[..<newline]), keys: keys, logger: logger)
                    try await outbound.write(ByteBuffer(string: reply + "\n"))
                    return
                }
                if received.utf8.count > maxLine {
                    try await outbound.write(ByteBuffer(string: "error request line too long\n"))
                    return
                }
            }
        }
    }

    static func respond(to line: String, keys: [RunningKey], logger: Logger) async -> String {
        let words = line.split(separator: " ").map(String.init)
        guard let verb = words.first else { return "error empty request" }
        let number = words.count > 1 ? Int(words[1]) ?? 0 : 1
        guard let key = keys.first(where: { $0.number == number }) else { return "error there is no key \(number)" }
        switch verb {
        case "power-cycle":
            // The USB device stays attached: the host keeps its channel, as after the UDP reboot.
            await key.session.powerCycle(keepingChannels: true)
            logger.info("key \(number) power-cycled (control socket)")
            return "ok key \(number) power-cycled"
        case "approve", "deny":
            guard let control = key.control else { return "error key \(number) does not use --presence control" }
            let waitMs = words.count > 2 ? Int(words[2]) ?? 0 : 0
            guard let answered = await control.answer(verb == "approve", wait: .milliseconds(max(0, waitMs))) else {
                return "error no prompt is waiting on key \(number)"
            }
            logger.info("key \(number): \(verb == "approve" ? "approved" : "denied") \(answered.summary) (control socket)")
            return "ok \(verb == "approve" ? "approved" : "denied"): \(answered.summary)"
        case "prompts":
            guard let control = key.control else { return "error key \(number) does not use --presence control" }
            let pending = await control.pending
            return "ok \(pending.count) waiting" + pending.map { "; " + $0.summary }.joined()
        default:
            return "error unknown request \(verb)"
        }
    }
}
