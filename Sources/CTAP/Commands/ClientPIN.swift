import CBOR
import Foundation

/// authenticatorClientPIN (CTAP 2.1 §6.5.5).
struct ClientPINRequest {
    enum Key: Int {
        case pinUvAuthProtocol = 0x01, subCommand = 0x02, keyAgreement = 0x03, pinUvAuthParam = 0x04
        case newPinEnc = 0x05, pinHashEnc = 0x06, permissions = 0x09, rpId = 0x0A
    }
    enum SubCommand: Int {
        case getPINRetries = 0x01, getKeyAgreement = 0x02, setPIN = 0x03, changePIN = 0x04, getPINToken = 0x05
        case getPinUvAuthTokenUsingUvWithPermissions = 0x06, getUVRetries = 0x07
        case getPinUvAuthTokenUsingPinWithPermissions = 0x09
    }

    var subCommand: SubCommand
    var pinUvAuthProtocol: Int?
    var keyAgreement: CBORValue?
    var pinUvAuthParam: [UInt8]?
    var newPinEnc: [UInt8]?
    var pinHashEnc: [UInt8]?
    var permissions: Int?
    var rpId: String?

    init(_ p: Parameters) throws(CTAPError) {
        pinUvAuthProtocol = try p[Key.pinUvAuthProtocol].map { v throws(CTAPError) in try v.expectInt("pinUvAuthProtocol") }
        let sub = try p.required(Key.subCommand).expectInt("subCommand")
        guard let subCommand = SubCommand(rawValue: sub) else { throw CTAPError(.invalidSubcommand, "clientPIN subcommand \(sub)") }
        self.subCommand = subCommand
        if let ka = p[Key.keyAgreement] {
            _ = try ka.expectMap("keyAgreement")
            keyAgreement = ka
        }
        pinUvAuthParam = try p[Key.pinUvAuthParam].map { v throws(CTAPError) in try v.expectBytes("pinUvAuthParam") }
        newPinEnc = try p[Key.newPinEnc].map { v throws(CTAPError) in try v.expectBytes("newPinEnc") }
        pinHashEnc = try p[Key.pinHashEnc].map { v throws(CTAPError) in try v.expectBytes("pinHashEnc") }
        permissions = try p[Key.permissions].map { v throws(CTAPError) in try v.expectInt("permissions") }
        rpId = try p[Key.rpId].map { v throws(CTAPError) in try v.expectText("rpId") }
    }

    /// The protocol, which these subcommands require.
    func requireProtocol() throws(CTAPError) -> PinUvAuthProtocol {
        guard let number = pinUvAuthProtocol else { throw CTAPError(.missingParameter, "pinUvAuthProtocol") }
        guard let chosen = PinUvAuthProtocol(rawValue: number) else { throw CTAPError(.invalidParameter, "pinUvAuthProtocol \(number)") }
        return chosen
    }
}

extension Authenticator {
    enum ClientPINResponseKey: Int {
        case keyAgreement = 0x01, pinUvAuthToken = 0x02, pinRetries = 0x03, powerCycleState = 0x04, uvRetries = 0x05
    }

    /// Token permissions this authenticator can grant: only what it implements (no bio enrollment,
    /// no persistent read-only credential management).
    static let supportedPermissions: TokenPermissions = [
        .makeCredential, .getAssertion, .credentialManagement, .largeBlobWrite, .authenticatorConfig,
    ]

    func clientPIN(_ parameters: Parameters) async throws(CTAPError) -> CBORValue? {
        let request = try ClientPINRequest(parameters)
        switch request.subCommand {
        case .getPINRetries:
            // CTAP 2.1 §6.5.5.3 names no error here; with no PIN, deployed keys (YubiKey 5) and
            // python-fido2's device suite answer PIN_NOT_SET (docs/conformance.md).
            guard pin.hash != nil else { throw CTAPError(.pinNotSet, "getPINRetries without a PIN") }
            return .intMap([(ClientPINResponseKey.pinRetries.rawValue, .int(pin.retries)),
                            (ClientPINResponseKey.powerCycleState.rawValue, pinSession.blockedUntilPowerCycle ? .bool(true) : nil)])
        case .getKeyAgreement:
            _ = try request.requireProtocol()
            return .intMap([(ClientPINResponseKey.keyAgreement.rawValue, pinSession.publicKeyCOSE)])
        case .setPIN:
            try setPIN(request)
            return nil
        case .changePIN:
            try changePIN(request)
            return nil
        case .getPINToken, .getPinUvAuthTokenUsingPinWithPermissions:
            return try pinToken(request)
        case .getPinUvAuthTokenUsingUvWithPermissions:
            return try await uvToken(request)
        case .getUVRetries:
            guard config.builtInUV else { throw CTAPError(.notAllowed, "no built-in user verification") }
            return .intMap([(ClientPINResponseKey.uvRetries.rawValue, .int(settings.uvRetries))])
        }
    }

