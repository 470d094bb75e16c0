import CTAPWire

/// What a key implements, as a host can see it: the protocol generation, discoverable
/// credentials, the extensions, large blobs. The default is everything vfido does; a key added
/// through the control API with WebDriver's or CDP's options, or a device profile, turns parts
/// off. A part that is off is absent from getInfo and answers as a key without it does
/// (`docs/conformance.md`, "Reduced keys").
public struct KeyFeatures: Sendable, Equatable {
    /// The CTAP generation: the commands, getInfo members and PIN protocols that exist.
    public enum ProtocolLevel: String, Sendable, CaseIterable, Codable {
        /// CTAP1/U2F only: the HID device has no CBOR capability.
        case u2f = "ctap1/u2f"
        /// CTAP 2.0 (and U2F): no credential management, selection, large blobs or config;
        /// PIN protocol 1; getInfo members 0x01-0x06.
        case ctap2_0 = "ctap2"
        /// FIDO_2_1_PRE, what keys shipped before CTAP 2.1 was final (YubiKey 5.2-5.4, SoloKey 1):
        /// 2.0 plus credential management as the preview command 0x41 and PIN protocol 2.
        case ctap2_1_pre = "ctap2_1_pre"
        case ctap2_1 = "ctap2_1"
    }

    public var level: ProtocolLevel
    /// Discoverable (resident) credentials: getInfo's rk option.
    public var residentKeys: Bool
    /// The extensions processed; others are ignored as unknown ones are (CTAP 2.1 §12).
    public var extensions: Set<String>
    /// authenticatorLargeBlobs and the largeBlobKey extension (CTAP 2.1 only).
    public var largeBlobs: Bool
    /// The PIN/UV auth protocols offered, in getInfo's order; nil: what the level has.
    public var pinUvAuthProtocolList: [Int]?
    /// How a FIDO_2_1_PRE key names its credential management in getInfo, and which commands
    /// carry it (models differ; docs/profiles.md).
    public var previewCredentialManagement = PreviewCredentialManagement.credentialMgmtPreview
    /// A CTAP 2.1 key that also names the review draft in getInfo's versions (FIDO_2_1_PRE, as
    /// YubiKey 5.7 does): it has the preview command 0x41 anyway.
    public var alsoFIDO_2_1_PRE = false
    /// The CTAP 2.2 additions vfido implements, on a 2.1 key: the persistent PIN/UV auth token
    /// for read-only credential management (`perCredMgmtRO`) and the getInfo members 0x16-0x1F
    /// that apply to a USB key. A profile of a real 2.1 model turns them off. FIDO_2_2 is not
    /// claimed: 2.2 requires more than this (docs/conformance.md).
    public var ctap2_2Additions = true

    public enum PreviewCredentialManagement: String, Sendable, CaseIterable, Codable {
        /// Option `credentialMgmtPreview`, command 0x41 only (YubiKey 5.2-5.4).
        case credentialMgmtPreview
        /// Option `credMgmt`, commands 0x0A and 0x41 alike (SoloKey 1, firmware 4.x): hosts that
        /// see `credMgmt` send 0x0A.
        case credMgmt
    }

    /// The extensions vfido implements.
    public static let allExtensions: Set<String> = ["credBlob", "credProtect", "hmac-secret", "hmac-secret-mc", "largeBlobKey", "minPinLength",
                                                   "pinComplexityPolicy", "thirdPartyPayment"]
    /// The extensions CTAP 2.2 adds that vfido has: only with the 2.2 additions.
    public static let ctap2_2Extensions: Set<String> = ["pinComplexityPolicy", "thirdPartyPayment"]
    /// The extensions CTAP 2.0 defines.
    public static let ctap2_0Extensions: Set<String> = ["credProtect", "hmac-secret"]

    public init(level: ProtocolLevel = .ctap2_1, residentKeys: Bool = true, extensions: Set<String> = KeyFeatures.allExtensions,
                largeBlobs: Bool = true) {
        self.level = level
        self.residentKeys = residentKeys
        self.extensions = extensions
        self.largeBlobs = largeBlobs
    }

    public var isCTAP2_1: Bool { level == .ctap2_1 }
    /// Whether the CTAP 2.2 additions exist on this key.
    public var hasCTAP2_2Additions: Bool { isCTAP2_1 && ctap2_2Additions }
    /// CTAP 2.1 or its preview: credential management and the 2.1 getInfo members exist.
    public var hasCTAP2_1Preview: Bool { level == .ctap2_1 || level == .ctap2_1_pre }
    /// Whether the key answers CTAPHID_CBOR at all.
    public var hasCTAP2: Bool { level != .u2f }

    /// The extensions advertised and processed: largeBlobKey only with large blobs, 2.1 ones
    /// only on a 2.1 key.
    public var effectiveExtensions: Set<String> {
        var enabled = extensions.intersection(Self.allExtensions)
        if !isCTAP2_1 { enabled.formIntersection(Self.ctap2_0Extensions) }
        if !largeBlobs || !isCTAP2_1 { enabled.remove("largeBlobKey") }
        if !hasCTAP2_2Additions { enabled.subtract(Self.ctap2_2Extensions) }
        return enabled
    }

    /// PIN/UV auth protocols: CTAP 2.0 knows only protocol 1.
    public var pinUvAuthProtocols: [Int] { pinUvAuthProtocolList ?? (hasCTAP2_1Preview ? [1, 2] : [1]) }

    /// Whether `command` exists on this key.
    func implements(_ command: CTAPCommand) -> Bool {
        switch command {
        case .makeCredential, .getAssertion, .getInfo, .clientPIN, .reset, .getNextAssertion: return hasCTAP2
        case .credentialManagementPreview: return hasCTAP2_1Preview
        case .credentialManagement: return isCTAP2_1 || (level == .ctap2_1_pre && previewCredentialManagement == .credMgmt)
        case .selection, .config: return isCTAP2_1
        case .largeBlobs: return isCTAP2_1 && largeBlobs
        case .bioEnrollment, .bioEnrollmentPreview: return false
        }
    }
}

/// Ways a real key differs from the specification's ideal that hosts must cope with, switched on
/// by a profile or `vfido serve --quirk` (Chromium's virtual device has the same knobs).
public struct KeyQuirks: Sendable, Equatable, Codable {
    /// An allowList or excludeList longer than maxCredentialCountInList is refused with
    /// CTAP2_ERR_LIMIT_EXCEEDED (CTAP 2.1 §6.1.2, §6.2.2 allow it), instead of being read.
    public var rejectLargeAllowLists = false
    /// A silent getAssertion (up=false, the platform's pre-flight) is refused with
    /// CTAP2_ERR_UNSUPPORTED_OPTION, as keys that cannot answer without a touch do.
    public var rejectSilentRequests = false
    /// getInfo answers as a CTAP 2.0 key's would (U2F_V2 and FIDO_2_0, members 0x01-0x06, 2.0's
    /// options, extensions and PIN protocol 1) while the commands stay what the key has: keys
    /// that hide their 2.1 features, and hosts that must not rely on getInfo alone.
    public var answerGetInfoAs2_0 = false
    public init(rejectLargeAllowLists: Bool = false, rejectSilentRequests: Bool = false, answerGetInfoAs2_0: Bool = false) {
        self.rejectLargeAllowLists = rejectLargeAllowLists
        self.rejectSilentRequests = rejectSilentRequests
        self.answerGetInfoAs2_0 = answerGetInfoAs2_0
    }
}

