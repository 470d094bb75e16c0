import CTAP
import CredentialStore
import Foundation
import Logging
import NIOCore
import NIOPosix

/// Everything `vfido serve` needs to know, with the embedded defaults.
public struct DaemonConfiguration: Sendable {
    public var stateDirectory: URL?
    public var udpHost: String = "127.0.0.1"
    public var udpPort: Int = 8111
    public var presence: PresencePolicy = .auto
    public var authenticator = AuthenticatorConfig()

    public init(stateDirectory: URL?) { self.stateDirectory = stateDirectory }

    /// `$XDG_DATA_HOME/vfido`, else `~/.local/share/vfido`.
    public static var defaultStateDirectory: URL {
        if let xdg = ProcessInfo.processInfo.environment["XDG_DATA_HOME"], !xdg.isEmpty {
            return URL(fileURLWithPath: xdg).appendingPathComponent("vfido")
        }
        return FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".local/share/vfido")
    }
}

/// Opens a key's store and builds its authenticator.
public func makeAuthenticator(configuration: DaemonConfiguration, presence: UserPresence? = nil) throws -> Authenticator {
    let store: SQLiteCredentialStore
    if let directory = configuration.stateDirectory {
        store = try SQLiteCredentialStore(directory: directory)
    } else {
        store = try .inMemory()
    }
    return try Authenticator(config: configuration.authenticator, store: store, presence: presence ?? FixedPresence(configuration.presence))
}

/// A running daemon: one virtual key behind its transports.
public final class Daemon: Sendable {
    public let authenticator: Authenticator
    public let session: HIDSession
    public let udp: UDPTransport
    let group: MultiThreadedEventLoopGroup

    private init(authenticator: Authenticator, session: HIDSession, udp: UDPTransport, group: MultiThreadedEventLoopGroup) {
        self.authenticator = authenticator
        self.session = session
        self.udp = udp
        self.group = group
    }

    public static func start(_ configuration: DaemonConfiguration, presence: UserPresence? = nil, logger: Logger) async throws -> Daemon {
        let tracked = TrackedPresence(presence ?? FixedPresence(configuration.presence))
        let authenticator = try makeAuthenticator(configuration: configuration, presence: tracked)
        let session = HIDSession(authenticator: authenticator, presence: tracked, logger: logger)
        await session.start()
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        do {
            let udp = try await UDPTransport.start(host: configuration.udpHost, port: configuration.udpPort,
                                                   session: session, group: group, logger: logger)
            return Daemon(authenticator: authenticator, session: session, udp: udp, group: group)
        } catch {
            try? await group.shutdownGracefully()
            throw DaemonError("cannot listen on UDP \(configuration.udpHost):\(configuration.udpPort): \(error)")
        }
    }

    public func stop() async {
        await udp.close()
        await session.stop()
        try? await group.shutdownGracefully()
    }
}

public struct DaemonError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
