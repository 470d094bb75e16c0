import CBOR
import Crypto
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
    // CTAP 2.2 (§6.4), on a key with the 2.2 additions.
    var attestationFormats: [String]?
    var uvCountSinceLastPinEntry: Int?
    var longTouchForReset: Bool?
    var encIdentifier: [UInt8]?
    var transportsForReset: [String]?
    var pinComplexityPolicy: Bool?
    var pinComplexityPolicyURL: String?
    var maxPINLength: Int?
    var encCredStoreState: [UInt8]?
    var authenticatorConfigCommands: [Int]?

    /// The members this key's generation has; nil: all of them (CTAP 2.1).
    var members: Set<Key>?

    /// CTAP 2.0 (2019) §5.4 defines 0x01-0x06; a FIDO_2_1_PRE key adds 0x07-0x0A, 0x0D and 0x0E
    /// (what a YubiKey 5.4 answers, docs/profiles.md).
    static let ctap2_0Members: Set<Key> = [.versions, .extensions, .aaguid, .options, .maxMsgSize, .pinUvAuthProtocols]
    static let previewMembers = ctap2_0Members.union([.maxCredentialCountInList, .maxCredentialIdLength, .transports, .algorithms,
                                                      .minPINLength, .firmwareVersion])
    static let allMembers = Set(GetInfoKey.allCases)

    var cbor: CBORValue {
        // Every list in canonical order of its encoded items, like map keys (docs/conformance.md);
        // pinUvAuthProtocols in the key's own order (canonical for vfido's, a model's for a profile).
        func list(_ items: [CBORValue]) -> CBORValue { .array(CBORWriter.canonicallySorted(items)) }
        let all: [(Key, CBORValue?)] = [
            (Key.versions, list(versions.map(CBORValue.text))),
            (.extensions, extensions.isEmpty ? nil : list(extensions.map(CBORValue.text))),
            (.aaguid, .bytes(aaguid)),
            (.options, .textMap(options.map { ($0.0, $0.1.map(CBORValue.bool)) })),
            (.maxMsgSize, .int(maxMsgSize)),
            (.pinUvAuthProtocols, .array(pinUvAuthProtocols.map(CBORValue.int))),
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
            // attestationFormats keeps its order: the first is the default (§6.4).
            (.attestationFormats, attestationFormats.map { .array($0.map(CBORValue.text)) }),
            (.uvCountSinceLastPinEntry, uvCountSinceLastPinEntry.map(CBORValue.int)),
            (.longTouchForReset, longTouchForReset.map(CBORValue.bool)),
            (.encIdentifier, encIdentifier.map(CBORValue.bytes)),
            (.transportsForReset, transportsForReset.map { list($0.map(CBORValue.text)) }),
            (.pinComplexityPolicy, pinComplexityPolicy.map(CBORValue.bool)),
            // A byte string, not text (§6.4).
            (.pinComplexityPolicyURL, pinComplexityPolicyURL.map { .bytes(Array($0.utf8)) }),
            (.maxPINLength, maxPINLength.map(CBORValue.int)),
            (.encCredStoreState, encCredStoreState.map(CBORValue.bytes)),
            (.authenticatorConfigCommands, authenticatorConfigCommands.map { .array($0.map(CBORValue.int)) }),
        ]
        return .keyed(members.map { members in all.filter { members.contains($0.0) } } ?? all)
    }
}

/// getInfo's answer as encoded, with what it was made from: the PIN state, the settings and the
/// number of discoverable credentials (the rest is the key's fixed configuration). Hosts ask
/// for getInfo before most operations; building and encoding it each time was most of their cost.
struct GetInfoCache: CommandResponse {
    var pin: StoredPin
    var settings: DeviceSettings
    var residentCount: Int?
    var encoded: [UInt8]
    var cbor: CBORValue { (try? CBORReader.decode(encoded)) ?? .null }
}

extension Authenticator {
    /// getInfo's answer, from the cache while nothing it depends on changed. Never kept while a
    /// persistent token exists: its encrypted members take a fresh IV every time.
    func getInfoAnswer() -> any CommandResponse {
        let residentCount = config.features.residentKeys ? try? store.residentCredentialCount() : nil
        if let cache = getInfoCache, cache.pin == pin, cache.settings == settings, cache.residentCount == residentCount {
            return cache
        }
        let info = getInfo(residentCount: residentCount)
        guard pin.persistentToken == nil else { return info }
        let answer = GetInfoCache(pin: pin, settings: settings, residentCount: residentCount, encoded: info.encoded)
        getInfoCache = answer
        return answer
    }

    /// FIDO registry user verification method: fingerprint_internal.
    static let uvModalityFingerprint = 0x02

