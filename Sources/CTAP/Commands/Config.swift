import CBOR
import CTAPWire

/// authenticatorConfig (CTAP 2.1 §6.11).
typealias ConfigRequest = SubcommandRequest<ConfigSubCommand>

extension SubcommandRequest where SubCommand == ConfigSubCommand {
    /// What pinUvAuthParam authenticates: 32 x 0xff, the command byte, the subcommand and its
    /// encoded parameters.
    var authenticatedMessage: [UInt8] {
        [UInt8](repeating: 0xFF, count: 32) + [CTAPCommand.config.rawValue] + subCommandAndParams
    }
}

extension Authenticator {
    func authenticatorConfig(_ request: ConfigRequest) throws(CTAPError) {
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
            return
        }
        try saveSettings()
    }

    /// setMinPINLength (§6.11.4): the minimum only grows; a PIN shorter than the new minimum
    /// must be changed before it is used again. CTAP 2.2's pinComplexityPolicy parameter turns
    /// the complexity policy on; like the minimum it only tightens (a reset restores the key's
    /// pre-configured policy). A key without the 2.2 additions ignores it, as 2.1 keys do.
    func setMinPINLength(_ params: CBORValue?) throws(CTAPError) {
        let newMin = try params?[SetMinPINLengthKey.newMinPINLength]?.expectInt("newMinPINLength") ?? pin.minLength
        var rpIDs: [String]?
        if let list = params?[SetMinPINLengthKey.minPinLengthRPIDs] {
            rpIDs = []
            for item in try list.expectArray("minPinLengthRPIDs") { rpIDs?.append(try item.expectText("minPinLengthRPIDs entry")) }
        }
        let forceChange = try params?[SetMinPINLengthKey.forceChangePin]?.expectBool("forceChangePin") ?? false
        let complexity = config.features.hasCTAP2_2Additions
            ? try params?[SetMinPINLengthKey.pinComplexityPolicy]?.expectBool("pinComplexityPolicy") : nil
        guard newMin >= pin.minLength else { throw CTAPError(.pinPolicyViolation, "the minimum PIN length cannot shrink") }
        guard newMin <= 63 else { throw CTAPError(.pinPolicyViolation, "a PIN has at most 63 bytes") }
        if let rpIDs, rpIDs.count > config.maxRPIDsForSetMinPINLength {
            throw CTAPError(.invalidParameter, "at most \(config.maxRPIDsForSetMinPINLength) minPinLengthRPIDs")
        }
        if forceChange && pin.hash == nil { throw CTAPError(.pinNotSet, "forceChangePin without a PIN") }
        if complexity == false && settings.pinComplexityPolicy {
            throw CTAPError(.pinPolicyViolation, "the PIN complexity policy cannot be turned off but by a reset")
        }
        pin.minLength = newMin
        if pin.hash != nil && (forceChange || (pin.length ?? 0) < newMin) { pin.forceChange = true }
        try savePin()
        if let rpIDs { settings.minPinLengthRPIDs = rpIDs }
        if complexity == true { settings.pinComplexityPolicy = true }
        if rpIDs != nil || complexity == true { try saveSettings() }
    }
}
