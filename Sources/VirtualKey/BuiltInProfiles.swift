import CTAP

/// The profiles vfido ships (`vfido profile list`). Each value is what the cited source shows of
/// the model; docs/profiles.md has the same table with every source.
extension DeviceProfile {
    public static let builtInNames = ["vfido", "yubikey-5-nfc-5.4", "yubikey-5-nfc-5.7", "solokey-1", "ctap2.0", "u2f-only"]

    public static var builtIn: [String: DeviceProfile] {
        Dictionary(uniqueKeysWithValues: [vfido, yubiKey5NFC54, yubiKey5NFC57, soloKey1, ctap2_0, u2fOnly].map { ($0.name, $0) })
    }

    /// vfido's own key: everything it implements.
    public static let vfido = DeviceProfile(
        name: "vfido", description: "vfido's own key: CTAP 2.1, every extension and algorithm vfido has",
        protocol: "ctap2_1", aaguid: AuthenticatorConfig.defaultAAGUID.hex, firmwareVersion: "1.0.0",
        usb: USB(vendorId: "1209", productId: "0001", manufacturer: "vfido", product: "Virtual FIDO2 Key"),
        extensions: KeyFeatures.allExtensions.sorted(), algorithms: COSEAlgorithm.allCases.map(\.description), transports: ["usb"],
        pinUvAuthProtocols: [1, 2], residentKeys: true, builtInUV: false, maxMsgSize: 7609, maxCredentialCountInList: 8,
        maxCredentialIdLength: 128, maxResidentCredentials: 256,
        sources: ["usb": "pid.codes 1209:0001, the test PID (https://pid.codes/1209/0001/)"], ctap2_2Additions: true)

    /// A YubiKey 5 NFC with firmware 5.4.3, as fido2-token -I and lsusb show one.
    public static let yubiKey5NFC54 = DeviceProfile(
        name: "yubikey-5-nfc-5.4", description: "YubiKey 5 NFC, firmware 5.4.3 (FIDO_2_1_PRE)",
        protocol: "ctap2_1_pre", aaguid: "2fc0579f-8113-47ea-b116-bb5a8db9202a", firmwareVersion: "5.4.3",
        usb: USB(vendorId: "1050", productId: "0407", manufacturer: "Yubico", product: "YubiKey OTP+FIDO+CCID"),
        extensions: ["credProtect", "hmac-secret"], algorithms: ["ES256", "EdDSA"], transports: ["nfc", "usb"],
        pinUvAuthProtocols: [2, 1], residentKeys: true, builtInUV: false, maxMsgSize: 1200, maxCredentialCountInList: 8,
        maxCredentialIdLength: 128, maxResidentCredentials: 25,
        sources: [
            "getInfo and CTAPHID version": "fido2-token -I of a YubiKey 5 NFC 5.4.3, https://github.com/Yubico/libfido2/issues/686",
            "aaguid": "Yubico's YubiKey hardware FIDO2 AAGUIDs (YubiKey 5 NFC, 5.2 and 5.4), quoted in https://github.com/lbuchs/WebAuthn/issues/47",
            "usb": "lsusb -v of a YubiKey 5 (bcdDevice 5.43), https://github.com/polhenarejos/pico-fido/issues/12",
            "maxResidentCredentials": "25 on YubiKey 5 before 5.7: https://github.com/solokeys/solo1/issues/156, https://github.com/trustcrypto/OnlyKey-Firmware/issues/178",
        ])

    /// A YubiKey 5 NFC with firmware 5.7.1, as Yubico's SDK reads its getInfo.
    public static let yubiKey5NFC57 = DeviceProfile(
        name: "yubikey-5-nfc-5.7", description: "YubiKey 5 NFC, firmware 5.7.1 (FIDO_2_1 and FIDO_2_1_PRE, 100 passkeys)",
        protocol: "ctap2_1", aaguid: "a25342c0-3cdc-4414-8e46-f4807fca511c", firmwareVersion: "5.7.1",
        usb: USB(vendorId: "1050", productId: "0407", manufacturer: "Yubico", product: "YubiKey OTP+FIDO+CCID"),
        extensions: ["credProtect", "hmac-secret", "largeBlobKey", "credBlob"], algorithms: ["ES256", "EdDSA", "ES384"],
        transports: ["nfc", "usb"], pinUvAuthProtocols: [2, 1], residentKeys: true, builtInUV: false, maxMsgSize: 1280,
        maxCredentialCountInList: 8, maxCredentialIdLength: 128, maxResidentCredentials: 100,
        sources: [
            "getInfo": "Get-YubikeyFIDO2 of a YubiKey 5.7 (firmwareVersion 329473 = 5.7.1), virot/powershellYK Docs/Commands/Get-YubikeyFIDO2.md: versions, maxMsgSize 1280, PIN protocols 2 and 1, 8 credentials per list, IDs up to 128 bytes, nfc and usb, ES256/EdDSA/ES384, large-blob array 4096, minPINLength 4, credBlob 32, 1 RP ID for setMinPINLength, 100 discoverable credentials left",
            "extensions": "the first four of that list (credProtect, hmac-secret, largeBlobKey, credBlob); the display cuts it there",
            "aaguid": "YubiKey 5 Series with NFC, firmware 5.7: the FIDO MDS as Microsoft Entra's vendor list quotes it (MicrosoftDocs entra-docs concept-fido2-hardware-vendor.md)",
            "usb": "the YubiKey 5 NFC's USB identity (1050:0407 with OTP, FIDO and CCID on), as for 5.4",
        ],
        extraVersions: ["FIDO_2_1_PRE"], maxRPIDsForSetMinPINLength: 1)

