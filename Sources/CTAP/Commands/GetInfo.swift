import CBOR
import CTAPWire

/// authenticatorGetInfo (CTAP 2.1 §6.4): claims only what this authenticator really does.
struct GetInfoResponse: CommandResponse {
    typealias Key = GetInfoKey

    var versions: [String]
    var extensions: [String]
    var aaguid: [UInt8]
    /// Option IDs in the order written; absent ones are not claimed.
    var options: [(String, Bool?)]
    var maxMsgSize: Int
    var pinUvAuthProtocols: [Int]
    var maxCredentialCountInList: Int
    var maxCredentialIdLength: Int
    var transports: [String]
    var algorithms: [COSEAlgorithm]
    var maxSerializedLargeBlobArray: Int
    var forcePINChange: Bool
    var minPINLength: Int
    var firmwareVersion: Int
    var maxCredBlobLength: Int
    var maxRPIDsForSetMinPINLength: Int
    var preferredPlatformUvAttempts: Int?
    var uvModality: Int?
    var remainingDiscoverableCredentials: Int?

    var cbor: CBORValue {
        // Every list in canonical order of its encoded items, like map keys (docs/conformance.md).
        func list(_ items: [CBORValue]) -> CBORValue { .array(CBORWriter.canonicallySorted(items)) }
        return .keyed([
            (Key.versions, list(versions.map(CBORValue.text))),
            (.extensions, list(extensions.map(CBORValue.text))),
            (.aaguid, .bytes(aaguid)),
            (.options, .textMap(options.map { ($0.0, $0.1.map(CBORValue.bool)) })),
            (.maxMsgSize, .int(maxMsgSize)),
            (.pinUvAuthProtocols, list(pinUvAuthProtocols.map(CBORValue.int))),
            (.maxCredentialCountInList, .int(maxCredentialCountInList)),
            (.maxCredentialIdLength, .int(maxCredentialIdLength)),
            (.transports, list(transports.map(CBORValue.text))),
            (.algorithms, list(algorithms.map { .textMap([("alg", .int($0.rawValue)), ("type", "public-key")]) })),
            (.maxSerializedLargeBlobArray, .int(maxSerializedLargeBlobArray)),
            (.forcePINChange, .bool(forcePINChange)),
            (.minPINLength, .int(minPINLength)),
            (.firmwareVersion, .int(firmwareVersion)),
            (.maxCredBlobLength, .int(maxCredBlobLength)),
            (.maxRPIDsForSetMinPINLength, .int(maxRPIDsForSetMinPINLength)),
            (.preferredPlatformUvAttempts, preferredPlatformUvAttempts.map(CBORValue.int)),
            (.uvModality, uvModality.map(CBORValue.int)),
            (.remainingDiscoverableCredentials, remainingDiscoverableCredentials.map(CBORValue.int)),
        ])
    }
}

extension Authenticator {
    /// The extensions makeCredential and getAssertion process.
    static let supportedExtensions = ["credBlob", "credProtect", "hmac-secret", "hmac-secret-mc", "largeBlobKey", "minPinLength"]
    /// PIN/UV auth protocols, as a set: every platform picks two when both are offered.
    static let pinUvAuthProtocols = [1, 2]
    /// FIDO registry user verification method: fingerprint_internal.
    static let uvModalityFingerprint = 0x02

    func getInfo() -> GetInfoResponse {
        GetInfoResponse(
            // U2F (CTAP1) is off while alwaysUv is on: it cannot verify the user (§7.2.2).
            versions: (settings.alwaysUv ? [] : ["U2F_V2"]) + ["FIDO_2_0", "FIDO_2_1"],
            extensions: Self.supportedExtensions,
            aaguid: config.aaguid,
            options: [
                ("rk", true), ("up", true), ("uv", config.builtInUV ? true : nil), ("plat", false),
                ("alwaysUv", settings.alwaysUv), ("credMgmt", true), ("authnrCfg", true),
                ("clientPin", pin.hash != nil), ("largeBlobs", true), ("pinUvAuthToken", true),
                ("setMinPINLength", true), ("makeCredUvNotRqd", !settings.alwaysUv), ("credentialMgmtPreview", true),
                ("ep", settings.enterpriseAttestation),
            ],
            maxMsgSize: config.maxMessageSize,
            pinUvAuthProtocols: Self.pinUvAuthProtocols,
            maxCredentialCountInList: config.maxCredentialCountInList,
            maxCredentialIdLength: config.maxCredentialIdLength,
            transports: ["usb"],
            algorithms: COSEAlgorithm.allCases,
            maxSerializedLargeBlobArray: config.maxSerializedLargeBlobArray,
            forcePINChange: pin.forceChange,
            minPINLength: pin.minLength,
            firmwareVersion: config.firmwareVersion,
            maxCredBlobLength: CredentialIDSealer.maxCredBlobLength,
            maxRPIDsForSetMinPINLength: config.maxRPIDsForSetMinPINLength,
            preferredPlatformUvAttempts: config.builtInUV ? 3 : nil,
            uvModality: config.builtInUV ? Self.uvModalityFingerprint : nil,
            remainingDiscoverableCredentials: (try? store.residentCredentialCount()).map { max(0, config.maxResidentCredentials - $0) })
    }
}
