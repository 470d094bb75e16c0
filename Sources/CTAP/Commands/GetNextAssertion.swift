import CBOR
import CTAPWire

/// authenticatorGetNextAssertion (CTAP 2.1 §6.3).
extension Authenticator {
    static let nextAssertionTimeout: Duration = .seconds(30)

    func getNextAssertion() throws(CTAPError) -> GetAssertionResponse {
        guard var pending = pendingAssertions else { throw CTAPError(.notAllowed, "no getAssertion to continue") }
        guard clock.now - pending.startedAt <= Self.nextAssertionTimeout, !pending.remaining.isEmpty else {
            pendingAssertions = nil
            throw CTAPError(.notAllowed, "getNextAssertion after the timer or the last credential")
        }
        let next = pending.remaining.removeFirst()
        pending.startedAt = clock.now
        pendingAssertions = pending.remaining.isEmpty ? nil : pending
        return try assertion(next, pending, numberOfCredentials: nil)
    }
}
