import Bytes
import Foundation
import HTTPAPI
import Hummingbird
import Logging
import NIOCore
import VirtualKey

/// The control API's listeners: loopback TCP (default 127.0.0.1:8112) and the 0600 Unix socket,
/// one router behind both, every request authenticated by the bearer token the daemon writes
/// (0600) next to the socket.
public enum ControlServer {
    public static let defaultPort = 8112
    public static let tokenFileName = "control.token"
    public static let socketFileName = "control.sock"

    public static func router(daemon: Daemon, token: String) -> Router<BasicRequestContext> {
        let router = Router(context: BasicRequestContext.self)
        router.add(middleware: NotFoundAsJSON())
        router.add(middleware: BearerToken(token: token))
        router.add(middleware: BodyLimit(maxBody: ControlRoutes.maxBody))
        ControlRoutes(daemon: daemon).add(to: router)
        return router
    }

    /// Where the API listens and with what token.
    public struct Running: Sendable {
        public let port: Int?
        public let socketPath: String?
        public let tokenPath: String
        let tasks: [Task<Void, Error>]
        let cleanup: @Sendable () -> Void
        public func stop() async {
            for task in tasks { task.cancel() }
            for task in tasks { _ = await task.result }
            cleanup()
        }
    }

    /// Starts both listeners (either may be nil) and returns once they are bound. `directory`
    /// holds the token (and, by default, the socket).
    public static func start(daemon: Daemon, host: String, port: Int?, socketPath: String?, directory: URL,
                             removeDirectoryAtStop: Bool, logger: Logger) async throws -> Running {
        let tokenURL = directory.appendingPathComponent(tokenFileName)
        let token = try loadOrCreateToken(at: tokenURL)
        let router = router(daemon: daemon, token: token)
        var tasks: [Task<Void, Error>] = []
        var boundPort: Int?
        do {
            if let port {
                let (task, bound) = try await serve(router, address: .hostname(host, port: port), logger: logger)
                tasks.append(task)
                boundPort = bound
            }
            if let socketPath {
                unlink(socketPath)
                let (task, _) = try await serve(router, address: .unixDomainSocket(path: socketPath), logger: logger)
                // The token is the gate; the mode keeps other users from even knocking.
                chmod(socketPath, 0o600)
                tasks.append(task)
            }
        } catch {
            for task in tasks { task.cancel() }
            throw error
        }
        return Running(port: boundPort, socketPath: socketPath, tokenPath: tokenURL.path, tasks: tasks) {
            if let socketPath { unlink(socketPath) }
            if removeDirectoryAtStop { try? FileManager.default.removeItem(at: directory) }
        }
    }

    static func serve(_ router: Router<BasicRequestContext>, address: BindAddress, logger: Logger) async throws -> (Task<Void, Error>, Int?) {
        let (bound, continuation) = AsyncStream<Int?>.makeStream()
        let app = Application(router: router, server: .http1(configuration: .init(idleTimeout: .seconds(300))),
                              configuration: .init(address: address, serverName: "vfido-control"),
                              onServerRunning: { channel in
                                  continuation.yield(channel.localAddress?.port)
                                  continuation.finish()
                              }, logger: logger)
        let task = Task {
            defer { continuation.finish() }
            try await app.run()
        }
        for await port in bound { return (task, port) }
        try await task.value
        throw APIError(.internalServerError, "control_not_started", "the control API stopped before listening on \(address)")
    }

    /// 32 random bytes, base64url, in a 0600 file: kept across restarts so scripts keep working.
    static func loadOrCreateToken(at url: URL) throws -> String {
        if let data = FileManager.default.contents(atPath: url.path),
           let text = String(data: data, encoding: .utf8)?.trimmingCharacters(in: .whitespacesAndNewlines), text.count >= 32 {
            chmod(url.path, 0o600)
            return text
        }
        let token = Base64URL.encode(SystemRandom().bytes(32))
        let fd = open(url.path, O_CREAT | O_WRONLY | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw APIError(.internalServerError, "token_unwritable", "cannot write \(url.path): errno \(errno)") }
        fchmod(fd, 0o600)
        let line = Array((token + "\n").utf8)
        let written = write(fd, line, line.count)
        close(fd)
        guard written == line.count else { throw APIError(.internalServerError, "token_unwritable", "cannot write \(url.path)") }
        return token
    }

    /// A private directory for an ephemeral daemon's token and socket, removed at stop.
    public static func makeRuntimeDirectory() throws -> URL {
        let base = ProcessInfo.processInfo.environment["XDG_RUNTIME_DIR"].flatMap { $0.isEmpty ? nil : $0 } ?? NSTemporaryDirectory()
        var template = Array((URL(fileURLWithPath: base).appendingPathComponent("vfido-XXXXXX").path).utf8CString)
        guard let made = mkdtemp(&template) else {
            throw APIError(.internalServerError, "no_runtime_directory", "cannot create a directory in \(base): errno \(errno)")
        }
        return URL(fileURLWithPath: String(cString: made))
    }
}

/// `Authorization: Bearer <token>` on every request (or `?access_token=`, RFC 6750 §2.3, for
/// a browser's page and EventSource, which cannot set headers). The Pico controller's paths
/// carry the token themselves.
struct BearerToken<Context: RequestContext>: RouterMiddleware {
    let token: String

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let path = request.uri.path
        var presented: Substring?
        if path.hasPrefix(PicoController.base) {
            presented = path.dropFirst(PicoController.base.count).split(separator: "/").first
        } else if let header = request.headers[.authorization] {
            guard header.hasPrefix("Bearer ") else {
                throw APIError(.unauthorized, "unauthorized", "the Authorization header must be `Bearer <token>`")
            }
            presented = Substring(header.dropFirst("Bearer ".count))
        } else {
            presented = request.uri.queryParameters["access_token"]
        }
        guard let presented else {
            throw APIError(.unauthorized, "unauthorized", "this API needs the token in control.token: `Authorization: Bearer <token>`")
        }
        guard constantTimeEqual(Array(presented.utf8), Array(token.utf8)) else {
            throw APIError(.unauthorized, "unauthorized", "wrong token")
        }
        return try await next(request, context)
    }

    func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        return zip(a, b).reduce(0) { $0 | ($1.0 ^ $1.1) } == 0
    }
}
