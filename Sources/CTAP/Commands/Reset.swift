import CTAPWire

/// authenticatorReset (CTAP 2.1 §6.6): forgets every credential by wiping the store and
/// replacing the master key, so non-resident credential IDs stop opening too.
extension Authenticator {
    func reset() async throws(CTAPError) {
        if let window = config.resetWindow, clock.now - poweredOnAt > window {
            throw CTAPError(.notAllowed, "reset is only allowed within \(window) of power-up")
        }
        try await requireUserPresence(UserPresenceRequest(operation: .reset))
        try factoryReset()
    }

    /// What authenticatorReset does once allowed and approved; the control API calls it
    /// directly (a test's reset needs neither the window nor a touch).
    public func factoryReset() throws(CTAPError) {
        var fresh = secrets
        fresh.masterKey = random.bytes(32)
        try storeCall {
            try store.wipe()
            try store.saveSecret(DeviceSecrets.storeName, fresh.cbor.encoded)
        }
        secrets = fresh
        sealer = CredentialIDSealer(masterKey: fresh.masterKey)
        credentialSecrets = CredentialSecrets(masterKey: fresh.masterKey)
        pendingAssertions = nil
        largeBlobWrite = nil
        settings = DeviceSettings(config)
        pin = StoredPin()
        pinSession = PinUvSession(random: random)
        emit(.reset)
    }
}
