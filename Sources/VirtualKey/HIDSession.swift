import Bytes
import CTAP
import CTAPHID
import CTAPWire
import Faults
import Foundation
import Logging

/// Where a report goes back to: a transport's connection or peer address.
public struct ReportSink: Sendable {
    public let send: @Sendable ([UInt8]) -> Void
    public init(_ send: @escaping @Sendable ([UInt8]) -> Void) { self.send = send }
}

/// One virtual key's HID interface: the CTAPHID state machine driven by reports from any
/// transport, requests run on the authenticator, KEEPALIVEs while they run, replies routed to
/// whoever last spoke on the channel.
public actor HIDSession {
    public static let tick: Duration = .milliseconds(100)

    /// How a key paces itself, set by quirks (`vfido serve --processing-delay`, `--keepalive-interval`).
    public struct Timing: Sendable {
        /// Each CTAP or U2F request waits this long before it runs (KEEPALIVEs are sent meanwhile).
        public var processingDelay: Duration = .zero
        /// KEEPALIVE every this long while a request runs (CTAP 2.1 §11.2.9.2.1 asks for 100 ms).
        public var keepaliveInterval: Duration = HIDSession.tick
        public init(processingDelay: Duration = .zero, keepaliveInterval: Duration = HIDSession.tick) {
            self.processingDelay = processingDelay
            self.keepaliveInterval = keepaliveInterval
        }
    }
    let timing: Timing
    var lastKeepalive = ContinuousClock.now

    let authenticator: Authenticator
    /// Lies told to the host on purpose (`vfido serve --fault`); nil: none.
    let faults: FaultInjector?
    let presence: TrackedPresence?
    let logger: Logger
    var machine: CTAPHIDStateMachine
    var sinks: [UInt32: ReportSink] = [:]
    var running: (channel: UInt32, task: Task<Void, Never>)?
    var ticker: Task<Void, Never>?
    /// Hears every exchange: command, status name, milliseconds (the event stream's command log).
    var commandObserver: (@Sendable (_ command: String, _ status: String, _ milliseconds: Double) -> Void)?

    public func observeCommands(_ observer: @escaping @Sendable (_ command: String, _ status: String, _ milliseconds: Double) -> Void) {
        commandObserver = observer
    }

    public init(authenticator: Authenticator, presence: TrackedPresence? = nil, logger: Logger,
                configuration: CTAPHIDStateMachine.Configuration = .init(), timing: Timing = Timing(),
                faults: FaultInjector? = nil, firstChannel: UInt32 = UInt32.random(in: 1..<0x1000_0000)) {
        self.timing = timing
        self.faults = faults
        self.authenticator = authenticator
        self.presence = presence
        self.logger = logger
        self.machine = CTAPHIDStateMachine(configuration: configuration, firstChannel: firstChannel)
    }

    /// Starts the timer that sends KEEPALIVEs and expires stalled messages.
    public func start() {
        guard ticker == nil else { return }
        presence?.whenWaitBegins { [weak self] in
            Task { await self?.userPresenceNeeded() }
        }
        ticker = Task { [weak self] in
            while !Task.isCancelled {
                try? await Task.sleep(for: HIDSession.tick)
                await self?.onTick()
            }
        }
    }

    public func stop() {
        ticker?.cancel()
        ticker = nil
        running?.task.cancel()
    }

    /// A report from the host; `reply` reaches the sender.
    public func receive(_ report: [UInt8], reply: ReportSink) {
        let packet = CTAPHIDPacket(report: report)
        if let packet {
            sinks[packet.channel] = reply
        } else {
            logger.warning("dropped a \(report.count)-byte report (CTAPHID reports are 64 bytes)")
        }
        perform(machine.receive(packet, now: .now))
        if sinks.count > machine.configuration.maxChannels + 1 { forgetSinks() }
    }

    /// Keeps the reply sinks of the channels the state machine still knows (and of broadcast
    /// and the running request), so reports on channels it refused or forgot leave nothing
    /// behind: per-sender state stays bounded by its channel table.
    func forgetSinks() {
        sinks = sinks.filter { channel, _ in
            channel == CTAPHID.broadcastChannel || channel == running?.channel || machine.knows(channel)
        }
    }

    /// Unplugs the key and plugs it back in: the running request is abandoned without an
    /// answer and the authenticator forgets its per-boot state. A real unplug also forgets the
    /// CTAPHID channels; the UDP simulator's reboot keeps them (`keepingChannels`), as suites
    /// written for it expect.
    public func powerCycle(keepingChannels: Bool) async {
        running?.task.cancel()
        running = nil
        machine.powerCycle(keepingChannels: keepingChannels)
        await authenticator.powerCycle()
        logger.info("power cycle\(keepingChannels ? " (CTAPHID channels kept)" : "")")
    }

    func onTick() {
        perform(machine.poll(now: .now))
        guard ContinuousClock.now - lastKeepalive >= timing.keepaliveInterval else { return }
        lastKeepalive = .now
        perform(machine.keepalive(presence?.isWaiting == true ? .userPresenceNeeded : .processing))
    }

    func userPresenceNeeded() {
        perform(machine.keepalive(.userPresenceNeeded))
    }

    /// `command`: what the replies among `actions` answer, for faults chosen per command
    /// (nil: the CTAPHID command of each reply).
    func perform(_ actions: [CTAPHIDStateMachine.Action], command: String? = nil) {
        var message: [[UInt8]] = []
        for action in actions {
            if case .send(let report) = action {
                // An initialisation packet (command bit set) starts the next message.
                if report.count > 4, report[4] & 0x80 != 0 { send(message, command: command); message = [] }
                message.append(report)
                continue
            }
            send(message, command: command)
            message = []
            switch action {
            case .send: break
            case .execute(let request):
                execute(request)
            case .cancel(let channel):
                if let running, running.channel == channel {
                    logger.info("CTAPHID cancel on channel \(hex(channel))")
                    running.task.cancel()
                }
            case .wink(let channel):
                logger.info("CTAPHID wink on channel \(hex(channel))")
            }
        }
        send(message, command: command)
    }

    /// One message's packets to whoever last spoke on its channel, through the fault injector
    /// when there is one (a packet it moves to another channel still goes to the same sender).
    func send(_ message: [[UInt8]], command: String?) {
        guard let first = message.first, let sink = sinks[CTAPHIDPacket.channel(of: first)] else { return }
        guard let faults else { return message.forEach(sink.send) }
        let name = command ?? CTAPHIDCommand(rawValue: first.count > 4 ? first[4] : 0).description.lowercased()
        let timed = faults.mutateFrames(message, command: name)
        for packet in timed where packet.delay == .zero { sink.send(packet.report) }
        let late = timed.filter { $0.delay > .zero }
        guard let delay = late.map(\.delay).max() else { return }
        Task {
            try? await Task.sleep(for: delay)
            for packet in late { sink.send(packet.report) }
        }
    }

    func execute(_ request: CTAPHIDStateMachine.Request) {
        let authenticator = self.authenticator
        let delay = timing.processingDelay
        let task = Task {
            let started = ContinuousClock.now
            if delay > .zero {
                do { try await Task.sleep(for: delay) } catch {
                    // Cancelled while it waited (CTAPHID_CANCEL): answered as a cancelled request is.
                    if request.command == .cbor {
                        let status = CTAPStatus.keepaliveCancel
                        self.finish(request, [status.rawValue], log: "CTAP request", outcome: "\(status) (cancelled in the processing delay)",
                                    status: status.name, elapsed: ContinuousClock.now - started)
                    }
                    return
                }
            }
            if request.command == .cbor {
                let exchange = await authenticator.handle(request.payload)
                let name = CTAPCommand(rawValue: exchange.command).map { "\($0)" } ?? "command 0x" + [exchange.command].hex
                var outcome = "\(exchange.status)"
                if let error = exchange.error, !error.reason.isEmpty { outcome += " (\(error.reason))" }
                let response = self.faults?.mutateResponse(exchange.response, command: name, request: request.payload) ?? exchange.response
                self.finish(request, response, log: "CTAP \(name)", outcome: outcome, status: exchange.status.name,
                            elapsed: ContinuousClock.now - started, command: name)
            } else {
                var (response, reason) = await authenticator.handleU2F(request.payload)
                response = self.faults?.mutateResponse(response, command: "u2f", request: request.payload) ?? response
                let ins = request.payload.count > 1 ? "0x" + [request.payload[1]].hex.uppercased() : "?"
                self.finish(request, response, log: "U2F INS \(ins)", outcome: reason, status: reason, elapsed: ContinuousClock.now - started,
                            command: "u2f")
            }
        }
        running = (request.channel, task)
    }

    func finish(_ request: CTAPHIDStateMachine.Request, _ response: [UInt8], log: String, outcome: String, status: String, elapsed: Duration,
                command: String? = nil) {
        if running?.channel == request.channel { running = nil }
        let ms = Double(elapsed.components.attoseconds) / 1e15 + Double(elapsed.components.seconds) * 1000
        logger.info("\(log) -> \(outcome) in \(String(format: "%.1f", ms)) ms")
        commandObserver?(log, status, ms)
        perform(machine.complete(channel: request.channel, command: request.command, payload: response), command: command)
    }
}

func hex(_ channel: UInt32) -> String { channel.bigEndianBytes.hex }

