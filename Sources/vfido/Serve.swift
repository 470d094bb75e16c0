import ArgumentParser
import Bytes
import ControlAPI
import CTAP
import Faults
import Foundation
import KeyFile
import Logging
import RelyingPartyServer
import USBIP
import VirtualKey

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the virtual key until interrupted.",
        discussion: """
            Exports the key over USB/IP (a Linux host then runs `usbip attach -r HOST -b 1-1` \
            and sees a USB HID security key) and listens for CTAPHID reports over UDP (the \
            simulator convention python-fido2, libfido2 with custom I/O and conformance tools \
            speak: each datagram is one 64-byte HID report without a report-ID byte, replies go \
            back to the sender). One log line is written per CTAP command.

            Both listen on loopback only unless --allow-remote is given: USB/IP has no \
            authentication, so anyone who can reach the port can use the key.

            User presence (and built-in UV, with --builtin-uv) is answered by --presence: `auto` \
            approves every request (what CI wants), `deny` refuses every one, `terminal` asks on \
            this terminal who is asking (RP, user, operation), `control` waits for `vfido \
            approve` / `vfido deny`, `pinentry` shows the desktop's pinentry dialog (Allow / \
            Deny, naming the RP, the account and the operation; --pinentry picks the program; a \
            terminal pinentry asks on $GPG_TTY, as gpg-agent's do), `notify` shows a desktop \
            notification with Allow and Deny (the session D-Bus, through gdbus; pinentry where the \
            notification server has no actions). The last four give up after --prompt-timeout \
            (CTAP2_ERR_USER_ACTION_TIMEOUT); platforms see KEEPALIVE UPNEEDED while they wait, and \
            a host's CANCEL closes the dialog or withdraws the notification.

            The control API (HTTP+JSON; docs/control-api.md, /openapi.json) listens on \
            127.0.0.1:8112 (--api) and on the Unix socket <state>/control.sock (0600). Every \
            request needs the bearer token in <state>/control.token (0600). It adds and exports \
            credentials, answers prompts, sets verification and response overrides, unplugs \
            and power-cycles keys, streams events, and serves a web inspector at its root; \
            `vfido approve`, `vfido events`, `vfido creds import` and the other commands use it.

            The bundled test relying party runs alongside on http://localhost:8080 (a demo page, \
            the Mosaic-style WebAuthn API, hosted registration and login pages); --no-rp turns \
            it off, the --rp-* options configure it (see `vfido rp serve --help`).
            """)

    @OptionGroup var stateOptions: StateOptions
    @OptionGroup(title: "Relying party") var rp: RPOptions

    @Flag(name: .customLong("no-rp"), help: "Do not start the bundled test relying party.")
    var noRp = false

    @Option(name: .long, help: ArgumentHelp(
        "Where to listen for CTAPHID-over-UDP reports. With several keys, key n uses port + n - 1.", valueName: "host:port"))
    var udp = HostPort(host: "127.0.0.1", port: 8111)

    @Flag(name: .long, help: "Do not listen for CTAPHID over UDP.")
    var noUdp = false

    @Option(name: .customLong("usbip"), help: ArgumentHelp(
        "Where the USB/IP server listens (default: 127.0.0.1:3240; with --uhid, no USB/IP unless this is given).",
        valueName: "host:port"))
    var usbipOption: HostPort?

    var usbip: HostPort { usbipOption ?? HostPort(host: "127.0.0.1", port: 3240) }

    @Flag(name: .long, help: ArgumentHelp(
        "Also create each key as a local HID device through /dev/uhid (Linux): no USB/IP needed.",
        discussion: "Needs the uhid module (`sudo modprobe uhid`) and write access to /dev/uhid (vfido's udev rules give it to the `vfido` group)."))
    var uhid = false

    @Option(name: .long, help: ArgumentHelp("The uhid device node.", valueName: "path"))
    var uhidPath = "/dev/uhid"

    @Flag(name: .customLong("no-usbip"), help: "Do not start the USB/IP server.")
    var noUsbipFlag = false

    @Option(name: .long, help: ArgumentHelp(
        "USB/IP connections open at once; more are refused (and logged).", valueName: "n"))
    var usbipMaxConnections = USBIPServer.defaultMaxConnections

    /// --uhid alone means a local device only; --usbip brings USB/IP back.
    var noUsbip: Bool { noUsbipFlag || (uhid && usbipOption == nil) }

    @Flag(name: .long, help: "Allow --udp and --usbip addresses beyond loopback (neither protocol authenticates its clients).")
    var allowRemote = false

    @Option(name: .long, help: ArgumentHelp(
        "How many virtual keys to serve (1 to 1000), each with its own state (key n >= 2 in <state>/key-n), USB/IP bus id 1-n and UDP port base+n-1.",
        valueName: "n"))
    var keys = 1

    @Option(name: .long, help: ArgumentHelp(
        "USB vendor and product id, in hex (default: the profile's; vfido's is pid.codes' test pair 1209:0001).", valueName: "vid:pid"))
    var vidPid: USBIdentifiers?

    @Option(name: .long, help: ArgumentHelp("USB product string (default: the profile's).", valueName: "text"))
    var product: String?

    @Option(name: .long, help: ArgumentHelp("USB manufacturer string (default: the profile's).", valueName: "text"))
    var manufacturer: String?

    @Option(name: .long, help: ArgumentHelp(
        "Look like this key model: a built-in profile (vfido profile list) or a JSON file (vfido profile show NAME > my.json).",
        discussion: "A profile sets getInfo (versions, extensions, options, limits, algorithms, firmware version), the AAGUID, the USB identity, the capacity and which commands exist. Attestation still chains to vfido's root. Flags given with it (--vid-pid, --product, --manufacturer, --builtin-uv) win.",
        valueName: "name|file"))
    var profile = "vfido"

    @Option(name: .customLong("quirk"), help: ArgumentHelp(
        "Deviate as real keys do: reject-large-allow-lists (LIMIT_EXCEEDED for lists over maxCredentialCountInList), reject-silent-requests (UNSUPPORTED_OPTION for up=false), getinfo-2.0 (getInfo as a CTAP 2.0 key's, the commands unchanged); repeatable.",
        valueName: "name"))
    var quirks: [Quirk] = []

    @Option(name: .long, help: ArgumentHelp("Each CTAP and U2F request waits this long before it runs (KEEPALIVEs meanwhile).", valueName: "ms"))
    var processingDelay: Int?

    @Option(name: .long, help: ArgumentHelp("KEEPALIVE every this long while a request runs (default 100, as CTAP asks).", valueName: "ms"))
    var keepaliveInterval: Int?

    @Option(name: .customLong("fault"), help: ArgumentHelp(
        "Lie to the host on purpose: KIND[@COMMAND][:RATE], e.g. ctap.truncated@getAssertion:0.5; repeatable. `vfido faults` lists the kinds.",
        discussion: "Faults change what the key sends, never what it stores. Each one applied is logged (and written to --fault-log); docs/fault-injection.md.",
        valueName: "fault"), transform: { try FaultRule(parsing: $0) })
    var faultRules: [FaultRule] = []

    @Option(name: .long, help: ArgumentHelp("The seed faults are drawn from (default: random, shown in the banner).", valueName: "n"))
    var faultSeed: UInt64?

    @Option(name: .long, help: ArgumentHelp("Write each fault applied as a JSON line to this file (0600).", valueName: "path"))
    var faultLog: String?

    @Option(name: .long, help: ArgumentHelp("Apply exactly the faults of this --fault-log file, at the same points, instead of drawing.",
                                            valueName: "path"))
    var faultReplay: String?

    @Option(name: .long, help: ArgumentHelp("getInfo's maxMsgSize, and the largest request accepted (default: the profile's).", valueName: "bytes"))
    var maxMessageSize: Int?

    @Option(name: .long, help: ArgumentHelp("getInfo's maxCredentialCountInList (default: the profile's).", valueName: "n"))
    var maxCredentialCountInList: Int?

    @Option(name: .long, help: ArgumentHelp("getInfo's maxCredentialIdLength; longer IDs are not found (default: the profile's).", valueName: "bytes"))
    var maxCredentialIdLength: Int?

    enum Quirk: String, ExpressibleByArgument, CaseIterable {
        case rejectLargeAllowLists = "reject-large-allow-lists"
        case rejectSilentRequests = "reject-silent-requests"
        case getInfo2_0 = "getinfo-2.0"
    }

    @Option(name: .long, help: ArgumentHelp("How user-presence requests are answered: auto, deny, terminal, control, pinentry or notify.",
                                            valueName: "policy"))
    var presence: PresencePolicy = .auto

    @Option(name: .long, help: ArgumentHelp(
        "The pinentry program --presence pinentry (and notify, where it cannot) asks through (pinentry-gnome3, -qt, -gtk2, -curses, -tty; a name on PATH or a path).",
        valueName: "program"))
    var pinentry = "pinentry"

    @Option(name: .long, help: ArgumentHelp("How long the terminal, control, pinentry and notify policies wait for an answer.", valueName: "seconds"))
    var promptTimeout: Double = 30

    @Option(name: .long, help: ArgumentHelp(
        "The control API's Unix socket (default <state>/control.sock; with --ephemeral, in a private temporary directory).",
        valueName: "path"))
    var control: String?

    @Option(name: .long, help: ArgumentHelp("Where the control API listens over TCP (port 0: any free port).", valueName: "host:port"))
    var api = HostPort(host: "127.0.0.1", port: ControlServer.defaultPort)

    @Flag(name: .long, help: "No control API over TCP (the Unix socket stays).")
    var noApi = false

    @Flag(name: .long, help: ArgumentHelp(
        "Answer the FIDO Alliance conformance tools' test automation on 127.0.0.1:3000 (userpresence, powercycle, results) for key 1.",
        discussion: "The tools send no token, so this is opt-in and loopback only; it can only touch and power-cycle the key. See docs/control-api.md."))
    var fidoConformanceTools = false

    @Option(name: .long, help: ArgumentHelp("Where --fido-conformance-tools listens (the tools use 127.0.0.1:3000).", valueName: "host:port"))
    var fidoConformanceToolsAddress = HostPort(host: "127.0.0.1", port: ConformanceToolsAutomation.defaultPort)

    @Option(name: .long, help: ArgumentHelp(
        "Attestation for new credentials: packed (batch certificate chaining to `vfido attestation root`), self (packed, signed by the credential itself) or none.",
        valueName: "format"))
    var attestation: AttestationMode = .packed

    @Flag(name: .long, help: ArgumentHelp(
        "Give each key built-in user verification (a simulated fingerprint reader) that --presence answers.",
        discussion: "getInfo then says uv=true: platforms verify the user with it instead of asking for a PIN, and discoverable credentials need user verification."))
    var builtinUv = false

    @Option(name: .long, help: ArgumentHelp(
        "An RP ID allowed vendor-facilitated enterprise attestation (once enabled by authenticatorConfig); repeatable.",
        valueName: "rp-id"))
    var enterpriseRp: [String] = []

    @Flag(name: .long, help: ArgumentHelp(
        "Enforce the CTAP 2.2 PIN complexity policy from the start and after every reset.",
        discussion: "New PINs of one repeated character, of consecutive characters or on a list of the commonest PINs are refused with CTAP2_ERR_PIN_POLICY_VIOLATION (docs/conformance.md). Without this flag, authenticatorConfig's setMinPINLength can turn the policy on."))
    var pinComplexityPolicy = false

    @Option(name: .long, help: ArgumentHelp(
        "The URL getInfo names for the PIN complexity policy (pinComplexityPolicyURL).", valueName: "url"))
    var pinComplexityPolicyUrl: String?

    @Option(name: .long, help: ArgumentHelp(
        "authenticatorReset is allowed only this many seconds after start, as on a real key; 0 allows it at any time.",
        valueName: "seconds"))
    var resetWindow: Int = 10

    @Option(name: .long, help: ArgumentHelp("Log level: trace, debug, info, notice, warning, error.", valueName: "level"))
    var logLevel: Logger.Level = .info

    func validate() throws {
        if resetWindow < 0 { throw ValidationError("--reset-window must be 0 or more seconds") }
        if let ms = processingDelay, !(0...60_000).contains(ms) { throw ValidationError("--processing-delay must be 0 to 60000 ms") }
        if let ms = keepaliveInterval, !(10...10_000).contains(ms) { throw ValidationError("--keepalive-interval must be 10 to 10000 ms") }
        if !(promptTimeout > 0 && promptTimeout <= 3600) { throw ValidationError("--prompt-timeout must be between 0 and 3600 seconds") }
        if !(1...Daemon.maxStartingKeys).contains(keys) { throw ValidationError("--keys must be between 1 and \(Daemon.maxStartingKeys)") }
        if usbipMaxConnections < 1 { throw ValidationError("--usbip-max-connections must be at least 1") }
        if let n = maxMessageSize, !(64...65536).contains(n) { throw ValidationError("--max-message-size must be 64 to 65536") }
        if let n = maxCredentialCountInList, !(1...64).contains(n) { throw ValidationError("--max-credential-count-in-list must be 1 to 64") }
        if let n = maxCredentialIdLength, !(16...1023).contains(n) { throw ValidationError("--max-credential-id-length must be 16 to 1023") }
        if let url = pinComplexityPolicyUrl, !(url.hasPrefix("https://") || url.hasPrefix("http://")) || url.utf8.count > 255 {
            throw ValidationError("--pin-complexity-policy-url must be an http(s) URL of at most 255 bytes")
        }
        if faultReplay != nil && !faultRules.isEmpty { throw ValidationError("--fault-replay applies a log's faults; give it without --fault") }
        if !allowRemote {
            if !noUdp && !udp.isLoopback {
                throw ValidationError("--udp \(udp) is not a loopback address; add --allow-remote if you mean it")
            }
            if !noUsbip && !usbip.isLoopback {
                throw ValidationError("--usbip \(usbip) is not a loopback address; add --allow-remote if you mean it (USB/IP has no authentication)")
            }
            if fidoConformanceTools && !fidoConformanceToolsAddress.isLoopback {
                throw ValidationError("--fido-conformance-tools-address must be a loopback address (the tools' automation has no authentication)")
            }
            if !noApi && !api.isLoopback {
                throw ValidationError("--api \(api) is not a loopback address; add --allow-remote if you mean it (the control API can add credentials)")
            }
        }
        if !noRp { try rp.validate(allowRemote: allowRemote) }
        if noUdp && noUsbip && !uhid { throw ValidationError("--no-udp and --no-usbip together leave no way to reach the key") }
    }

    func run() async throws {
        LoggingSystem.bootstrap { StreamLogHandler.standardError(label: $0) }
        var logger = Logger(label: "vfido")
        logger.logLevel = logLevel

        let termination = TerminationSignal()
        let protection: KeyProtection
        do {
            protection = try stateOptions.protection()
        } catch {
            FileHandle.standardError.write(Data("vfido serve: \(error)\n".utf8))
            throw ExitCode(2)
        }
        var configuration = DaemonConfiguration(stateDirectory: stateOptions.directory, keyProtection: protection)
        configuration.udpHost = udp.host
        configuration.udpPort = noUdp ? nil : udp.port
        configuration.usbipHost = usbip.host
        configuration.usbipPort = noUsbip ? nil : usbip.port
        configuration.usbipMaxConnections = usbipMaxConnections
        configuration.keys = keys
        configuration.uhidPath = uhid ? uhidPath : nil
        do {
            try DeviceProfile.load(profile).apply(to: &configuration)
        } catch {
            FileHandle.standardError.write(Data("vfido serve: \(error)\n".utf8))
            throw ExitCode(2)
        }
        if let vidPid {
            configuration.vendorId = vidPid.vendor
            configuration.productId = vidPid.product
        }
        if let product { configuration.product = product }
        DeviceProfile.Quirks(rejectLargeAllowLists: quirks.contains(.rejectLargeAllowLists) ? true : nil,
                             rejectSilentRequests: quirks.contains(.rejectSilentRequests) ? true : nil,
                             processingDelayMs: processingDelay, keepaliveIntervalMs: keepaliveInterval,
                             answerGetInfoAs2_0: quirks.contains(.getInfo2_0) ? true : nil).apply(to: &configuration)
        if let manufacturer { configuration.manufacturer = manufacturer }
        if let maxMessageSize { configuration.authenticator.maxMessageSize = maxMessageSize }
        if let maxCredentialCountInList { configuration.authenticator.maxCredentialCountInList = maxCredentialCountInList }
        if let maxCredentialIdLength { configuration.authenticator.maxCredentialIdLength = maxCredentialIdLength }
        if !faultRules.isEmpty || faultReplay != nil {
            do {
                configuration.faults = FaultSettings(rules: faultRules, seed: faultSeed ?? UInt64.random(in: 0...UInt64(UInt32.max)),
                                                     replay: try faultReplay.map(FaultSettings.readLog), logPath: faultLog)
            } catch {
                FileHandle.standardError.write(Data("vfido serve: \(error)\n".utf8))
                throw ExitCode(2)
            }
        }
        configuration.presence = presence
        configuration.pinentryProgram = pinentry
        configuration.promptTimeout = .milliseconds(Int(promptTimeout * 1000))
        configuration.authenticator.attestation = attestation
        if builtinUv { configuration.authenticator.builtInUV = true }
        configuration.authenticator.enterpriseAttestationRPIDs = enterpriseRp
        configuration.authenticator.pinComplexityPolicyByDefault = pinComplexityPolicy
        configuration.authenticator.pinComplexityPolicyURL = pinComplexityPolicyUrl
        configuration.authenticator.resetWindow = resetWindow == 0 ? nil : .seconds(resetWindow)
        if !noUdp && !udp.isLoopback {
            logger.warning("UDP is listening on \(udp), beyond loopback: anyone who can reach it can use the keys")
        }
        if !noUsbip && !usbip.isLoopback {
            logger.warning("USB/IP is listening on \(usbip), beyond loopback: USB/IP has no authentication")
        }

        raiseOpenFileLimit(forKeys: keys, logger: logger)
        let daemon: Daemon
        do {
            daemon = try await Daemon.start(configuration, logger: logger)
        } catch {
            FileHandle.standardError.write(Data("vfido serve: \(error)\n".utf8))
            throw ExitCode(1)
        }
        let controlAPI: ControlServer.Running
        do {
            let directory = try stateOptions.directory ?? ControlServer.makeRuntimeDirectory()
            controlAPI = try await ControlServer.start(
                daemon: daemon, host: api.host, port: noApi ? nil : api.port,
                socketPath: control ?? directory.appendingPathComponent(ControlServer.socketFileName).path,
                directory: directory, removeDirectoryAtStop: stateOptions.directory == nil, logger: logger)
        } catch {
            FileHandle.standardError.write(Data("vfido serve: the control API did not start on \(api): \(error) (--api HOST:PORT picks another port, --no-api turns TCP off)\n".utf8))
            await daemon.stop()
            throw ExitCode(1)
        }
        var automation: Task<Void, Error>?
        if fidoConformanceTools {
            do {
                let (task, port) = try await ConformanceToolsAutomation.start(
                    daemon: daemon, host: fidoConformanceToolsAddress.host, port: fidoConformanceToolsAddress.port, logger: logger)
                automation = task
                logger.notice("FIDO conformance tools automation on http://\(fidoConformanceToolsAddress.host):\(port ?? fidoConformanceToolsAddress.port)/conformance/ (key 1)")
            } catch {
                FileHandle.standardError.write(Data("vfido serve: the conformance tools' automation did not start on \(fidoConformanceToolsAddress): \(error)\n".utf8))
                await controlAPI.stop()
                await daemon.stop()
                throw ExitCode(1)
            }
        }
        var relyingParty: RPServer.Running?
        var rpConfiguration: RPConfiguration?
        if !noRp {
            do {
                let rpConfig = try rp.configuration(stateDirectory: stateOptions.directory, protection: protection)
                relyingParty = try await RPServer.start(rpConfig, logger: logger)
                rpConfiguration = rpConfig
            } catch {
                FileHandle.standardError.write(Data("vfido serve: the relying party did not start on \(rp.address): \(error) (--no-rp skips it)\n".utf8))
                automation?.cancel()
                await controlAPI.stop()
                await daemon.stop()
                throw ExitCode(1)
            }
        }
        var lines = banner(daemon, configuration, controlAPI).components(separatedBy: "\n")
        if let relyingParty, let rpConfiguration {
            lines.insert(contentsOf: RPOptions.banner(relyingParty, rpConfiguration), at: lines.count - 1)
        }
        print(lines.joined(separator: "\n"))
        fflush(nil)

        await termination.wait()
        logger.info("shutting down")
        await relyingParty?.stop()
        automation?.cancel()
        _ = await automation?.result
        await controlAPI.stop()
        await daemon.stop()
    }
}

