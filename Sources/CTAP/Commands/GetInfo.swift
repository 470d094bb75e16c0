import CBOR

/// authenticatorGetInfo (CTAP 2.1 §6.4): claims only what this authenticator really does.
extension Authenticator {
    enum GetInfoKey: Int {
        case versions = 0x01, extensions = 0x02, aaguid = 0x03, options = 0x04, maxMsgSize = 0x05
        case pinUvAuthProtocols = 0x06, maxCredentialCountInList = 0x07, maxCredentialIdLength = 0x08
        case transports = 0x09, algorithms = 0x0A, maxSerializedLargeBlobArray = 0x0B, forcePINChange = 0x0C
        case minPINLength = 0x0D, firmwareVersion = 0x0E, maxCredBlobLength = 0x0F, maxRPIDsForSetMinPINLength = 0x10
        case preferredPlatformUvAttempts = 0x11, uvModality = 0x12, remainingDiscoverableCredentials = 0x14
    }

    /// The extensions makeCredential and getAssertion process.
    static let supportedExtensions = ["credBlob", "credProtect", "hmac-secret", "hmac-secret-mc", "largeBlobKey", "minPinLength"]
    /// PIN/UV auth protocols, as a set: every platform picks two when both are offered.
    static let pinUvAuthProtocols = [1, 2]
    /// FIDO registry user verification method: fingerprint_internal.
    static let uvModalityFingerprint = 0x02

    func getInfo() -> CBORValue {
        // U2F (CTAP1) is off while alwaysUv is on: it cannot verify the user (§7.2.2).
        let versions: [CBORValue] = (settings.alwaysUv ? [] : ["U2F_V2"]) + ["FIDO_2_0", "FIDO_2_1"]
        // Every list in canonical order of its encoded items, like map keys (docs/conformance.md).
        let list = { (items: [CBORValue]) in CBORValue.array(CBORWriter.canonicallySorted(items)) }
        return .intMap([
            (GetInfoKey.versions.rawValue, list(versions)),
            (GetInfoKey.extensions.rawValue, list(Self.supportedExtensions.map(CBORValue.text))),
            (GetInfoKey.aaguid.rawValue, .bytes(config.aaguid)),
            (GetInfoKey.options.rawValue, .textMap([
                ("rk", true), ("up", true), ("uv", config.builtInUV ? true : nil), ("plat", false),
                ("alwaysUv", .bool(settings.alwaysUv)), ("credMgmt", true), ("authnrCfg", true),
                ("clientPin", .bool(pin.hash != nil)), ("largeBlobs", true), ("pinUvAuthToken", true),
                ("setMinPINLength", true), ("makeCredUvNotRqd", .bool(!settings.alwaysUv)), ("credentialMgmtPreview", true),
                ("ep", .bool(settings.enterpriseAttestation)),
            ])),
            (GetInfoKey.maxMsgSize.rawValue, .int(config.maxMessageSize)),
            (GetInfoKey.pinUvAuthProtocols.rawValue, list(Self.pinUvAuthProtocols.map(CBORValue.int))),
            (GetInfoKey.maxCredentialCountInList.rawValue, .int(config.maxCredentialCountInList)),
            (GetInfoKey.maxCredentialIdLength.rawValue, .int(config.maxCredentialIdLength)),
            (GetInfoKey.transports.rawValue, list(["usb"])),
            (GetInfoKey.algorithms.rawValue, list(COSEAlgorithm.allCases.map {
                .textMap([("alg", .int($0.rawValue)), ("type", "public-key")])
            })),
            (GetInfoKey.maxSerializedLargeBlobArray.rawValue, .int(config.maxSerializedLargeBlobArray)),
            (GetInfoKey.forcePINChange.rawValue, .bool(pin.forceChange)),
            (GetInfoKey.minPINLength.rawValue, .int(pin.minLength)),
            (GetInfoKey.firmwareVersion.rawValue, .int(config.firmwareVersion)),
            (GetInfoKey.maxCredBlobLength.rawValue, .int(CredentialIDSealer.maxCredBlobLength)),
            (GetInfoKey.maxRPIDsForSetMinPINLength.rawValue, .int(config.maxRPIDsForSetMinPINLength)),
            (GetInfoKey.preferredPlatformUvAttempts.rawValue, config.builtInUV ? .int(3) : nil),
            (GetInfoKey.uvModality.rawValue, config.builtInUV ? .int(Self.uvModalityFingerprint) : nil),
            (GetInfoKey.remainingDiscoverableCredentials.rawValue,
             (try? store.residentCredentialCount()).map { .int(max(0, config.maxResidentCredentials - $0)) }),
        ])
    }
}
