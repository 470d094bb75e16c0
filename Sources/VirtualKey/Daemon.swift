import CTAP
import CTAPHID
import CredentialStore
import Faults
import Foundation
import KeyFile
import Logging
import NIOCore
import NIOPosix
import Synchronization
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
    /// How long the terminal, control and pinentry policies wait for an answer.
    public var promptTimeout: Duration = .seconds(30)
    /// The pinentry program `--presence pinentry` asks through (a name on PATH or a path).
    public var pinentryProgram = "pinentry"
    /// The control API's Unix socket (`vfido power-cycle`, `vfido approve`, ...); default
    /// `<state>/control.sock`, or a private temporary directory for an ephemeral key.
    public var controlSocket: String?
    public var authenticator = AuthenticatorConfig()
    /// pid.codes' test VID:PID (1209:0001 is reserved for testing).
    public var vendorId: UInt16 = 0x1209
    public var productId: UInt16 = 0x0001
    public var manufacturer = "vfido"
    public var product = "Virtual FIDO2 Key"
    /// The CTAPHID INIT version (a profile copies its model's firmware version).
    public var deviceVersion: (major: UInt8, minor: UInt8, build: UInt8) = (1, 0, 0)
    /// Processing delay and keepalive interval (quirks).
    public var timing = HIDSession.Timing()
    /// Lies the keys tell on purpose (`--fault`); nil: none.
    public var faults: FaultSettings?

    /// What protects each key's storage key (a passphrase, or the file's mode alone).
    public var keyProtection: KeyProtection = .fileMode

    public init(stateDirectory: URL?, keyProtection: KeyProtection = .fileMode) {
        self.stateDirectory = stateDirectory
        self.keyProtection = keyProtection
    }

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

    /// Key n's user-verification passphrase (`vfido uv set`): a key file sealed under the
    /// passphrase itself, so opening it is checking the passphrase.
    public func uvKeyFile(forKey n: Int) -> URL? {
        stateDirectory(forKey: n)?.appendingPathComponent(Self.uvKeyFileName)
    }
    public static let uvKeyFileName = "uv.key"

    /// The state directories of the keys that have one now, in key order (keys added and removed
    /// at runtime leave gaps in the numbers).
    public func existingKeyDirectories() -> [URL] {
        guard let root = stateDirectory else { return [] }
        let names = (try? FileManager.default.contentsOfDirectory(atPath: root.path)) ?? []
        let numbers = names.compactMap { $0.hasPrefix("key-") ? Int($0.dropFirst(4)) : nil }.filter { $0 >= 2 }.sorted()
        return ([1] + numbers).compactMap { self.stateDirectory(forKey: $0) }
    }
}

/// Opens a key's store and builds its authenticator.
public func makeAuthenticator(configuration: DaemonConfiguration, key: Int = 1, presence: UserPresence? = nil) throws -> Authenticator {
    let store: SQLiteCredentialStore
    if let directory = configuration.stateDirectory(forKey: key) {
        store = try SQLiteCredentialStore(directory: directory, protection: configuration.keyProtection)
    } else {
        store = try .inMemory()
    }
    return try Authenticator(config: configuration.authenticator, store: store,
                             presence: presence ?? FixedPresence(approve: configuration.presence != .deny),
                             random: SystemRandom(), clock: SystemClock())
}


/// One virtual key: its authenticator, HID session and transports, and what the control API
/// changes while it runs (presence, plugged or not).
public struct RunningKey: Sendable {
    public let number: Int
    public let authenticator: Authenticator
    public let session: HIDSession
    /// The lies this key tells (none unless `--fault` or the control API set some).
    public let faults: FaultInjector
    public let usbDevice: USBHIDDevice
    public let udp: UDPTransport?
    public let presence: KeyPresence
    public let attachment: KeyAttachment
    public var busid: String { "1-\(number)" }
    public let serialNumber: String
    /// Added through the control API: lives in memory, can be removed.
    public let addedAtRuntime: Bool
    public var uhid: UHIDDevice? { attachment.uhid }
    public var features: KeyFeatures { authenticator.config.features }

