import CTAP
import CTAPHID
import CredentialStore
import Foundation
import Logging
import NIOCore
import NIOPosix
import UDPSimulator
import UHID
import USBIP

/// Everything `vfido serve` needs to know, with the embedded defaults.
public struct DaemonConfiguration: Sendable {
    public var stateDirectory: URL?
    /// How many virtual keys to serve; key n (n >= 2) keeps its state in `<state>/key-n`.
    public var keys: Int = 1
    public var udpHost: String = "127.0.0.1"
    /// UDP port of key 1; key n listens on port + n - 1. nil: no UDP.
    public var udpPort: Int? = 8111
    public var usbipHost: String = "127.0.0.1"
    /// nil: no USB/IP server.
    public var usbipPort: Int? = USBIP.defaultPort
    /// Open USB/IP connections beyond this are refused with a log line.
    public var usbipMaxConnections = USBIPServer.defaultMaxConnections
    /// Create each key as a HID device through this uhid node (Linux). nil: no uhid.
    public var uhidPath: String?
    public var presence: PresencePolicy = .auto
    /// How long the terminal and control policies wait for an answer.
    public var promptTimeout: Duration = .seconds(30)
    /// The control socket (`vfido power-cycle`, `vfido approve`); default `<state>/control.sock`.
    public var controlSocket: String?
    public var authenticator = AuthenticatorConfig()
    /// pid.codes' test VID:PID (1209:0001 is reserved for testing).
    public var vendorId: UInt16 = 0x1209
    public var productId: UInt16 = 0x0001
    public var manufacturer = "vfido"
    public var product = "vfido virtual FIDO2 key"

    public init(stateDirectory: URL?) { self.stateDirectory = stateDirectory }

    /// `$XDG_DATA_HOME/vfido`, else `~/.local/share/vfido`.
    public static var defaultStateDirectory: URL {
        if let xdg = ProcessInfo.processInfo.environment["XDG_DATA_HOME"], !xdg.isEmpty {
            return URL(fileURLWithPath: xdg).appendingPathComponent("vfido")
        }
        return FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".local/share/vfido")
    }

    /// Where key `n` (1-based) keeps its state.
    public func stateDirectory(forKey n: Int) -> URL? {
        guard let stateDirectory else { return nil }
        return n == 1 ? stateDirectory : stateDirectory.appendingPathComponent("key-\(n)")
    }
}

/// Opens a key's store and builds its authenticator.
public func makeAuthenticator(configuration: DaemonConfiguration, key: Int = 1, presence: UserPresence? = nil) throws -> Authenticator {
    let store: SQLiteCredentialStore
    if let directory = configuration.stateDirectory(forKey: key) {
        store = try SQLiteCredentialStore(directory: directory)
    } else {
        store = try .inMemory()
    }
    return try Authenticator(config: configuration.authenticator, store: store,
                             presence: presence ?? FixedPresence(approve: configuration.presence != .deny),
                             random: SystemRandom(), clock: SystemClock())
}

extension DaemonConfiguration {
    /// Where the control socket goes: --control, else the state directory (none in memory).
    public var controlSocketPath: String? {
        controlSocket ?? stateDirectory?.appendingPathComponent("control.sock").path
    }
}

/// One virtual key: its authenticator, HID session and transports.
public struct RunningKey: Sendable {
    public let number: Int
    public let authenticator: Authenticator
    public let session: HIDSession
    public let usbDevice: USBHIDDevice
    public let udp: UDPTransport?
    public let uhid: UHIDDevice?
    /// With `--presence control`: the prompts waiting for `vfido approve`.
    public let control: ControlPresence?
    public var busid: String { "1-\(number)" }
    public let serialNumber: String
}

/// A running daemon: virtual keys behind their transports.
public final class Daemon: Sendable {
    public let keys: [RunningKey]
    public let usbip: USBIPServer?
    public let controlServer: ControlServer?
    let group: MultiThreadedEventLoopGroup
    let stateLock: StateLock?

    private init(keys: [RunningKey], usbip: USBIPServer?, controlServer: ControlServer?, group: MultiThreadedEventLoopGroup,
                 stateLock: StateLock?) {
        self.keys = keys
        self.usbip = usbip
        self.controlServer = controlServer
        self.group = group
        self.stateLock = stateLock
    }

