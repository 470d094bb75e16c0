import Foundation

/// Carries reports from one transport into a key's session in arrival order: callers on any
/// thread yield, one task hands them to the session one at a time. A report goes with the sink
/// its reply reaches (a UDP peer's address), or with the feed's own `replies` (a USB or uhid
/// device's input pipe). A transport's power-cycle signal travels in the same stream, so it
/// takes effect between the reports before and after it.
final class ReportFeed: @unchecked Sendable {
    enum Input {
        case report([UInt8], ReportSink?)
        case powerCycle
    }

    private let continuation: AsyncStream<Input>.Continuation
    private let lock = NSLock()
    private var fixedSink: ReportSink?

    init(session: HIDSession, buffering: Int = 1024) {
        let (stream, continuation) = AsyncStream.makeStream(of: Input.self, bufferingPolicy: .bufferingNewest(buffering))
        self.continuation = continuation
        Task { [self] in
            for await input in stream {
                switch input {
                case .report(let report, let sink):
                    guard let sink = sink ?? replies else { continue }
                    await session.receive(report, reply: sink)
                case .powerCycle:
                    await session.powerCycle(keepingChannels: true)
                }
            }
        }
    }

    /// Where replies go for reports yielded without a sink of their own.
    var replies: ReportSink? {
        get { lock.withLock { fixedSink } }
        set { lock.withLock { fixedSink = newValue } }
    }

    func yield(_ report: [UInt8], reply: ReportSink? = nil) { continuation.yield(.report(report, reply)) }

    /// The transport's own "unplug and plug back in" (the UDP simulator's reboot datagram).
    func yieldPowerCycle() { continuation.yield(.powerCycle) }

    /// No more reports: the feeding task ends.
    func finish() { continuation.finish() }
}
