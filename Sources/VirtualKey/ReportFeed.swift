import Foundation

/// Carries reports from one transport into a key's session in arrival order: callers on any
/// thread yield, one task hands them to the session one at a time. A report goes with the sink
/// its reply reaches (a UDP peer's address), or with the feed's own `replies` (a USB or uhid
/// device's input pipe).
final class ReportFeed: @unchecked Sendable {
    private let continuation: AsyncStream<([UInt8], ReportSink?)>.Continuation
    private let lock = NSLock()
    private var fixedSink: ReportSink?

    init(session: HIDSession, buffering: Int = 1024) {
        let (stream, continuation) = AsyncStream.makeStream(of: ([UInt8], ReportSink?).self,
                                                            bufferingPolicy: .bufferingNewest(buffering))
        self.continuation = continuation
        Task { [self] in
            for await (report, sink) in stream {
                guard let sink = sink ?? replies else { continue }
                await session.receive(report, reply: sink)
            }
        }
    }

    /// Where replies go for reports yielded without a sink of their own.
    var replies: ReportSink? {
        get { lock.withLock { fixedSink } }
        set { lock.withLock { fixedSink = newValue } }
    }

    func yield(_ report: [UInt8], reply: ReportSink? = nil) { continuation.yield((report, reply)) }

    /// No more reports: the feeding task ends.
    func finish() { continuation.finish() }
}
