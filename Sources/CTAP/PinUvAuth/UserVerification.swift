import CTAPWire

/// How makeCredential, getAssertion and the token-guarded commands (authenticatorConfig,
/// credential management, large blobs) establish that the user is verified: a pinUvAuthToken's
/// pinUvAuthParam, or built-in user verification.
extension Authenticator {
    /// Checks a pinUvAuthParam over `message` by the current token, which must hold
    /// `permission`. Shared by authenticatorConfig, credential management and large blobs.
    func verifyTokenParam(_ param: [UInt8], protocol number: Int?, message: [UInt8], permission: TokenPermissions) throws(CTAPError) {
        let proto = try pinUvAuthProtocol(number)
        guard pinSession.tokenInUse, let issued = pinSession.tokenIssuedAt, clock.now - issued <= PinUvSession.tokenLifetime,
              proto.verify(key: pinSession.token, message, signature: param) else {
            throw CTAPError(.pinAuthInvalid, "pinUvAuthParam does not verify")
        }
        guard pinSession.permissions.contains(permission) else {
            throw CTAPError(.pinAuthInvalid, "token lacks permission 0x\(String(permission.rawValue, radix: 16))")
        }
    }

    /// Checks a pinUvAuthParam over clientDataHash for makeCredential or getAssertion
    /// (CTAP 2.1 §6.1.2 step 11, §6.2.2 step 9) and binds the token to the RP on first use.
    func verifyPinUvAuthParam(_ param: [UInt8], protocol number: Int?, clientDataHash: [UInt8],
                              permission: TokenPermissions, rpId: String) throws(CTAPError) {
        try verifyTokenParam(param, protocol: number, message: clientDataHash, permission: permission)
        if let bound = pinSession.permissionsRPID, bound != rpId {
            throw CTAPError(.pinAuthInvalid, "token is bound to \(bound)")
        }
        pinSession.permissionsRPID = rpId
        guard pinSession.userVerified else { throw CTAPError(.pinAuthInvalid, "token has no user verification") }
    }

    /// Step 11 of makeCredential, step 9 of getAssertion: the user is verified by the token
    /// (pinUvAuthParam) or by built-in UV, which is also the touch. Returns the flags earned.
    func verifyUser(pinUvAuthParam param: [UInt8]?, protocol number: Int?, clientDataHash: [UInt8], permission: TokenPermissions,
                    builtInUV: Bool, asking request: UserPresenceRequest) async throws(CTAPError) -> AuthenticatorData.Flags {
        if let param {
            try verifyPinUvAuthParam(param, protocol: number, clientDataHash: clientDataHash, permission: permission,
                                     rpId: request.rpId ?? "")
            return [.userVerified]
        }
        guard builtInUV else { return [] }
        try await performBuiltInUV(request)
        return [.userVerified, .userPresent]
    }

    /// Steps 1 and 2 of makeCredential and getAssertion (CTAP 2.1 §6.1.2, §6.2.2): an empty
    /// pinUvAuthParam is a platform's "touch to select" probe, answered after the touch with
    /// PIN_NOT_SET or PIN_INVALID; any other pinUvAuthParam needs a supported protocol.
    func pinUvAuthPreamble(_ param: [UInt8]?, protocol number: Int?, rpId: String) async throws(CTAPError) {
        guard let param else { return }
        if param.isEmpty {
            try await requireUserPresence(UserPresenceRequest(operation: .touchProbe, rpId: rpId))
            throw CTAPError(pin.hash == nil ? .pinNotSet : .pinInvalid, "touch probe")
        }
        _ = try pinUvAuthProtocol(number)
    }

    /// A request's pinUvAuthProtocol, which must be one this key offers (CTAP 2.0 keys know 1 only).
    func pinUvAuthProtocol(_ number: Int?) throws(CTAPError) -> PinUvAuthProtocol {
        guard let number else { throw CTAPError(.missingParameter, "pinUvAuthProtocol") }
        guard let proto = PinUvAuthProtocol(rawValue: number), config.features.pinUvAuthProtocols.contains(number) else {
            throw CTAPError(.invalidParameter, "pinUvAuthProtocol \(number)")
        }
        return proto
    }

    /// Steps 4 to 6 of makeCredential and getAssertion: whether built-in UV will verify the
    /// user. With a pinUvAuthParam the `uv` option is ignored; alwaysUv turns built-in UV on
    /// when there is one; otherwise, if UV is `required` and the key is protected by a PIN or
    /// built-in UV, the platform must bring a token (PUAT_REQUIRED).
    /// `silent` (getAssertion with up=false) is exempt from alwaysUv (§6.2.2 step 5 applies only
    /// when "up" is true): platforms probe silently for their credentials.
    func planUserVerification(_ options: Options, pinUvAuthParam: [UInt8]?, required: Bool, silent: Bool = false) throws(CTAPError) -> Bool {
        guard pinUvAuthParam == nil else { return false }
        if options["uv"] == true {
            guard config.builtInUV else { throw CTAPError(.invalidOption, "no built-in user verification") }
            return true
        }
        if settings.alwaysUv && !silent {
            if config.builtInUV { return true }
            throw CTAPError(pin.hash == nil ? .pinNotSet : .puatRequired, "alwaysUv: user verification is required")
        }
        if required && isProtectedByUV { throw CTAPError(.puatRequired, "user verification is configured and required here") }
        return false
    }
}
