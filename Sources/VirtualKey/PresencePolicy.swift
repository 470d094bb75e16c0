import CTAP

/// How a virtual key answers requests for user presence (DESIGN.md §6).
public enum PresencePolicy: String, Sendable, CaseIterable {
    /// Approve at once: the CI default.
    case auto
    /// Refuse every request (CTAP2_ERR_OPERATION_DENIED).
    case deny
}

/// Answers every prompt the same way.
public struct FixedPresence: UserPresence {
    public let policy: PresencePolicy
    public init(_ policy: PresencePolicy) { self.policy = policy }
    public func confirm(_ request: UserPresenceRequest) async -> UserPresenceResult {
        if Task.isCancelled { return .cancelled }
        switch policy {
        case .auto: return .approved
        case .deny: return .denied
        }
    }
}

/// Wraps a prompt policy and knows whether a prompt is waiting, so KEEPALIVEs can say
/// UPNEEDED rather than PROCESSING (CTAP 2.1 §11.2.9.2.1).
public final class TrackedPresence: UserPresence, @unchecked Sendable {
    let inner: UserPresence
    private let lock = NSLock()
    private var waiting = 0

    public init(_ inner: UserPresence) { self.inner = inner }

    public var isWaiting: Bool {
        lock.lock()
        defer { lock.unlock() }
        return waiting > 0
    }

    public func confirm(_ request: UserPresenceRequest) async -> UserPresenceResult {
        adjust(+1)
        defer { adjust(-1) }
        return await inner.confirm(request)
    }

    private func adjust(_ delta: Int) {
        lock.lock()
        waiting += delta
        lock.unlock()
    }
}

import Foundation
