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
    var maxSerializedLargeBlobArray: Int?
    var forcePINChange: Bool
    var minPINLength: Int
    var firmwareVersion: Int
    var maxCredBlobLength: Int?
    var maxRPIDsForSetMinPINLength: Int
    var preferredPlatformUvAttempts: Int?
    var uvModality: Int?
    var remainingDiscoverableCredentials: Int?

    /// CTAP 2.0 defines members 0x01-0x06 only.
    var onlyCTAP2_0Members = false
    /// A FIDO_2_1_PRE key answers the 2.1 members its generation had (0x07-0x0A, 0x0D, 0x0E).
    var onlyPreviewMembers = false
    /// pinUvAuthProtocols in this order (a profile copies its model's), not canonically sorted.
    var keepProtocolOrder = false

    var cbor: CBORValue {
        // Every list in canonical order of its encoded items, like map keys (docs/conformance.md).
        func list(_ items: [CBORValue]) -> CBORValue { .array(CBORWriter.canonicallySorted(items)) }
        let ctap2_0: [(Key, CBORValue?)] = [
            (Key.versions, list(versions.map(CBORValue.text))),
            (.extensions, extensions.isEmpty ? nil : list(extensions.map(CBORValue.text))),
            (.aaguid, .bytes(aaguid)),
            (.options, .textMap(options.map { ($0.0, $0.1.map(CBORValue.bool)) })),
            (.maxMsgSize, .int(maxMsgSize)),
            (.pinUvAuthProtocols, keepProtocolOrder ? .array(pinUvAuthProtocols.map(CBORValue.int)) : list(pinUvAuthProtocols.map(CBORValue.int))),
        ]
        if onlyCTAP2_0Members { return .keyed(ctap2_0) }
        if onlyPreviewMembers {
            return .keyed(ctap2_0 + [
                (.maxCredentialCountInList, .int(maxCredentialCountInList)),
                (.maxCredentialIdLength, .int(maxCredentialIdLength)),
                (.transports, list(transports.map(CBORValue.text))),
                (.algorithms, list(algorithms.map { .textMap([("alg", .int($0.rawValue)), ("type", "public-key")]) })),
                (.minPINLength, .int(minPINLength)),
                (.firmwareVersion, .int(firmwareVersion)),
            ])
        }
        return .keyed(ctap2_0 + [
            (.maxCredentialCountInList, .int(maxCredentialCountInList)),
            (.maxCredentialIdLength, .int(maxCredentialIdLength)),
            (.transports, list(transports.map(CBORValue.text))),
            (.algorithms, list(algorithms.map { .textMap([("alg", .int($0.rawValue)), ("type", "public-key")]) })),
            (.maxSerializedLargeBlobArray, maxSerializedLargeBlobArray.map(CBORValue.int)),
            (.forcePINChange, .bool(forcePINChange)),
            (.minPINLength, .int(minPINLength)),
            (.firmwareVersion, .int(firmwareVersion)),
            (.maxCredBlobLength, maxCredBlobLength.map(CBORValue.int)),
            (.maxRPIDsForSetMinPINLength, .int(maxRPIDsForSetMinPINLength)),
            (.preferredPlatformUvAttempts, preferredPlatformUvAttempts.map(CBORValue.int)),
            (.uvModality, uvModality.map(CBORValue.int)),
            (.remainingDiscoverableCredentials, remainingDiscoverableCredentials.map(CBORValue.int)),
        ])
    }
}

extension Authenticator {
    /// FIDO registry user verification method: fingerprint_internal.
    static let uvModalityFingerprint = 0x02

    func getInfo() -> GetInfoResponse {
        let features = config.features
        let is2_1 = features.isCTAP2_1
        let preview = features.level == .ctap2_1_pre
        let extensions = features.effectiveExtensions
        // Options a CTAP 2.1 key adds; absent (not false) on a 2.0 key.
        let ctap2_1Options: [(String, Bool?)] = is2_1 ? [
            ("alwaysUv", settings.alwaysUv), ("credMgmt", true), ("authnrCfg", true),
            ("largeBlobs", features.largeBlobs ? true : nil), ("pinUvAuthToken", true),
            ("setMinPINLength", true), ("makeCredUvNotRqd", !settings.alwaysUv), ("credentialMgmtPreview", true),
            ("ep", settings.enterpriseAttestation),
        ] : preview ? [("credentialMgmtPreview", true)] : []
        return GetInfoResponse(
            // U2F (CTAP1) is off while alwaysUv is on: it cannot verify the user (§7.2.2).
            versions: (settings.alwaysUv ? [] : ["U2F_V2"]) + ["FIDO_2_0"] + (preview ? ["FIDO_2_1_PRE"] : []) + (is2_1 ? ["FIDO_2_1"] : []),
            extensions: Self.extensionOrder.filter(extensions.contains),
            aaguid: config.aaguid,
            options: [("rk", features.residentKeys), ("up", true), ("uv", config.builtInUV ? true : nil), ("plat", false)]
                + (preview ? [] : ctap2_1Options.prefix(3)) + [("clientPin", pin.hash != nil)]
                + (preview ? ctap2_1Options : Array(ctap2_1Options.dropFirst(3))),
            maxMsgSize: config.maxMessageSize,
            pinUvAuthProtocols: features.pinUvAuthProtocols,
            maxCredentialCountInList: config.maxCredentialCountInList,
            maxCredentialIdLength: config.maxCredentialIdLength,
            transports: config.transports,
            algorithms: config.algorithms,
            maxSerializedLargeBlobArray: features.largeBlobs ? config.maxSerializedLargeBlobArray : nil,
            forcePINChange: pin.forceChange,
            minPINLength: pin.minLength,
            firmwareVersion: config.firmwareVersion,
            maxCredBlobLength: extensions.contains("credBlob") ? CredentialIDSealer.maxCredBlobLength : nil,
            maxRPIDsForSetMinPINLength: config.maxRPIDsForSetMinPINLength,
            preferredPlatformUvAttempts: config.builtInUV ? 3 : nil,
            uvModality: config.builtInUV ? Self.uvModalityFingerprint : nil,
            remainingDiscoverableCredentials: features.residentKeys
                ? (try? store.residentCredentialCount()).map { max(0, config.maxResidentCredentials - $0) } : nil,
            onlyCTAP2_0Members: !is2_1 && !preview, onlyPreviewMembers: preview,
            keepProtocolOrder: features.pinUvAuthProtocolList != nil)
    }

    /// getInfo lists extensions in this order (it sorts them canonically anyway).
    static let extensionOrder = ["credBlob", "credProtect", "hmac-secret", "hmac-secret-mc", "largeBlobKey", "minPinLength"]
}