    /// Takes the key off every transport and stops its session.
    func close() async {
        attachment.unplug()?.destroy()
        await udp?.close()
        await session.stop()
    }
}

/// A key added while the daemon runs: WebDriver's and CDP's authenticator options. Its state is
/// in memory, as a browser's virtual authenticator's is; removing it forgets everything.
public struct KeyOptions: Sendable {
    public var features = KeyFeatures()
    /// Built-in user verification (hasUserVerification).
    public var builtInUV = false
    /// How prompts are answered (isUserConsenting false: `control`, they wait for an answer).
    public var presence: PresencePolicy = .auto
    /// Whether built-in UV succeeds (isUserVerified).
    public var userVerified = true
    public var defaultBackupEligibility = false
    public var defaultBackupState = false
    public init() {}
}

/// Whether a key is plugged in, and its uhid device while it is (a re-plug creates a new one).
public final class KeyAttachment: @unchecked Sendable {
    private let lock = NSLock()
    private var _plugged = true
    private var _uhid: UHIDDevice?
    private var _ignored = 0
    /// Creates the uhid device again on re-plug (nil without --uhid).
    let makeUHID: (@Sendable () throws -> UHIDDevice)?

    init(uhid: UHIDDevice?, makeUHID: (@Sendable () throws -> UHIDDevice)?) {
        _uhid = uhid
        self.makeUHID = makeUHID
    }

    public var plugged: Bool { lock.withLock { _plugged } }
    public var uhid: UHIDDevice? { lock.withLock { _uhid } }

    /// A report that reached an unplugged key: counted, and the count logged at re-plug.
    func ignoreReport() { lock.withLock { _ignored += 1 } }

    /// Unplugs; answers the uhid device to destroy, if any.
    func unplug() -> UHIDDevice? {
        lock.withLock {
            _plugged = false
            defer { _uhid = nil }
            return _uhid
        }
    }

    /// Plugs back in; answers how many reports were ignored meanwhile.
    func plug(uhid: UHIDDevice?) -> Int {
        lock.withLock {
            _plugged = true
            _uhid = uhid
            defer { _ignored = 0 }
            return _ignored
        }
    }
}

/// A running daemon: virtual keys behind their transports.
public final class Daemon: Sendable {
    /// The keys, by number; keys added and removed at runtime change it.
    private let registry: Mutex<[RunningKey]>
    public var keys: [RunningKey] { registry.withLock { $0 } }
    /// At most this many keys at once through the control API (a bound on what it can make);
    /// a daemon started with more keeps them but adds none.
    public static let maxKeys = 32
    /// How many keys start at the same time.
    static let startingAtOnce = 64
    /// `vfido serve --keys` at most (a test farm of keys; each costs a UDP socket and a store).
    public static let maxStartingKeys = 1000
    let configuration: DaemonConfiguration
    /// The terminal the terminal policy asks on, shared by every key.
    let terminal: TerminalPresence?
    /// The desktop's pinentry program, shared by every key: one dialog at a time.
    let pinentry: PinentryPresence
    /// Desktop notifications, shared by every key: one at a time.
    let notify: NotifyPresence
    public let usbip: USBIPServer?
    /// Every key's events: credentials, prompts, the command log, plugging.
    public let events: EventHub
    let logger: Logger
    let group: MultiThreadedEventLoopGroup
    let stateLock: StateLock?

    private init(keys: [RunningKey], configuration: DaemonConfiguration, terminal: TerminalPresence?, pinentry: PinentryPresence,
                 notify: NotifyPresence, usbip: USBIPServer?, events: EventHub, logger: Logger, group: MultiThreadedEventLoopGroup,
                 stateLock: StateLock?) {
        self.registry = Mutex(keys)
        self.configuration = configuration
        self.terminal = terminal
        self.pinentry = pinentry
        self.notify = notify
        self.usbip = usbip
        self.events = events
        self.logger = logger
        self.group = group
        self.stateLock = stateLock
    }