    func getInfo(residentCount: Int?) -> GetInfoResponse {
        let features = config.features
        let as2_0 = config.quirks.answerGetInfoAs2_0
        let is2_1 = features.isCTAP2_1 && !as2_0
        let preview = features.level == .ctap2_1_pre && !as2_0
        let extensions = as2_0 ? features.effectiveExtensions.intersection(KeyFeatures.ctap2_0Extensions) : features.effectiveExtensions
        // Options in the order written; a generation's absent options are not claimed at all.
        var options: [(String, Bool?)] = [("rk", features.residentKeys), ("up", true), ("uv", config.builtInUV ? true : nil), ("plat", false)]
        if is2_1 { options += [("alwaysUv", settings.alwaysUv), ("credMgmt", true), ("authnrCfg", true)] }
        options.append(("clientPin", pin.hash != nil))
        if is2_1 {
            options += [("largeBlobs", features.largeBlobs ? true : nil), ("pinUvAuthToken", true), ("setMinPINLength", true),
                        ("makeCredUvNotRqd", !settings.alwaysUv), ("credentialMgmtPreview", true), ("ep", settings.enterpriseAttestation)]
        }
        if preview { options.append((features.previewCredentialManagement.rawValue, true)) }
        let with2_2 = features.hasCTAP2_2Additions && !as2_0
        if with2_2 { options.append(("perCredMgmtRO", true)) }
        var info = GetInfoResponse(
            // U2F (CTAP1) is off while alwaysUv is on: it cannot verify the user (§7.2.2).
            versions: (settings.alwaysUv ? [] : ["U2F_V2"]) + ["FIDO_2_0"] + (preview || (is2_1 && features.alsoFIDO_2_1_PRE) ? ["FIDO_2_1_PRE"] : []) + (is2_1 ? ["FIDO_2_1"] : []),
            extensions: Array(extensions),
            aaguid: config.aaguid,
            options: options,
            maxMsgSize: config.maxMessageSize,
            pinUvAuthProtocols: as2_0 ? [1] : features.pinUvAuthProtocols,
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
            remainingDiscoverableCredentials: residentCount.map { max(0, config.maxResidentCredentials - $0) },
            members: config.getInfoOmits.isEmpty && is2_1 ? nil
                : (is2_1 ? GetInfoResponse.allMembers : preview ? GetInfoResponse.previewMembers : GetInfoResponse.ctap2_0Members)
                    .subtracting(config.getInfoOmits))
        if with2_2 {
            // §6.4: "none" is implied and not listed; a key with no other format omits the member.
            info.attestationFormats = config.attestation == .none ? nil : ["packed"]
            info.uvCountSinceLastPinEntry = config.builtInUV ? settings.uvCountSinceLastPinEntry : nil
            info.longTouchForReset = false
            info.pinComplexityPolicy = settings.pinComplexityPolicy
            info.pinComplexityPolicyURL = config.pinComplexityPolicyURL
            info.transportsForReset = config.transports
            info.maxPINLength = StoredPin.maxLength
            info.authenticatorConfigCommands = ConfigSubCommand.allCases.map(\.rawValue)
            if let token = pin.persistentToken {
                info.encIdentifier = encryptedForPersistentToken(deviceIdentifier, token: token, info: "encIdentifier")
                info.encCredStoreState = encryptedForPersistentToken(credentialStoreState(), token: token, info: "encCredStoreState")
            }
        }
        return info
    }

    /// What only the holder of the persistent token can read in getInfo (CTAP 2.2 §6.4): a
    /// random IV, then AES-128-CBC under HKDF-SHA-256(salt 32 zero bytes, the token, `info`).
    /// A fresh IV each time, so two getInfo answers never match.
    func encryptedForPersistentToken(_ value: [UInt8], token: [UInt8], info: String) -> [UInt8]? {
        let key = HKDF<SHA256>.deriveKey(inputKeyMaterial: SymmetricKey(data: token), salt: [UInt8](repeating: 0, count: 32),
                                         info: Array(info.utf8), outputByteCount: 16).withUnsafeBytes { Array($0) }
        // Protocol two's layout (IV, then CBC without padding); a 16-byte key makes it AES-128.
        return try? PinUvAuthProtocol.two.encrypt(key: key, value, iv: random.bytes(16))
    }

    /// The device identifier encIdentifier carries: 16 bytes derived from the master key, so
    /// stable across power cycles and new after authenticatorReset.
    var deviceIdentifier: [UInt8] {
        Array(HMAC<SHA256>.authenticationCode(for: Array("vfido device identifier".utf8), using: SymmetricKey(data: secrets.masterKey)).prefix(16))
    }

    /// encCredStoreState's value: 16 bytes that change whenever a discoverable credential is
    /// added, removed or updated (a digest of the stored rows, sign counts aside), so a platform
    /// can tell that its cached list is stale without listing.
    func credentialStoreState() -> [UInt8] {
        let digest = (try? store.residentCredentialsDigest()) ?? []
        return Array(HMAC<SHA256>.authenticationCode(for: Array("vfido credential store state".utf8) + digest,
                                                    using: SymmetricKey(data: secrets.masterKey)).prefix(16))
    }
}
