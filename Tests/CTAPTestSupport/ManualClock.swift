import CTAP
import Foundation

/// Time that moves only when a test says so (the calendar starts at a fixed date).
public final class ManualClock: AuthenticatorClock, @unchecked Sendable {
    private let start = ContinuousClock.now
    private let startDate = Date()  // frozen at creation: certificates are valid "now"
    public var offset: Duration = .zero
    public init() {}
    public var now: ContinuousClock.Instant { start + offset }
    public var date: Date { startDate.addingTimeInterval(Double(offset.components.seconds) + Double(offset.components.attoseconds) / 1e18) }
}