    /// The permissions a token request asks for, checked against what this authenticator grants.
    func requestedPermissions(_ r: ClientPINRequest) throws(CTAPError) -> TokenPermissions {
        guard let requested = r.permissions else { throw CTAPError(.missingParameter, "permissions") }
        guard requested != 0 else { throw CTAPError(.invalidParameter, "permissions = 0") }
        // §6.5.5.7.2 step 4: a defined permission we cannot grant is refused; undefined bits are
        // ignored (step 15 drops them).
        let permissions = TokenPermissions(rawValue: requested).intersection(.defined)
        guard Self.supportedPermissions.isSuperset(of: permissions) else {
            throw CTAPError(.unauthorizedPermission, "permissions 0x\(String(requested, radix: 16))")
        }
        return permissions
    }

    /// getPinUvAuthTokenUsingUvWithPermissions (§6.5.5.7.3): the prompt policy verifies the user.
    func uvToken(_ r: ClientPINRequest) async throws(CTAPError) -> CBORValue {
        guard config.builtInUV else { throw CTAPError(.notAllowed, "no built-in user verification") }
        guard let keyAgreement = r.keyAgreement else { throw CTAPError(.missingParameter, "keyAgreement") }
        let proto = try r.requireProtocol()
        let permissions = try requestedPermissions(r)
        let shared = try proto.sharedSecret(platformKey: keyAgreement, authenticatorKey: pinSession.keyAgreementKey)
        try await performBuiltInUV(UserPresenceRequest(operation: .pinUvAuthToken, rpId: r.rpId))
        return try issueToken(permissions: permissions, rpId: r.rpId, proto: proto, shared: shared)
    }

    /// A fresh pinUvAuthToken with these permissions, encrypted for the platform.
    func issueToken(permissions: TokenPermissions, rpId: String?, proto: PinUvAuthProtocol, shared: [UInt8]) throws(CTAPError) -> CBORValue {
        pinSession.resetToken(random)
        pinSession.tokenInUse = true
        pinSession.permissions = permissions
        pinSession.permissionsRPID = rpId
        pinSession.userVerified = true
        pinSession.tokenIssuedAt = clock.now
        let encrypted = try proto.encrypt(key: shared, pinSession.token, iv: random.bytes(16))
        return .intMap([(ClientPINResponseKey.pinUvAuthToken.rawValue, .bytes(encrypted))])
    }

    func setPIN(_ r: ClientPINRequest) throws(CTAPError) {
        guard let keyAgreement = r.keyAgreement, let newPinEnc = r.newPinEnc, let param = r.pinUvAuthParam else {
            throw CTAPError(.missingParameter, "setPIN needs keyAgreement, newPinEnc and pinUvAuthParam")
        }
        let proto = try r.requireProtocol()
        guard pin.hash == nil else { throw CTAPError(.pinAuthInvalid, "a PIN is already set; use changePIN") }  // §6.5.5.5 step 3
        let shared = try proto.sharedSecret(platformKey: keyAgreement, authenticatorKey: pinSession.keyAgreementKey)
        guard proto.verify(key: shared, newPinEnc, signature: param) else { throw CTAPError(.pinAuthInvalid, "setPIN pinUvAuthParam") }
        let newPin = try decryptNewPin(newPinEnc, proto: proto, shared: shared)
        pin.hash = Array(Digest.sha256(newPin).prefix(16))
        pin.length = String(decoding: newPin, as: UTF8.self).unicodeScalars.count
        pin.retries = StoredPin.maxRetries
        pin.forceChange = false
        try savePin()
    }

    func changePIN(_ r: ClientPINRequest) throws(CTAPError) {
        guard let keyAgreement = r.keyAgreement, let newPinEnc = r.newPinEnc, let pinHashEnc = r.pinHashEnc,
              let param = r.pinUvAuthParam else {
            throw CTAPError(.missingParameter, "changePIN needs keyAgreement, newPinEnc, pinHashEnc and pinUvAuthParam")
        }
        let proto = try r.requireProtocol()
        guard pin.hash != nil else { throw CTAPError(.pinNotSet) }
        if pinSession.blockedUntilPowerCycle { throw CTAPError(.pinAuthBlocked, "power cycle needed") }
        guard pin.retries > 0 else { throw CTAPError(.pinBlocked) }
        let shared = try proto.sharedSecret(platformKey: keyAgreement, authenticatorKey: pinSession.keyAgreementKey)
        guard proto.verify(key: shared, newPinEnc + pinHashEnc, signature: param) else {
            throw CTAPError(.pinAuthInvalid, "changePIN pinUvAuthParam")
        }
        try checkPinHash(pinHashEnc, proto: proto, shared: shared)
        let newPin = try decryptNewPin(newPinEnc, proto: proto, shared: shared)
        let newHash = Array(Digest.sha256(newPin).prefix(16))
        if pin.forceChange && newHash == pin.hash { throw CTAPError(.pinPolicyViolation, "a forced change needs a different PIN") }
        pin.hash = newHash
        pin.length = String(decoding: newPin, as: UTF8.self).unicodeScalars.count
        pin.forceChange = false
        try savePin()
        pinSession.resetToken(random)
    }

