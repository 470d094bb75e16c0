import CTAP
import Foundation

/// Something that happened to a key, for the control API's event stream.
public struct KeyEvent: Sendable {
    public enum Kind: Sendable {
        case authenticator(AuthenticatorEvent)
        case promptStarted(id: Int, UserPresenceRequest)
        case promptAnswered(id: Int, UserPresenceRequest, result: UserPresenceResult, by: String)
        /// One CTAP or U2F exchange: the command log.
        case command(name: String, status: String, milliseconds: Double)
        case plugged
        case unplugged
        case powerCycled
        /// A key added or removed through the control API.
        case added
        case removed
    }

    /// Increasing from 1 in the daemon's life (SSE event ids: a client sees what it missed).
    public let sequence: Int
    public let time: Date
    public let key: Int
    public let kind: Kind
}

/// Fans events out to every subscriber of the event stream and keeps the most recent ones.
/// Each subscriber's queue is bounded: one that falls `subscriberBuffer` events behind is cut
/// off and told so (`overflowed`), never silently skipped.
public final class EventHub: @unchecked Sendable {
    public static let recentLimit = 512
    public static let subscriberBuffer = 1024

    public final class Subscription: @unchecked Sendable {
        public let events: AsyncStream<KeyEvent>
        let continuation: AsyncStream<KeyEvent>.Continuation
        private let lock = NSLock()
        private var cutOff = false
        /// The subscriber fell too far behind and its stream ended early.
        public var overflowed: Bool { lock.withLock { cutOff } }
        func markOverflowed() { lock.withLock { cutOff = true } }

        init() {
            (events, continuation) = AsyncStream.makeStream(bufferingPolicy: .bufferingOldest(EventHub.subscriberBuffer))
        }
    }

    private let lock = NSLock()
    private var sequence = 0
    /// The latest events in a ring: `recent[next]` is the oldest once it is full.
    private var recent: [KeyEvent] = []
    private var next = 0
    private var subscribers: [ObjectIdentifier: Subscription] = [:]

    public init() {}

    public func publish(key: Int, _ kind: KeyEvent.Kind) {
        let (event, targets) = lock.withLock { () -> (KeyEvent, [Subscription]) in
            sequence += 1
            let event = KeyEvent(sequence: sequence, time: Date(), key: key, kind: kind)
            if recent.count < Self.recentLimit {
                recent.append(event)
            } else {
                recent[next] = event
                next = (next + 1) % Self.recentLimit
            }
            return (event, Array(subscribers.values))
        }
        for subscriber in targets {
            if case .dropped = subscriber.continuation.yield(event) {
                subscriber.markOverflowed()
                subscriber.continuation.finish()
                unsubscribe(subscriber)
            }
        }
    }

    /// The latest events, oldest first, after `sequence` if given.
    public func recentEvents(after sequence: Int = 0) -> [KeyEvent] {
        lock.withLock { orderedRecent.filter { $0.sequence > sequence } }
    }

    /// A live feed, starting with the recent events after `replayAfter` (nil: none).
    public func subscribe(replayAfter: Int? = nil) -> Subscription {
        let subscription = Subscription()
        lock.withLock {
            if let replayAfter {
                for event in orderedRecent where event.sequence > replayAfter { subscription.continuation.yield(event) }
            }
            subscribers[ObjectIdentifier(subscription)] = subscription
        }
        return subscription
    }

    /// The ring, oldest first (under the lock).
    private var orderedRecent: [KeyEvent] { Array(recent[next...] + recent[..<next]) }

    public func unsubscribe(_ subscription: Subscription) {
        _ = lock.withLock { subscribers.removeValue(forKey: ObjectIdentifier(subscription)) }
        subscription.continuation.finish()
    }

    public var subscriberCount: Int { lock.withLock { subscribers.count } }
}
