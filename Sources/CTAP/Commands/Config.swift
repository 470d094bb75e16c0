import CBOR

/// authenticatorConfig (CTAP 2.1 §6.11).
struct ConfigRequest {
    enum Key: Int { case subCommand = 0x01, subCommandParams = 0x02, pinUvAuthProtocol = 0x03, pinUvAuthParam = 0x04 }
    enum ParamKey: Int { case newMinPINLength = 0x01, minPinLengthRPIDs = 0x02, forceChangePin = 0x03 }
    enum SubCommand: Int { case enableEnterpriseAttestation = 0x01, toggleAlwaysUv = 0x02, setMinPINLength = 0x03 }

    var subCommand: SubCommand
    var params: CBORValue?
    var pinUvAuthProtocol: Int?
    var pinUvAuthParam: [UInt8]?

    init(_ p: Parameters) throws(CTAPError) {
        let sub = try p.required(Key.subCommand).expectInt("subCommand")
        guard let subCommand = SubCommand(rawValue: sub) else { throw CTAPError(.invalidSubcommand, "config subcommand \(sub)") }
        self.subCommand = subCommand
        if let params = p[Key.subCommandParams] {
            _ = try params.expectMap("subCommandParams")
            self.params = params
        }
        pinUvAuthProtocol = try p[Key.pinUvAuthProtocol].map { v throws(CTAPError) in try v.expectInt("pinUvAuthProtocol") }
        pinUvAuthParam = try p[Key.pinUvAuthParam].map { v throws(CTAPError) in try v.expectBytes("pinUvAuthParam") }
    }

    /// What pinUvAuthParam authenticates: 32 x 0xff, the command byte, the subcommand, the
    /// encoded parameters (our reader only accepts canonical CBOR, so re-encoding is exact).
    var authenticatedMessage: [UInt8] {
        [UInt8](repeating: 0xFF, count: 32) + [CTAPCommand.config.rawValue, UInt8(subCommand.rawValue)] + (params?.encoded ?? [])
    }
}

extension Authenticator {
    func authenticatorConfig(_ parameters: Parameters) throws(CTAPError) -> CBORValue? {
        let request = try ConfigRequest(parameters)
        if let param = request.pinUvAuthParam {
            try verifyTokenParam(param, protocol: request.pinUvAuthProtocol, message: request.authenticatedMessage,
                                 permission: .authenticatorConfig)
        } else if isProtectedByUV || settings.alwaysUv {
            throw CTAPError(.puatRequired, "authenticatorConfig needs a pinUvAuthToken with the acfg permission")
        }
        switch request.subCommand {
        case .enableEnterpriseAttestation:
            settings.enterpriseAttestation = true
        case .toggleAlwaysUv:
            settings.alwaysUv.toggle()
        case .setMinPINLength:
            try setMinPINLength(request.params)
            return nil
        }
        try saveSettings()
        return nil
    }

    /// setMinPINLength (§6.11.4): the minimum only grows; a PIN shorter than the new minimum
    /// must be changed before it is used again.
    func setMinPINLength(_ params: CBORValue?) throws(CTAPError) {
        let newMin = try params?[int: ConfigRequest.ParamKey.newMinPINLength.rawValue]?.expectInt("newMinPINLength") ?? pin.minLength
        var rpIDs: [String]?
        if let list = params?[int: ConfigRequest.ParamKey.minPinLengthRPIDs.rawValue] {
            rpIDs = []
            for item in try list.expectArray("minPinLengthRPIDs") { rpIDs?.append(try item.expectText("minPinLengthRPIDs entry")) }
        }
        let forceChange = try params?[int: ConfigRequest.ParamKey.forceChangePin.rawValue]?.expectBool("forceChangePin") ?? false
        guard newMin >= pin.minLength else { throw CTAPError(.pinPolicyViolation, "the minimum PIN length cannot shrink") }
        guard newMin <= 63 else { throw CTAPError(.pinPolicyViolation, "a PIN has at most 63 bytes") }
        if let rpIDs, rpIDs.count > config.maxRPIDsForSetMinPINLength {
            throw CTAPError(.invalidParameter, "at most \(config.maxRPIDsForSetMinPINLength) minPinLengthRPIDs")
        }
        if forceChange && pin.hash == nil { throw CTAPError(.pinNotSet, "forceChangePin without a PIN") }
        pin.minLength = newMin
        if pin.hash != nil && (forceChange || (pin.length ?? 0) < newMin) { pin.forceChange = true }
        try savePin()
        if let rpIDs {
            settings.minPinLengthRPIDs = rpIDs
            try saveSettings()
        }
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
}