    public static func start(_ configuration: DaemonConfiguration, presence: UserPresence? = nil, logger: Logger) async throws -> Daemon {
        if let path = configuration.uhidPath {
            try UHIDDevice.checkAccess(path: path)  // before anything else: fail fast, with advice
        }
        let stateLock = try configuration.stateDirectory.map(StateLock.acquire)
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let events = EventHub()
        var started: [RunningKey] = []
        // One terminal for every key: its prompts name the RP, so they are told apart.
        let terminal = configuration.presence == .terminal && presence == nil
            ? try TerminalPresence.openTTY(timeout: configuration.promptTimeout) : nil
        let pinentry = PinentryPresence(program: configuration.pinentryProgram, timeout: configuration.promptTimeout, logger: logger)
        let notify = NotifyPresence(timeout: configuration.promptTimeout, fallback: pinentry, logger: logger)
        do {
            // Keys start a few at a time: most of a new key's start is waiting for its store's
            // first commits to reach the disk, and those waits overlap (a farm of 1000 keys
            // started one by one took seconds).
            let count = max(1, configuration.keys)
            try await withThrowingTaskGroup(of: RunningKey.self) { starting in
                do {
                    for n in 1...count {
                        if n > startingAtOnce, let key = try await starting.next() { started.append(key) }
                        starting.addTask {
                            let keyPresence = KeyPresence(policy: configuration.presence, timeout: configuration.promptTimeout, terminal: terminal,
                                                          pinentry: pinentry, notify: notify, uvKeyFile: configuration.uvKeyFile(forKey: n),
                                                          events: events, key: n, logger: logger)
                            return try await startKey(n, configuration, presence: keyPresence, override: presence, events: events,
                                                      group: group, logger: logger, addedAtRuntime: false)
                        }
                    }
                    for try await key in starting { started.append(key) }
                } catch {
                    // The keys that did start are closed below, so collect them all first.
                    starting.cancelAll()
                    while let result = await starting.nextResult() {
                        if case .success(let key) = result { started.append(key) }
                    }
                    throw error
                }
            }
            let keys = started.sorted { $0.number < $1.number }
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
            return Daemon(keys: keys, configuration: configuration, terminal: terminal, pinentry: pinentry, notify: notify, usbip: usbip, events: events, logger: logger,
                          group: group, stateLock: stateLock)
        } catch {
            for key in started { await key.close() }
            try? await group.shutdownGracefully()
            stateLock?.release()
            throw error
        }
    }

