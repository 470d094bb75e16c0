import CBOR

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

    enum Key: Int { case alwaysUv = 1, enterpriseAttestation = 2, minPinLengthRPIDs = 3, uvRetries = 4 }

    init() {}

    init(cbor: CBORValue) {
        alwaysUv = cbor[int: Key.alwaysUv.rawValue]?.boolValue ?? false
        enterpriseAttestation = cbor[int: Key.enterpriseAttestation.rawValue]?.boolValue ?? false
        minPinLengthRPIDs = cbor[int: Key.minPinLengthRPIDs.rawValue]?.arrayValue?.compactMap(\.textValue) ?? []
        uvRetries = cbor[int: Key.uvRetries.rawValue]?.intValue ?? Self.maxUVRetries
    }

    var cbor: CBORValue {
        .intMap([
            (Key.alwaysUv.rawValue, .bool(alwaysUv)),
            (Key.enterpriseAttestation.rawValue, .bool(enterpriseAttestation)),
            (Key.minPinLengthRPIDs.rawValue, .array(minPinLengthRPIDs.map(CBORValue.text))),
            (Key.uvRetries.rawValue, .int(uvRetries)),
        ])
    }
}
