import CBOR
import CTAPWire
import Foundation

/// authenticatorClientPIN (CTAP 2.1 §6.5.5).
struct ClientPINRequest {
    typealias Key = ClientPINKey
    typealias SubCommand = ClientPINSubCommand

    var subCommand: SubCommand
    var pinUvAuthProtocol: Int?
    var keyAgreement: CBORValue?
    var pinUvAuthParam: [UInt8]?
    var newPinEnc: [UInt8]?
    var pinHashEnc: [UInt8]?
    var permissions: Int?
    var rpId: String?

    init(_ p: Parameters) throws(CTAPError) {
        pinUvAuthProtocol = try p.int(Key.pinUvAuthProtocol)
        let sub = try p.required(Key.subCommand).expectInt("subCommand")
        guard let subCommand = SubCommand(rawValue: sub) else { throw CTAPError(.invalidSubcommand, "clientPIN subcommand \(sub)") }
        self.subCommand = subCommand
        keyAgreement = try p.map(Key.keyAgreement)
        pinUvAuthParam = try p.bytes(Key.pinUvAuthParam)
        newPinEnc = try p.bytes(Key.newPinEnc)
        pinHashEnc = try p.bytes(Key.pinHashEnc)
        permissions = try p.int(Key.permissions)
        rpId = try p.text(Key.rpId)
    }
}

/// What a clientPIN subcommand answers; members it does not set are absent.
struct ClientPINResponse: CommandResponse {
    typealias Key = ClientPINResponseKey

    var keyAgreement: CBORValue?
    var pinUvAuthToken: [UInt8]?
    var pinRetries: Int?
    /// Present (true) only while PIN use waits for a power cycle.
    var powerCycleState: Bool?
    var uvRetries: Int?

    var cbor: CBORValue {
        .keyed([
            (Key.keyAgreement, keyAgreement),
            (.pinUvAuthToken, pinUvAuthToken.map(CBORValue.bytes)),
            (.pinRetries, pinRetries.map(CBORValue.int)),
            (.powerCycleState, powerCycleState.map(CBORValue.bool)),
            (.uvRetries, uvRetries.map(CBORValue.int)),
        ])
    }
}

extension Authenticator {
    /// Token permissions this authenticator can grant: only what it implements (no bio
    /// enrollment; pcmr with the CTAP 2.2 additions).
    var grantablePermissions: TokenPermissions {
        let permissions: TokenPermissions = [.makeCredential, .getAssertion, .credentialManagement, .largeBlobWrite, .authenticatorConfig]
        return config.features.hasCTAP2_2Additions ? permissions.union(.persistentCredentialManagementReadOnly) : permissions
    }

    func clientPIN(_ request: ClientPINRequest) async throws(CTAPError) -> ClientPINResponse? {
        // CTAP 2.0 has subcommands 1 to 5 only.
        if !config.features.hasCTAP2_1Preview && request.subCommand.rawValue > ClientPINSubCommand.getPINToken.rawValue {
            throw CTAPError(.invalidSubcommand, "clientPIN subcommand \(request.subCommand) is CTAP 2.1")
        }
        switch request.subCommand {
        case .getPINRetries:
            // CTAP 2.1 §6.5.5.2 names no error here; with no PIN, deployed keys (YubiKey 5) and
            // python-fido2's device suite answer PIN_NOT_SET (docs/conformance.md).
            guard pin.hash != nil else { throw CTAPError(.pinNotSet, "getPINRetries without a PIN") }
            return ClientPINResponse(pinRetries: pin.retries, powerCycleState: pinSession.blockedUntilPowerCycle ? true : nil)
        case .getKeyAgreement:
            _ = try pinUvAuthProtocol(request.pinUvAuthProtocol)
            return ClientPINResponse(keyAgreement: pinSession.publicKeyCOSE)
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
            return ClientPINResponse(uvRetries: settings.uvRetries)
        }
    }

    /// The permissions a token request asks for, checked against what this authenticator grants.
    func requestedPermissions(_ r: ClientPINRequest) throws(CTAPError) -> TokenPermissions {
        guard let requested = r.permissions else { throw CTAPError(.missingParameter, "permissions") }
        guard requested != 0 else { throw CTAPError(.invalidParameter, "permissions = 0") }
        // §6.5.5.7.2 step 4: a defined permission we cannot grant is refused; undefined bits are
        // ignored (step 15 drops them).
        let permissions = TokenPermissions(rawValue: requested).intersection(.defined)
        guard grantablePermissions.isSuperset(of: permissions) else {
            throw CTAPError(.unauthorizedPermission, "permissions 0x\(String(requested, radix: 16))")
        }
        // CTAP 2.2 §6.5.5.7.2: the persistent token is a grant of its own, asked for alone
        // (RS-Key reads it so too; docs/conformance.md).
        if permissions.contains(.persistentCredentialManagementReadOnly) && permissions != .persistentCredentialManagementReadOnly {
            throw CTAPError(.unauthorizedPermission, "pcmr cannot be combined with other permissions")
        }
        return permissions
    }

