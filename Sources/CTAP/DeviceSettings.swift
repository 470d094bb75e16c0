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

    enum Key: Int { case alwaysUv = 1, enterpriseAttestation = 2, minPinLengthRPIDs = 3, uvRetries = 4 }

    init() {}

    init(cbor: CBORValue) {
        alwaysUv = cbor[Key.alwaysUv]?.boolValue ?? false
        enterpriseAttestation = cbor[Key.enterpriseAttestation]?.boolValue ?? false
        minPinLengthRPIDs = cbor[Key.minPinLengthRPIDs]?.arrayValue?.compactMap(\.textValue) ?? []
        uvRetries = cbor[Key.uvRetries]?.intValue ?? Self.maxUVRetries
    }

    var cbor: CBORValue {
        .keyed([
            (Key.alwaysUv, .bool(alwaysUv)),
            (Key.enterpriseAttestation, .bool(enterpriseAttestation)),
            (Key.minPinLengthRPIDs, .array(minPinLengthRPIDs.map(CBORValue.text))),
            (Key.uvRetries, .int(uvRetries)),
        ])
    }
}
