import CTAPHID
import Foundation
import Logging

/// Carries reports from one transport into a key's session in arrival order: callers on any
/// thread yield, one task hands them to the session one at a time. A report goes with the sink
/// its reply reaches (a UDP peer's address), or with the feed's own `replies` (a USB or uhid
/// device's input pipe). A transport's power-cycle signal travels in the same stream, so it
/// takes effect between the reports before and after it.
///
/// The queue is bounded. A report that finds it full is refused, never dropped silently: its
/// sender gets CTAPHID ERROR CHANNEL_BUSY on its channel (and retries, as hosts do for a busy
/// key), and the refusal is counted and logged.
final class ReportFeed: @unchecked Sendable {
    enum Input {
        case report([UInt8], ReportSink?)
        case powerCycle
    }

    private let continuation: AsyncStream<Input>.Continuation
    private let lock = NSLock()
    private var refusals = 0
    private let logger: Logger
    private let fixedReplies: ReplySink

    /// `deliver` receives the inputs one at a time, in order.
    init(buffering: Int, logger: Logger, replies: ReplySink = ReplySink(), deliver: @escaping @Sendable (Input) async -> Void) {
        let (stream, continuation) = AsyncStream.makeStream(of: Input.self, bufferingPolicy: .bufferingOldest(buffering))
        self.continuation = continuation
        self.logger = logger
        fixedReplies = replies
        Task {
            for await input in stream { await deliver(input) }
        }
    }

    convenience init(session: HIDSession, buffering: Int = 1024, logger: Logger) {
        let replies = ReplySink()
        self.init(buffering: buffering, logger: logger, replies: replies) { input in
            switch input {
            case .report(let report, let sink):
                guard let sink = sink ?? replies.sink else { return }
                await session.receive(report, reply: sink)
            case .powerCycle:
                await session.powerCycle(keepingChannels: true)
            }
        }
    }

    /// Where replies go for reports yielded without a sink of their own.
    var replies: ReportSink? {
        get { fixedReplies.sink }
        set { fixedReplies.sink = newValue }
    }

    /// How many reports found the queue full.
    var refused: Int { lock.withLock { refusals } }

    func yield(_ report: [UInt8], reply: ReportSink? = nil) {
        guard case .dropped = continuation.yield(.report(report, reply)) else { return }
        let count = lock.withLock { refusals += 1; return refusals }
        // One line for the first refusal and then one per thousand: a flood must not flood the log.
        if count == 1 || count % 1000 == 0 {
            logger.warning("report queue full: \(count) reports refused with CHANNEL_BUSY so far")
        }
        guard let sink = reply ?? replies, let packet = CTAPHIDPacket(report: report) else { return }
        for busy in CTAPHIDPacket.frame(channel: packet.channel, command: .error, payload: [CTAPHIDError.channelBusy.rawValue]) {
            sink.send(busy)
        }
    }

    /// The transport's own "unplug and plug back in" (the UDP simulator's reboot datagram).
    func yieldPowerCycle() {
        if case .dropped = continuation.yield(.powerCycle) { logger.warning("report queue full: a power cycle was refused") }
    }

    /// No more reports: the feeding task ends.
    func finish() { continuation.finish() }
}

/// The fixed reply sink, set after the device that owns it exists.
final class ReplySink: @unchecked Sendable {
    private let lock = NSLock()
    private var value: ReportSink?
    var sink: ReportSink? {
        get { lock.withLock { value } }
        set { lock.withLock { value = newValue } }
    }
}