    /// `override`: a policy given by the caller (tests) instead of the key's own KeyPresence.
    static func startKey(_ n: Int, _ configuration: DaemonConfiguration, presence: KeyPresence, override: UserPresence?,
                         events: EventHub, group: EventLoopGroup, logger: Logger, addedAtRuntime: Bool) async throws -> RunningKey {
        var logger = logger
        if configuration.keys > 1 || addedAtRuntime { logger[metadataKey: "key"] = "\(n)" }
        let tracked = TrackedPresence(override ?? presence)
        let authenticator = try makeAuthenticator(configuration: configuration, key: n, presence: tracked)
        await authenticator.observeEvents { events.publish(key: n, .authenticator($0)) }
        // A U2F-only key has no CBOR capability: CTAPHID_CBOR is an unknown command to it.
        let capabilities: CTAPHIDCapabilities = configuration.authenticator.features.hasCTAP2 ? [.wink, .cbor] : [.wink]
        let faults = try (configuration.faults ?? FaultSettings(rules: [], seed: 0)).injector(key: n, logger: logger)
        let session = HIDSession(authenticator: authenticator, presence: tracked, logger: logger,
                                 configuration: .init(capabilities: capabilities, deviceVersion: configuration.deviceVersion),
                                 timing: configuration.timing, faults: faults)
        await session.observeCommands { command, outcome, ms in
            events.publish(key: n, .command(name: command, status: outcome, milliseconds: ms))
        }
        await session.start()
        let serial = await authenticator.serialNumber

        // Output reports from USB keep their order through one stream into the session.
        let usbReports = ReportFeed(session: session, logger: logger)
        let device = USBHIDDevice(
            identity: USBDeviceIdentity(vendorId: configuration.vendorId, productId: configuration.productId,
                                        manufacturer: configuration.manufacturer, product: configuration.product,
                                        serialNumber: serial),
            reportDescriptor: CTAPHID.reportDescriptor, reportSize: CTAPHID.reportSize,
            inFaults: inFaults(faults),
            onOutputReport: { usbReports.yield($0) })
        usbReports.replies = ReportSink { [device] in device.sendInputReport($0) }

        var makeUHID: (@Sendable () throws -> UHIDDevice)?
        if let path = configuration.uhidPath {
            let identity = UHIDDevice.Identity(
                name: "\(configuration.manufacturer) \(configuration.product)", phys: "vfido/key-\(n)", uniq: serial,
                vendor: UInt32(configuration.vendorId), product: UInt32(configuration.productId), version: 0x0100)
            let uhidLogger = logger
            makeUHID = {
                let feed = ReportFeed(session: session, logger: uhidLogger)
                let created = try UHIDDevice(path: path, identity: identity, reportDescriptor: CTAPHID.reportDescriptor,
                                             reportSize: CTAPHID.reportSize)
                feed.replies = ReportSink { [created] in created.sendInputReport($0) }
                created.run(onOutputReport: { feed.yield($0) }, onEvent: { event in
                    if case .output = event { return }
                    uhidLogger.info("uhid: \(event)")
                })
                return created
            }
        }
        let attachment = KeyAttachment(uhid: try makeUHID?(), makeUHID: makeUHID)

        var udp: UDPTransport?
        if let base = configuration.udpPort {
            let port = base == 0 ? 0 : base + n - 1
            let feed = ReportFeed(session: session, buffering: 4096, logger: logger)
            func listen(_ port: Int) async throws -> UDPTransport {
                try await UDPTransport.start(host: configuration.udpHost, port: port, group: group, receive: { datagram in
                    // An unplugged key answers nothing, as a real one; the reports are counted.
                    guard attachment.plugged else { return attachment.ignoreReport() }
                    switch datagram {
                    case .report(let report, let reply): feed.yield(report, reply: ReportSink(reply))
                    case .reboot: feed.yieldPowerCycle()
                    }
                }, closed: { feed.finish() })
            }
            do {
                do { udp = try await listen(port) } catch where addedAtRuntime && port != 0 {
                    // Another program has base + n - 1: a key added at runtime takes any free port
                    // (the API answers which) rather than failing.
                    logger.notice("UDP \(configuration.udpHost):\(port) is taken; key \(n) listens on a free port instead")
                    udp = try await listen(0)
                }
            } catch {
                attachment.unplug()?.destroy()
                await session.stop()
                throw DaemonError("cannot listen on UDP \(configuration.udpHost):\(port): \(error)")
            }
        }
        return RunningKey(number: n, authenticator: authenticator, session: session, faults: faults, usbDevice: device, udp: udp, presence: presence,
                          attachment: attachment, serialNumber: serial, addedAtRuntime: addedAtRuntime)
    }

