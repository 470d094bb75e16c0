/// authenticatorSelection (CTAP 2.1 §6.9): the platform asks the user to touch the key they
/// want to use.
extension Authenticator {
    func selection() async throws(CTAPError) {
        try await requireUserPresence(UserPresenceRequest(operation: .selection))
    }
}