    func pinToken(_ r: ClientPINRequest) throws(CTAPError) -> CBORValue {
        guard let keyAgreement = r.keyAgreement, let pinHashEnc = r.pinHashEnc else {
            throw CTAPError(.missingParameter, "getPinToken needs keyAgreement and pinHashEnc")
        }
        let proto = try r.requireProtocol()
        let permissions: TokenPermissions
        if r.subCommand == .getPINToken {
            guard r.permissions == nil, r.rpId == nil else { throw CTAPError(.invalidParameter, "getPINToken takes no permissions") }
            permissions = [.makeCredential, .getAssertion]
        } else {
            permissions = try requestedPermissions(r)
        }
        guard pin.hash != nil else { throw CTAPError(.pinNotSet) }
        if pinSession.blockedUntilPowerCycle { throw CTAPError(.pinAuthBlocked, "power cycle needed") }
        guard pin.retries > 0 else { throw CTAPError(.pinBlocked) }
        let shared = try proto.sharedSecret(platformKey: keyAgreement, authenticatorKey: pinSession.keyAgreementKey)
        try checkPinHash(pinHashEnc, proto: proto, shared: shared)
        // §6.5.5.7.1 step 11 and §6.5.5.7.2 step 11 answer a forced change differently.
        if pin.forceChange {
            throw CTAPError(r.subCommand == .getPINToken ? .pinInvalid : .pinPolicyViolation, "the PIN must be changed first")
        }
        return try issueToken(permissions: permissions, rpId: r.rpId, proto: proto, shared: shared)
    }

    /// Checks an encrypted PIN hash against the stored one, counting retries down first
    /// (CTAP 2.1 §6.5.5.5 steps: decrement, compare, and on mismatch regenerate the key
    /// agreement key, then PIN_BLOCKED at 0 retries, PIN_AUTH_BLOCKED after 3 in a row).
    func checkPinHash(_ pinHashEnc: [UInt8], proto: PinUvAuthProtocol, shared: [UInt8]) throws(CTAPError) {
        pin.retries -= 1
        try savePin()
        // "If an error results, or a mismatch is detected" (§6.5.5.7.2 step 9.1): one answer.
        guard let hash = proto.decrypt(key: shared, pinHashEnc), let stored = pin.hash, hash == stored else {
            pinSession.regenerateKeyAgreementKey(random)
            if pin.retries == 0 { throw CTAPError(.pinBlocked, "no retries left") }
            pinSession.consecutiveMismatches += 1
            if pinSession.blockedUntilPowerCycle { throw CTAPError(.pinAuthBlocked, "3 wrong PINs in a row: power cycle needed") }
            throw CTAPError(.pinInvalid, "wrong PIN, \(pin.retries) retries left")
        }
        pin.retries = StoredPin.maxRetries
        pinSession.consecutiveMismatches = 0
        try savePin()
    }

    /// Decrypts and checks a new PIN: 64 bytes padded with zeros, at most 63 bytes of UTF-8, at
    /// least minPINLength code points.
    func decryptNewPin(_ newPinEnc: [UInt8], proto: PinUvAuthProtocol, shared: [UInt8]) throws(CTAPError) -> [UInt8] {
        // §6.5.5.5 steps 6 and 7 (§6.5.5.6 steps 9 and 10).
        guard let padded = proto.decrypt(key: shared, newPinEnc) else { throw CTAPError(.pinAuthInvalid, "newPinEnc does not decrypt") }
        guard padded.count == 64 else { throw CTAPError(.invalidParameter, "paddedNewPin is \(padded.count) bytes, not 64") }
        guard padded[63] == 0 else { throw CTAPError(.pinPolicyViolation, "PIN longer than 63 bytes") }
        let newPin = Array(padded.prefix(while: { $0 != 0 }))
        guard padded[newPin.count...].allSatisfy({ $0 == 0 }) else { throw CTAPError(.pinPolicyViolation, "PIN padding is not zeros") }
        guard let text = String(validating: newPin, as: UTF8.self) else { throw CTAPError(.pinPolicyViolation, "PIN is not UTF-8") }
        guard text.unicodeScalars.count >= pin.minLength else {
            throw CTAPError(.pinPolicyViolation, "PIN shorter than \(pin.minLength) code points")
        }
        return newPin
    }

    func savePin() throws(CTAPError) {
        let encoded = pin.cbor.encoded
        try storeCall { try store.saveSecret(StoredPin.storeName, encoded) }
    }

    /// Checks a pinUvAuthParam over `message` by the current token, which must hold
    /// `permission`. Shared by authenticatorConfig, credential management and large blobs.
    func verifyTokenParam(_ param: [UInt8], protocol number: Int?, message: [UInt8], permission: TokenPermissions) throws(CTAPError) {
        guard let number else { throw CTAPError(.missingParameter, "pinUvAuthProtocol") }
        guard let proto = PinUvAuthProtocol(rawValue: number) else { throw CTAPError(.invalidParameter, "pinUvAuthProtocol \(number)") }
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
        guard let number else { throw CTAPError(.missingParameter, "pinUvAuthProtocol") }
        guard PinUvAuthProtocol(rawValue: number) != nil else { throw CTAPError(.invalidParameter, "pinUvAuthProtocol \(number)") }
    }
}