    public static func start(_ configuration: DaemonConfiguration, presence: UserPresence? = nil, logger: Logger) async throws -> Daemon {
        if let path = configuration.uhidPath {
            try UHIDDevice.checkAccess(path: path)  // before anything else: fail fast, with advice
        }
        let stateLock = try configuration.stateDirectory.map(StateLock.acquire)
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        var keys: [RunningKey] = []
        // One terminal for every key: its prompts name the RP, so they are told apart.
        let terminal = configuration.presence == .terminal && presence == nil
            ? try TerminalPresence.openTTY(timeout: configuration.promptTimeout) : nil
        do {
            for n in 1...max(1, configuration.keys) {
                var control: ControlPresence?
                let policy: UserPresence
                switch (presence, configuration.presence, terminal) {
                case (let given?, _, _): policy = given
                case (nil, .terminal, let terminal?): policy = terminal
                case (nil, .control, _):
                    let prompts = ControlPresence(timeout: configuration.promptTimeout)
                    control = prompts
                    policy = prompts
                case (nil, let fixed, _): policy = FixedPresence(approve: fixed == .auto)
                }
                keys.append(try await startKey(n, configuration, presence: policy, control: control, group: group, logger: logger))
            }
            var usbip: USBIPServer?
            if let port = configuration.usbipPort {
                do {
                    usbip = try await USBIPServer.start(
                        host: configuration.usbipHost, port: port,
                        exports: keys.map { USBIPExport(devnum: UInt32($0.number), device: $0.usbDevice) },
                        group: group, maxConnections: configuration.usbipMaxConnections, logger: logger)
                } catch {
                    throw DaemonError("cannot listen for USB/IP on \(configuration.usbipHost):\(port): \(error)")
                }
            }
            var controlServer: ControlServer?
            if let path = configuration.controlSocketPath {
                do {
                    controlServer = try await ControlServer.start(path: path, keys: keys, group: group, logger: logger)
                } catch {
                    // The keys work without it; only `vfido power-cycle/approve/deny` need it.
                    logger.warning("no control socket at \(path): \(error) (give --control a shorter path)")
                    if configuration.presence == .control {
                        await usbip?.close()
                        throw DaemonError("--presence control needs the control socket \(path): \(error)")
                    }
                }
            }
            return Daemon(keys: keys, usbip: usbip, controlServer: controlServer, group: group, stateLock: stateLock)
        } catch {
            for key in keys {
                key.uhid?.destroy()
                await key.udp?.close()
                await key.session.stop()
            }
            try? await group.shutdownGracefully()
            stateLock?.release()
            throw error
        }
    }

    static func startKey(_ n: Int, _ configuration: DaemonConfiguration, presence: UserPresence, control: ControlPresence?,
                         group: EventLoopGroup, logger: Logger) async throws -> RunningKey {
        var logger = logger
        if configuration.keys > 1 { logger[metadataKey: "key"] = "\(n)" }
        let tracked = TrackedPresence(presence)
        let authenticator = try makeAuthenticator(configuration: configuration, key: n, presence: tracked)
        let session = HIDSession(authenticator: authenticator, presence: tracked, logger: logger)
        await session.start()
        let serial = await authenticator.serialNumber

        // Output reports from USB keep their order through one stream into the session.
        let usbReports = ReportFeed(session: session, logger: logger)
        let device = USBHIDDevice(
            identity: USBDeviceIdentity(vendorId: configuration.vendorId, productId: configuration.productId,
                                        manufacturer: configuration.manufacturer, product: configuration.product,
                                        serialNumber: serial),
            reportDescriptor: CTAPHID.reportDescriptor, reportSize: CTAPHID.reportSize,
            onOutputReport: { usbReports.yield($0) })
        usbReports.replies = ReportSink { [device] in device.sendInputReport($0) }

        var uhid: UHIDDevice?
        if let path = configuration.uhidPath {
            let feed = ReportFeed(session: session, logger: logger)
            let created = try UHIDDevice(
                path: path,
                identity: .init(name: "\(configuration.manufacturer) \(configuration.product)", phys: "vfido/key-\(n)",
                                uniq: serial, vendor: UInt32(configuration.vendorId), product: UInt32(configuration.productId),
                                version: 0x0100),
                reportDescriptor: CTAPHID.reportDescriptor, reportSize: CTAPHID.reportSize)
            feed.replies = ReportSink { [created] in created.sendInputReport($0) }
            let uhidLogger = logger
            created.run(onOutputReport: { feed.yield($0) }, onEvent: { event in
                if case .output = event { return }
                uhidLogger.info("uhid: \(event)")
            })
            uhid = created
        }

        var udp: UDPTransport?
        if let base = configuration.udpPort {
            let port = base == 0 ? 0 : base + n - 1
            do {
                let feed = ReportFeed(session: session, buffering: 4096, logger: logger)
                udp = try await UDPTransport.start(host: configuration.udpHost, port: port, group: group, receive: { datagram in
                    switch datagram {
                    case .report(let report, let reply): feed.yield(report, reply: ReportSink(reply))
                    case .reboot: feed.yieldPowerCycle()
                    }
                }, closed: { feed.finish() })
            } catch {
                throw DaemonError("cannot listen on UDP \(configuration.udpHost):\(port): \(error)")
            }
        }
        return RunningKey(number: n, authenticator: authenticator, session: session, usbDevice: device, udp: udp, uhid: uhid,
                          control: control, serialNumber: serial)
    }

    public func stop() async {
        await controlServer?.close()
        await usbip?.close()
        for key in keys {
            key.uhid?.destroy()
            await key.udp?.close()
            await key.session.stop()
        }
        try? await group.shutdownGracefully()
        stateLock?.release()
    }
}

public struct DaemonError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