/// Each key holds a UDP socket and, with a state directory, its database, WAL and lock files:
/// a farm of keys needs more descriptors than a shell's usual soft limit of 1024. The soft
/// limit is raised toward the hard one; if even that is short, say so before keys fail to start.
func raiseOpenFileLimit(forKeys keys: Int, logger: Logger) {
    let needed = rlim_t(keys * 6 + 256)
    var limit = rlimit()
    guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0, limit.rlim_cur < needed else { return }
    limit.rlim_cur = min(needed, limit.rlim_max)
    _ = setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
    if limit.rlim_cur < needed {
        logger.warning("\(keys) keys may need \(needed) open files; the hard limit is \(limit.rlim_max) (ulimit -Hn)")
    }
}

extension Serve {
    func banner(_ daemon: Daemon, _ configuration: DaemonConfiguration, _ controlAPI: ControlServer.Running) -> String {
        let usbipHost = usbip.host == "127.0.0.1" || usbip.host == "localhost" ? "127.0.0.1" : usbip.host
        let portFlag = usbip.port == 3240 ? "" : " --tcp-port \(usbip.port)"
        var lines = ["vfido \(VFIDO.version): \(keys == 1 ? "one virtual FIDO2 key is" : "\(keys) virtual FIDO2 keys are") ready",
                     "  AAGUID       \(configuration.authenticator.aaguid.hex)",
                     "  presence     \(presence.rawValue)   attestation \(attestation.rawValue)   USB id \(USBIdentifiers(vendor: configuration.vendorId, product: configuration.productId))   profile \(profile)"]
        if let faults = configuration.faults {
            lines.append(faults.replay != nil ? "  faults       replaying \(faultReplay ?? "")"
                : "  faults       \(faults.rules.map(\.description).joined(separator: " "))   seed \(faults.seed)")
        }
        // A farm of keys gets a line for the first few and one for the rest.
        let listed = daemon.keys.count > 8 ? Array(daemon.keys.prefix(4)) : daemon.keys
        for key in listed {
            var where_ = [String]()
            if key.uhid != nil { where_.append("uhid (a local hidraw device)") }
            if !noUsbip { where_.append("USB/IP bus id \(key.busid)") }
            if let udpAddress = key.udp?.localAddress?.port { where_.append("UDP \(udp.host):\(udpAddress)") }
            lines.append("  key \(key.number)        \(where_.joined(separator: ", "))   serial \(key.serialNumber)")
            lines.append("               state \(configuration.stateDirectory(forKey: key.number)?.path ?? "in memory (--ephemeral)")")
        }
        if let last = daemon.keys.last, listed.count < daemon.keys.count {
            var where_ = [String]()
            if !noUsbip { where_.append("USB/IP bus ids to \(last.busid)") }
            if let port = last.udp?.localAddress?.port { where_.append("UDP ports to \(port)") }
            lines.append("  keys 5-\(last.number)   \(where_.joined(separator: ", ")), each with its own state")
        }
        lines.append("")
        lines.append("Connect:")
        if !noUsbip {
            lines.append("  Linux host    sudo modprobe vhci-hcd && sudo usbip\(portFlag) attach -r \(usbipHost) -b 1-1")
            lines.append("                (a QEMU guest with user networking reaches this host's loopback as -r 10.0.2.2)")
            lines.append("  list          usbip\(portFlag) list -r \(usbipHost)")
        }
        if !noUdp {
            // Key 1's address as bound (port 0 asks for any free port).
            let udpAddress = "\(udp.host):\(daemon.keys.first?.udp?.localAddress?.port ?? udp.port)"
            lines.append("  python-fido2  CtapHidDevice over a UDP CtapHidConnection to \(udpAddress) (see docs/usage.md)")
            lines.append("  libfido2      LD_PRELOAD=vfido_udp_shim.so fido2-token -I vfido-udp:\(udpAddress)   (see docs/usage.md)")
        }
        let where_ = stateOptions.directory == nil
            ? " --control \(controlAPI.socketPath ?? "") --token-file \(controlAPI.tokenPath)"
            : stateOptions.state.map { " --state \($0)" } ?? ""
        lines.append("  control       vfido approve|deny|prompts|presence|creds import|events|unplug|power-cycle\(where_)")
        if let port = controlAPI.port {
            let host = api.host == "0.0.0.0" ? "127.0.0.1" : api.host
            lines.append("  control API   http://\(host):\(port)  (bearer token in \(controlAPI.tokenPath); docs/control-api.md)")
            lines.append("  inspector     http://\(host):\(port)/?access_token=<the token>")
        } else {
            lines.append("  control API   on the socket \(controlAPI.socketPath ?? "") only (bearer token in \(controlAPI.tokenPath))")
        }
        lines.append("  attestation   vfido attestation root\(stateOptions.state.map { " --state \($0)" } ?? "")   (PEM for your RP's trust store)")
        lines.append("Stop with Ctrl-C.")
        return lines.joined(separator: "\n")
    }
}

/// SIGINT and SIGTERM, caught from the moment this is created: a signal that arrives while the
/// daemon is still starting is not lost (a background job of a script starts with SIGINT ignored).
final class TerminationSignal: @unchecked Sendable {
    private let lock = NSLock()
    private var fired = false
    private var continuation: CheckedContinuation<Void, Never>?
    private var sources: [DispatchSourceSignal] = []

    init() {
        for sig in [SIGINT, SIGTERM] {
            signal(sig, SIG_IGN)  // the dispatch source, not the default action, handles it
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            source.setEventHandler { [weak self] in self?.fire() }
            source.resume()
            sources.append(source)
        }
    }

    private func fire() {
        lock.lock()
        fired = true
        let c = continuation
        continuation = nil
        lock.unlock()
        c?.resume()
    }

    /// Returns once a signal has arrived (at once if one already has).
    func wait() async {
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            lock.lock()
            if fired {
                lock.unlock()
                c.resume()
            } else {
                continuation = c
                lock.unlock()
            }
        }
    }
}

extension PresencePolicy: ExpressibleByArgument {}
extension AttestationMode: ExpressibleByArgument {}
extension Logger.Level: @retroactive ExpressibleByArgument {}