    /// getPinUvAuthTokenUsingUvWithPermissions (§6.5.5.7.3): the prompt policy verifies the user.
    func uvToken(_ r: ClientPINRequest) async throws(CTAPError) -> ClientPINResponse {
        guard config.builtInUV else { throw CTAPError(.notAllowed, "no built-in user verification") }
        guard let keyAgreement = r.keyAgreement else { throw CTAPError(.missingParameter, "keyAgreement") }
        let proto = try pinUvAuthProtocol(r.pinUvAuthProtocol)
        let permissions = try requestedPermissions(r)
        let shared = try proto.sharedSecret(platformKey: keyAgreement, authenticatorKey: pinSession.keyAgreementKey)
        try await performBuiltInUV(UserPresenceRequest(operation: .pinUvAuthToken, rpId: r.rpId))
        return try issueToken(permissions: permissions, rpId: r.rpId, proto: proto, shared: shared)
    }

    /// A fresh pinUvAuthToken with these permissions, encrypted for the platform; for pcmr the
    /// persistent token instead (made on first request), and the session's token is untouched.
    func issueToken(permissions: TokenPermissions, rpId: String?, proto: PinUvAuthProtocol, shared: [UInt8]) throws(CTAPError) -> ClientPINResponse {
        if permissions == .persistentCredentialManagementReadOnly {
            if pin.persistentToken == nil {
                pin.persistentToken = random.bytes(32)
                try savePin()
            }
            return ClientPINResponse(pinUvAuthToken: try proto.encrypt(key: shared, pin.persistentToken!, iv: random.bytes(16)))
        }
        pinSession.resetToken(random)
        pinSession.tokenInUse = true
        pinSession.permissions = permissions
        pinSession.permissionsRPID = rpId
        pinSession.userVerified = true
        pinSession.tokenIssuedAt = clock.now
        let encrypted = try proto.encrypt(key: shared, pinSession.token, iv: random.bytes(16))
        return ClientPINResponse(pinUvAuthToken: encrypted)
    }

    func setPIN(_ r: ClientPINRequest) throws(CTAPError) {
        guard let keyAgreement = r.keyAgreement, let newPinEnc = r.newPinEnc, let param = r.pinUvAuthParam else {
            throw CTAPError(.missingParameter, "setPIN needs keyAgreement, newPinEnc and pinUvAuthParam")
        }
        let proto = try pinUvAuthProtocol(r.pinUvAuthProtocol)
        guard pin.hash == nil else { throw CTAPError(.pinAuthInvalid, "a PIN is already set; use changePIN") }  // §6.5.5.5 step 3
        let shared = try proto.sharedSecret(platformKey: keyAgreement, authenticatorKey: pinSession.keyAgreementKey)
        guard proto.verify(key: shared, newPinEnc, signature: param) else { throw CTAPError(.pinAuthInvalid, "setPIN pinUvAuthParam") }
        let newPin = try decryptNewPin(newPinEnc, proto: proto, shared: shared)
        pin.hash = Array(Digest.sha256(newPin).prefix(16))
        pin.length = String(decoding: newPin, as: UTF8.self).unicodeScalars.count
        pin.retries = StoredPin.maxRetries
        pin.forceChange = false
        pin.persistentToken = nil
        try savePin()
        try pinEntered()
        emit(.pinSet)
    }

    func changePIN(_ r: ClientPINRequest) throws(CTAPError) {
        guard let keyAgreement = r.keyAgreement, let newPinEnc = r.newPinEnc, let pinHashEnc = r.pinHashEnc,
              let param = r.pinUvAuthParam else {
            throw CTAPError(.missingParameter, "changePIN needs keyAgreement, newPinEnc, pinHashEnc and pinUvAuthParam")
        }
        let proto = try pinUvAuthProtocol(r.pinUvAuthProtocol)
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
        pin.persistentToken = nil  // §6.5.5.6: resetPersistentPinUvAuthToken
        try savePin()
        pinSession.resetToken(random)
        emit(.pinChanged)
    }

    func pinToken(_ r: ClientPINRequest) throws(CTAPError) -> ClientPINResponse {
        guard let keyAgreement = r.keyAgreement, let pinHashEnc = r.pinHashEnc else {
            throw CTAPError(.missingParameter, "getPinToken needs keyAgreement and pinHashEnc")
        }
        let proto = try pinUvAuthProtocol(r.pinUvAuthProtocol)
        let permissions: TokenPermissions
        if r.subCommand == .getPINToken {
            guard r.permissions == nil, r.rpId == nil else { throw CTAPError(.invalidParameter, "getPINToken takes no permissions") }
            // CTAP 2.1 §6.5.5.7.1: the legacy token is for makeCredential and getAssertion. A
            // FIDO_2_1_PRE key knew no permissions: its token also manages credentials (0x41), as
            // YubiKey 5.2-5.4 do and python-fido2 expects of such a key.
            permissions = config.features.level == .ctap2_1_pre
                ? [.makeCredential, .getAssertion, .credentialManagement] : [.makeCredential, .getAssertion]
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
        try pinEntered()
    }

    /// The user just entered the right PIN (or set one): built-in UV counts from zero again.
    func pinEntered() throws(CTAPError) {
        guard settings.uvCountSinceLastPinEntry != 0 else { return }
        settings.uvCountSinceLastPinEntry = 0
        try saveSettings()
    }

    /// Decrypts and checks a new PIN: 64 bytes padded with zeros, at most 63 bytes of UTF-8, at
    /// least minPINLength code points, and the complexity policy while it is enforced.
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
        if settings.pinComplexityPolicy, let weakness = PinComplexity.weakness(of: text) {
            throw CTAPError(.pinPolicyViolation, "the PIN complexity policy refuses \(weakness)")
        }
        return newPin
    }

    func savePin() throws(CTAPError) {
        let encoded = pin.cbor.encoded
        try storeCall { try store.saveSecret(StoredPin.storeName, encoded) }
    }
}
