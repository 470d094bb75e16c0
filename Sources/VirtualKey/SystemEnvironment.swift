import CTAP
import Foundation

/// The real clock and the system's CSPRNG, which the daemon injects into each authenticator.
public struct SystemClock: AuthenticatorClock {
    public init() {}
    public var now: ContinuousClock.Instant { .now }
    public var date: Date { Date() }
}

public struct SystemRandom: RandomSource {
    public init() {}
    public func bytes(_ count: Int) -> [UInt8] {
        var generator = SystemRandomNumberGenerator()
        return (0..<count).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
    }
}