    /// Adds a key while the daemon runs: the next number, USB/IP bus id 1-n, UDP port base + n - 1
    /// (any free port with base 0), and with uhid a new hidraw node. Its state is in memory.
    public func addKey(_ options: KeyOptions) async throws -> RunningKey {
        let n: Int = try registry.withLock { keys in
            guard keys.count < Self.maxKeys else { throw DaemonError("this daemon already has \(Self.maxKeys) keys, the limit") }
            return (keys.map(\.number).max() ?? 0) + 1
        }
        var keyConfiguration = configuration
        keyConfiguration.stateDirectory = nil
        keyConfiguration.authenticator.features = options.features
        keyConfiguration.authenticator.builtInUV = options.builtInUV
        keyConfiguration.authenticator.defaultBackupEligibility = options.defaultBackupEligibility
        keyConfiguration.authenticator.defaultBackupState = options.defaultBackupState
        let presence = KeyPresence(policy: options.presence, timeout: configuration.promptTimeout, terminal: terminal,
                                   pinentry: pinentry, notify: notify, events: events, key: n, logger: logger)
        await presence.setUserVerified(options.userVerified)
        let key = try await Self.startKey(n, keyConfiguration, presence: presence, override: nil, events: events, group: group,
                                          logger: logger, addedAtRuntime: true)
        registry.withLock { $0.append(key) }
        usbip?.add(USBIPExport(devnum: UInt32(n), device: key.usbDevice))
        logger.info("key \(n) added (\(options.features.level.rawValue), in memory)")
        events.publish(key: n, .added)
        return key
    }

    /// Removes a key added at runtime: hosts see it unplugged, and what it stored is gone.
    public func removeKey(_ key: RunningKey) async throws {
        guard key.addedAtRuntime else {
            throw DaemonError("key \(key.number) was started with the daemon and keeps its state on disk; only keys added at runtime can be removed (unplug it instead)")
        }
        registry.withLock { $0.removeAll { $0.number == key.number } }
        usbip?.remove(busid: key.busid)
        await key.close()
        logger.info("key \(key.number) removed")
        events.publish(key: key.number, .removed)
    }

    public func key(_ number: Int) -> RunningKey? { keys.first { $0.number == number } }

    /// Forgets per-boot state as a re-plug does. The CTAPHID channels are kept, as after the
    /// UDP simulator's reboot: hosts that hold the device open carry on.
    public func powerCycle(_ key: RunningKey) async {
        await key.session.powerCycle(keepingChannels: true)
        events.publish(key: key.number, .powerCycled)
    }

    /// Pulls the key out: a USB/IP host sees the device disconnect, the uhid node goes away,
    /// UDP datagrams go unanswered. Nothing stored changes.
    public func unplug(_ key: RunningKey) async {
        guard key.attachment.plugged else { return }
        key.attachment.unplug()?.destroy()
        usbip?.unplug(busid: key.busid)
        await key.session.powerCycle(keepingChannels: false)
        logger.info("key \(key.number) unplugged")
        events.publish(key: key.number, .unplugged)
    }

    /// Plugs the key back in, powered up afresh (a USB/IP host attaches it again).
    public func plug(_ key: RunningKey) async throws {
        guard !key.attachment.plugged else { return }
        let uhid = try key.attachment.makeUHID?()
        let ignored = key.attachment.plug(uhid: uhid)
        usbip?.plug(busid: key.busid)
        logger.info("key \(key.number) plugged in\(ignored > 0 ? " (\(ignored) UDP reports arrived while unplugged and were not answered)" : "")")
        events.publish(key: key.number, .plugged)
    }

    public func stop() async {
        await usbip?.close()
        for key in keys { await key.close() }
        try? await group.shutdownGracefully()
        stateLock?.release()
    }
}

public struct DaemonError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// The USB/IP server's hook for a key's IN completion faults.
func inFaults(_ faults: FaultInjector) -> @Sendable ([UInt8]) -> INCompletionFault? {
    { data in faults.urbFault(for: data)?.completion }
}

extension URBFault {
    var completion: INCompletionFault {
        switch self {
        case .shortLength(let n): .shortLength(n)
        case .longLength(let extra): .longLength(extra: extra)
        case .stall: .stall
        }
    }
}
