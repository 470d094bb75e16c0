import CBOR
import CTAPWire

/// What authenticatorConfig changes and built-in UV counts, kept by the store across power
/// cycles; a reset restores the defaults.
struct DeviceSettings: Sendable, Equatable {
    static let storeName = "settings"
    static let maxUVRetries = 8

    /// Every makeCredential and getAssertion needs user verification (CTAP 2.1 §7.2.2).
    var alwaysUv = false
    /// Enterprise attestation enabled (§7.1).
    var enterpriseAttestation = false
    /// RPs the minPinLength extension reports the minimum PIN length to (§7.4, §12.4).
    var minPinLengthRPIDs: [String] = []
    /// Built-in UV attempts left before it blocks (getUVRetries).
    var uvRetries = DeviceSettings.maxUVRetries
    /// Built-in UV operations since the PIN was last entered, refused ones included (CTAP 2.2
    /// getInfo 0x17): a platform may ask for the PIN now and then so the user keeps it in mind.
    var uvCountSinceLastPinEntry = 0
    /// New PINs must pass the PIN complexity policy (CTAP 2.2 getInfo 0x1B; `PinComplexity`).
    var pinComplexityPolicy = false

    enum Key: Int {
        case alwaysUv = 1, enterpriseAttestation = 2, minPinLengthRPIDs = 3, uvRetries = 4, uvCountSinceLastPinEntry = 5
        case pinComplexityPolicy = 6
    }

    /// What a new or reset key starts with: the key's pre-configured complexity policy.
    init(_ config: AuthenticatorConfig) {
        pinComplexityPolicy = config.pinComplexityPolicyByDefault && config.features.hasCTAP2_2Additions
    }

    /// Members a store written before they existed lacks take `defaults`' values.
    init(cbor: CBORValue, defaults: DeviceSettings) {
        alwaysUv = cbor[Key.alwaysUv]?.boolValue ?? false
        enterpriseAttestation = cbor[Key.enterpriseAttestation]?.boolValue ?? false
        minPinLengthRPIDs = cbor[Key.minPinLengthRPIDs]?.arrayValue?.compactMap(\.textValue) ?? []
        uvRetries = cbor[Key.uvRetries]?.intValue ?? Self.maxUVRetries
        uvCountSinceLastPinEntry = cbor[Key.uvCountSinceLastPinEntry]?.intValue ?? 0
        pinComplexityPolicy = cbor[Key.pinComplexityPolicy]?.boolValue ?? defaults.pinComplexityPolicy
    }

    var cbor: CBORValue {
        .keyed([
            (Key.alwaysUv, .bool(alwaysUv)),
            (Key.enterpriseAttestation, .bool(enterpriseAttestation)),
            (Key.minPinLengthRPIDs, .array(minPinLengthRPIDs.map(CBORValue.text))),
            (Key.uvRetries, .int(uvRetries)),
            (Key.uvCountSinceLastPinEntry, .int(uvCountSinceLastPinEntry)),
            (Key.pinComplexityPolicy, .bool(pinComplexityPolicy)),
        ])
    }
}
