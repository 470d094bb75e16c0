import ArgumentParser
import CTAP
import Foundation
import Logging
import VirtualKey

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the virtual key until interrupted.",
        discussion: """
            Listens for CTAPHID reports over UDP (the simulator convention that python-fido2, \
            libfido2 with custom I/O and conformance tools speak): each datagram is one 64-byte \
            HID report without a report-ID byte, and replies go back to the sender. One log \
            line is written per CTAP command.

            User presence is answered by --presence: `auto` approves every request (what CI \
            wants), `deny` refuses every one.
            """)

    @OptionGroup var stateOptions: StateOptions

    @Option(name: .long, help: ArgumentHelp("Where to listen for CTAPHID-over-UDP reports.", valueName: "host:port"))
    var udp = HostPort(host: "127.0.0.1", port: 8111)

    @Option(name: .long, help: ArgumentHelp("How user-presence requests are answered: auto or deny.", valueName: "policy"))
    var presence: PresencePolicy = .auto

    @Option(name: .long, help: ArgumentHelp(
        "Attestation for new credentials: packed (batch certificate chaining to `vfido attestation root`), self (packed, signed by the credential itself) or none.",
        valueName: "format"))
    var attestation: AttestationMode = .packed

    @Option(name: .long, help: ArgumentHelp(
        "authenticatorReset is allowed only this many seconds after start, as on a real key; 0 allows it at any time.",
        valueName: "seconds"))
    var resetWindow: Int = 10

    @Option(name: .long, help: ArgumentHelp("Log level: trace, debug, info, notice, warning, error.", valueName: "level"))
    var logLevel: Logger.Level = .info

    func validate() throws {
        if resetWindow < 0 { throw ValidationError("--reset-window must be 0 or more seconds") }
    }

    func run() async throws {
        LoggingSystem.bootstrap { StreamLogHandler.standardError(label: $0) }
        var logger = Logger(label: "vfido")
        logger.logLevel = logLevel

        var configuration = DaemonConfiguration(stateDirectory: stateOptions.directory)
        configuration.udpHost = udp.host
        configuration.udpPort = udp.port
        configuration.presence = presence
        configuration.authenticator.attestation = attestation
        configuration.authenticator.resetWindow = resetWindow == 0 ? nil : .seconds(resetWindow)
        if !udp.isLoopback {
            logger.warning("UDP is listening on \(udp), beyond loopback: anyone who can reach it can use this key")
        }

        let daemon: Daemon
        do {
            daemon = try await Daemon.start(configuration, logger: logger)
        } catch {
            throw ValidationError("\(error)")
        }
        let aaguid = configuration.authenticator.aaguid.hex
        print("""
            vfido \(VFIDO.version): one virtual FIDO2 key is ready
              state        \(stateOptions.directory?.path ?? "in memory (--ephemeral)")
              AAGUID       \(aaguid)
              presence     \(presence.rawValue)   attestation \(attestation.rawValue)
              CTAPHID/UDP  \(udp)  (one 64-byte report per datagram; replies go to the sender)

            Connect:
              python-fido2  CtapHidDevice over a UDP CtapHidConnection to \(udp) (see docs/usage.md)
              libfido2      LD_PRELOAD=<udp shim> fido2-token -I udp:\(udp)
              attestation   vfido attestation root\(stateOptions.state.map { " --state \($0)" } ?? "")   (PEM for your RP's trust store)
            Stop with Ctrl-C.
            """)
        fflush(nil)

        await waitForTermination()
        logger.info("shutting down")
        await daemon.stop()
    }
}

/// Suspends until SIGINT or SIGTERM.
func waitForTermination() async {
    await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
        let once = SignalOnce(continuation)
        for sig in [SIGINT, SIGTERM] {
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .main)
            source.setEventHandler { once.fire() }
            source.resume()
            SignalOnce.sources.append(source)
        }
    }
}

final class SignalOnce: @unchecked Sendable {
    nonisolated(unsafe) static var sources: [DispatchSourceSignal] = []
    private var continuation: CheckedContinuation<Void, Never>?
    private let lock = NSLock()
    init(_ continuation: CheckedContinuation<Void, Never>) { self.continuation = continuation }
    func fire() {
        lock.lock()
        let c = continuation
        continuation = nil
        lock.unlock()
        c?.resume()
    }
}

extension PresencePolicy: ExpressibleByArgument {}
extension AttestationMode: ExpressibleByArgument {}
extension Logger.Level: @retroactive ExpressibleByArgument {}
