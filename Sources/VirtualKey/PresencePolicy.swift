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
