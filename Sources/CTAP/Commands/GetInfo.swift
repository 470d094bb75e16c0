import CBOR

/// authenticatorGetInfo (CTAP 2.1 §6.4): claims only what this authenticator really does.
extension Authenticator {
    enum GetInfoKey: Int {
        case versions = 0x01, extensions = 0x02, aaguid = 0x03, options = 0x04, maxMsgSize = 0x05
        case pinUvAuthProtocols = 0x06, maxCredentialCountInList = 0x07, maxCredentialIdLength = 0x08
        case transports = 0x09, algorithms = 0x0A, forcePINChange = 0x0C, minPINLength = 0x0D, firmwareVersion = 0x0E
        case remainingDiscoverableCredentials = 0x14
    }

    func getInfo() -> CBORValue {
        .intMap([
            (GetInfoKey.versions.rawValue, .array(["FIDO_2_0", "FIDO_2_1"])),
            (GetInfoKey.extensions.rawValue, .array(["credProtect"])),
            (GetInfoKey.aaguid.rawValue, .bytes(config.aaguid)),
            (GetInfoKey.options.rawValue, .textMap([
                ("rk", true), ("up", true), ("plat", false), ("clientPin", .bool(pin.hash != nil)),
                ("pinUvAuthToken", true), ("makeCredUvNotRqd", true), ("credMgmt", true), ("credentialMgmtPreview", true),
            ])),
            (GetInfoKey.maxMsgSize.rawValue, .int(config.maxMessageSize)),
            (GetInfoKey.pinUvAuthProtocols.rawValue, .array([2, 1])),
            (GetInfoKey.maxCredentialCountInList.rawValue, .int(config.maxCredentialCountInList)),
            (GetInfoKey.maxCredentialIdLength.rawValue, .int(config.maxCredentialIdLength)),
            (GetInfoKey.transports.rawValue, .array(["usb"])),
            (GetInfoKey.algorithms.rawValue, .array(COSEAlgorithm.allCases.map {
                .textMap([("alg", .int($0.rawValue)), ("type", "public-key")])
            })),
            (GetInfoKey.forcePINChange.rawValue, .bool(pin.forceChange)),
            (GetInfoKey.minPINLength.rawValue, .int(pin.minLength)),
            (GetInfoKey.firmwareVersion.rawValue, .int(config.firmwareVersion)),
            (GetInfoKey.remainingDiscoverableCredentials.rawValue,
             (try? store.residentCredentialCount()).map { .int(max(0, config.maxResidentCredentials - $0)) }),
        ])
    }
}
