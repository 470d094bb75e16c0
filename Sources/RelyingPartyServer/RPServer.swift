import HTTPAPI
import Hummingbird
import Logging
import NIOCore

/// Builds and runs the RP's Hummingbird application (for `vfido rp serve`, inside
/// `vfido serve`, and tests, which drive the router directly).
public enum RPServer {
    public static func router(service: RPService) -> Router<BasicRequestContext> {
        let router = Router(context: BasicRequestContext.self)
        router.add(middleware: NotFoundAsJSON())
        router.add(middleware: BodyLimit(maxBody: RPRoutes.maxBody))
        RPRoutes(service: service).add(to: router)
        return router
    }

    /// A started RP: where it listens, and how to stop it.
    public struct Running: Sendable {
        public let service: RPService
        public let port: Int
        let task: Task<Void, Error>
        public func stop() async {
            task.cancel()
            _ = await task.result
        }
    }

    /// Starts listening and returns once the socket is bound (port 0 picks a free port).
    public static func start(_ configuration: RPConfiguration, logger: Logger) async throws -> Running {
        let service = try await RPService(configuration: configuration)
        let (bound, continuation) = AsyncStream<Int>.makeStream()
        // A connection that goes quiet (a stalled header or body, an idle keep-alive) is closed.
        let app = Application(router: router(service: service),
                              server: .http1(configuration: .init(idleTimeout: .seconds(30))),
                              configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "vfido-rp"),
                              onServerRunning: { channel in
                                  continuation.yield(channel.localAddress?.port ?? configuration.port)
                                  continuation.finish()
                              },
                              logger: logger)
        let task = Task {
            defer { continuation.finish() }
            try await app.run()
        }
        for await port in bound {
            return Running(service: service, port: port, task: task)
        }
        // The server never came up: surface its error.
        try await task.value
        throw APIError(.internalServerError, "rp_not_started", "the relying party stopped before listening on \(configuration.host):\(configuration.port)")
    }
}