    /// A SoloKey 1 (USB, button) with its last firmware, 4.1.5, as its source code answers.
    public static let soloKey1 = DeviceProfile(
        name: "solokey-1", description: "SoloKey 1 (Solo USB), firmware 4.1.5 (FIDO_2_1_PRE with credMgmt, PIN protocol 1)",
        protocol: "ctap2_1_pre", aaguid: "8876631b-d4a0-427f-5773-0ec71c9e0279", firmwareVersion: "4.1.5",
        usb: USB(vendorId: "0483", productId: "a2ca", manufacturer: "SoloKeys", product: "Solo 4.1.5"),
        extensions: ["credProtect", "hmac-secret"], algorithms: ["ES256", "EdDSA"], transports: ["usb"],
        pinUvAuthProtocols: [1], residentKeys: true, builtInUV: false, maxMsgSize: 1200, maxCredentialCountInList: 20,
        maxCredentialIdLength: 128, maxResidentCredentials: 50,
        sources: [
            "getInfo": "solokeys/solo1 fido2/ctap.c ctap_get_info (commit d910d1a5): versions, extensions, options rk/up/plat/credMgmt/clientPin, maxMsgSize, pinProtocols [1], 0x07 and 0x08 only",
            "limits": "solokeys/solo1 fido2/ctap.h: CTAP_MAX_MESSAGE_SIZE 1200, ALLOW_LIST_MAX_SIZE 20; maxCredentialIdLength 128 in ctap_get_info",
            "aaguid": "solokeys/solo1 targets/stm32l432/src/device.c device_read_aaguid (USB, no NFC, no touch sensor)",
            "usb": "solokeys/solo1 targets/stm32l432/lib/usbd/usbd_desc.c (0483:A2CA, \"SoloKeys\") and app.h (SOLO_PRODUCT_NAME \"Solo \" SOLO_VERSION)",
            "firmwareVersion": "4.1.5, the last release: https://github.com/solokeys/solo1/issues/580, https://github.com/solokeys/solo1/issues/603",
            "commands": "ctap_request in fido2/ctap.c dispatches both CTAP_CBOR_CRED_MGMT (0x0A) and CTAP_CBOR_CRED_MGMT_PRE (0x41)",
            "algorithms": "ES256 and EdDSA (ctap_generate_cose_key), not listed in getInfo",
            "maxResidentCredentials": "50: https://github.com/solokeys/solo1/issues/156",
        ],
        credentialManagementOption: "credMgmt",
        getInfoOmits: ["transports", "algorithms", "minPINLength", "firmwareVersion"])

    /// A key that speaks CTAP 2.0 and U2F only (what CTAP 2.0 §5.4 lets getInfo hold).
    public static let ctap2_0 = DeviceProfile(
        name: "ctap2.0", description: "A CTAP 2.0 key: U2F_V2 and FIDO_2_0, PIN protocol 1, getInfo members 0x01-0x06",
        protocol: "ctap2", aaguid: AuthenticatorConfig.defaultAAGUID.hex, firmwareVersion: "2.0.0",
        usb: USB(vendorId: "1209", productId: "0001", manufacturer: "vfido", product: "CTAP 2.0 Key"),
        extensions: ["hmac-secret"], algorithms: ["ES256"], transports: ["usb"], pinUvAuthProtocols: [1],
        residentKeys: true, builtInUV: false, maxMsgSize: 1200, maxCredentialCountInList: 8, maxCredentialIdLength: 128,
        maxResidentCredentials: 25,
        sources: ["getInfo": "CTAP 2.0 (2019-01-30) §5.4 authenticatorGetInfo: members 0x01-0x06; §5.5.1 PIN protocol 1"])

    /// A FIDO U2F key: CTAPHID without CBOR, U2F register and authenticate only.
    public static let u2fOnly = DeviceProfile(
        name: "u2f-only", description: "A FIDO U2F key: no CTAP2 (CTAPHID capabilities without CBOR)",
        protocol: "ctap1/u2f", aaguid: "00000000000000000000000000000000", firmwareVersion: "1.0.0",
        usb: USB(vendorId: "1209", productId: "0001", manufacturer: "vfido", product: "U2F Key"),
        extensions: [], algorithms: ["ES256"], transports: ["usb"], pinUvAuthProtocols: [1], residentKeys: false,
        builtInUV: false, maxMsgSize: 1200, maxCredentialCountInList: 1, maxCredentialIdLength: 128, maxResidentCredentials: 0,
        sources: ["protocol": "FIDO U2F HID protocol v1.2 §4.1 (U2FHID_INIT capabilities); CTAP 2.1 §11.2.9.1.3 (CAPABILITY_CBOR)"])
}
