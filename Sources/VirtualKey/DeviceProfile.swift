import Bytes
import CTAP
import CTAPWire
import Foundation

/// What hosts can see of a key model, as a JSON file a user can copy and edit
/// (`vfido profile show NAME > my.json`, `vfido serve --profile ./my.json`): its getInfo, AAGUID,
/// USB identity, capacity and command set. Attestation still chains to vfido's own root: a
/// profile changes what the key says it is, never whose certificate signs (docs/profiles.md).
public struct DeviceProfile: Codable, Sendable, Equatable {
    public struct USB: Codable, Sendable, Equatable {
        /// Four hex digits each.
        public var vendorId: String
        public var productId: String
        public var manufacturer: String
        public var product: String
    }

    public var name: String
    public var description: String
    /// ctap1/u2f, ctap2 (2.0), ctap2_1_pre or ctap2_1.
    public var `protocol`: String
    public var aaguid: String
    /// "major.minor.build": the CTAPHID INIT version and getInfo's firmwareVersion (0xMMmmbb).
    public var firmwareVersion: String
    public var usb: USB
    public var extensions: [String]
    /// COSE names: ES256, EdDSA, ES384, RS256.
    public var algorithms: [String]
    public var transports: [String]
    /// In getInfo's order.
    public var pinUvAuthProtocols: [Int]
    public var residentKeys: Bool
    public var builtInUV: Bool
    public var maxMsgSize: Int
    public var maxCredentialCountInList: Int
    public var maxCredentialIdLength: Int
    public var maxResidentCredentials: Int
    /// Where each value comes from (field -> URL or citation); docs/profiles.md has the same.
    public var sources: [String: String]
    /// How the model deviates (optional; none when absent).
    public var quirks: Quirks?
    /// A ctap2_1_pre key's name for credential management: credentialMgmtPreview (the default;
    /// command 0x41) or credMgmt (commands 0x0A and 0x41, as SoloKey 1 does). Optional.
    public var credentialManagementOption: String?
    /// getInfo members the model leaves out although its protocol has them, by name (e.g.
    /// "algorithms", "transports", "firmwareVersion", "minPINLength"). Optional.
    public var getInfoOmits: [String]?
    /// Versions a model names besides its protocol's: only "FIDO_2_1_PRE", on a ctap2_1 key.
    public var extraVersions: [String]?
    /// getInfo's maxRPIDsForSetMinPINLength (default 8). Optional.
    public var maxRPIDsForSetMinPINLength: Int?
    /// The CTAP 2.2 additions vfido has (the persistent read-only credential-management token,
    /// getInfo members 0x16-0x1F), on a ctap2_1 key. Optional; absent is false: a model's
    /// profile shows what that model has.
    public var ctap2_2Additions: Bool?

    /// The getInfo members a profile may leave out: the optional ones (CTAP 2.1 §6.4).
    static let omittableMembers: [String: GetInfoKey] = [
        "extensions": .extensions, "maxMsgSize": .maxMsgSize, "maxCredentialCountInList": .maxCredentialCountInList,
        "maxCredentialIdLength": .maxCredentialIdLength, "transports": .transports, "algorithms": .algorithms,
        "minPINLength": .minPINLength, "firmwareVersion": .firmwareVersion, "remainingDiscoverableCredentials": .remainingDiscoverableCredentials,
    ]

    public struct Quirks: Codable, Sendable, Equatable {
        public var rejectLargeAllowLists: Bool?
        public var rejectSilentRequests: Bool?
        public var processingDelayMs: Int?
        public var keepaliveIntervalMs: Int?
        /// getInfo as a CTAP 2.0 key's (the commands stay).
        public var answerGetInfoAs2_0: Bool?
        public init(rejectLargeAllowLists: Bool? = nil, rejectSilentRequests: Bool? = nil, processingDelayMs: Int? = nil,
                    keepaliveIntervalMs: Int? = nil, answerGetInfoAs2_0: Bool? = nil) {
            self.answerGetInfoAs2_0 = answerGetInfoAs2_0
            self.rejectLargeAllowLists = rejectLargeAllowLists
            self.rejectSilentRequests = rejectSilentRequests
            self.processingDelayMs = processingDelayMs
            self.keepaliveIntervalMs = keepaliveIntervalMs
        }
        static let fieldNames: Set<String> = ["rejectLargeAllowLists", "rejectSilentRequests", "processingDelayMs", "keepaliveIntervalMs",
                                              "answerGetInfoAs2_0"]

        func validated() throws {
            if let ms = processingDelayMs, !(0...60_000).contains(ms) { throw Invalid(description: "quirks.processingDelayMs must be 0 to 60000") }
            if let ms = keepaliveIntervalMs, !(10...10_000).contains(ms) { throw Invalid(description: "quirks.keepaliveIntervalMs must be 10 to 10000") }
        }

        /// Sets the quirks this names; the others stay as they are.
        public func apply(to configuration: inout DaemonConfiguration) {
            if let on = rejectLargeAllowLists { configuration.authenticator.quirks.rejectLargeAllowLists = on }
            if let on = rejectSilentRequests { configuration.authenticator.quirks.rejectSilentRequests = on }
            if let on = answerGetInfoAs2_0 { configuration.authenticator.quirks.answerGetInfoAs2_0 = on }
            if let ms = processingDelayMs { configuration.timing.processingDelay = .milliseconds(ms) }
            if let ms = keepaliveIntervalMs { configuration.timing.keepaliveInterval = .milliseconds(ms) }
        }
    }

    /// A profile file could not be used; the message names the file and the field.
    public struct Invalid: Error, CustomStringConvertible {
        public let description: String
    }

    static let fieldNames: Set<String> = [
        "name", "description", "protocol", "aaguid", "firmwareVersion", "usb", "extensions", "algorithms", "transports",
        "pinUvAuthProtocols", "residentKeys", "builtInUV", "maxMsgSize", "maxCredentialCountInList", "maxCredentialIdLength",
        "maxResidentCredentials", "sources", "quirks", "credentialManagementOption", "getInfoOmits", "extraVersions", "maxRPIDsForSetMinPINLength",
        "ctap2_2Additions",
    ]
    static let usbFieldNames: Set<String> = ["vendorId", "productId", "manufacturer", "product"]

    /// A built-in profile's name, or a path to a JSON file; validated field by field.
    public static func load(_ nameOrPath: String) throws -> DeviceProfile {
        if let builtIn = builtIn[nameOrPath] { return builtIn }
        guard nameOrPath.contains("/") || nameOrPath.hasSuffix(".json") else {
            throw Invalid(description: "no built-in profile \"\(nameOrPath)\" (built in: \(builtInNames.joined(separator: ", "))); a file is a path such as ./\(nameOrPath).json")
        }
        guard let data = FileManager.default.contents(atPath: nameOrPath) else {
            throw Invalid(description: "cannot read the profile file \(nameOrPath)")
        }
        return try decode(data, source: nameOrPath)
    }

    public static func decode(_ data: Data, source: String) throws -> DeviceProfile {
        func invalid(_ message: String) -> Invalid { Invalid(description: "profile \(source): \(message)") }
        guard let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw invalid("not a JSON object")
        }
        if let unknown = object.keys.sorted().first(where: { !fieldNames.contains($0) }) {
            throw invalid("unknown field \"\(unknown)\" (a profile has: \(fieldNames.sorted().joined(separator: ", ")))")
        }
        if let usb = object["usb"] as? [String: Any], let unknown = usb.keys.sorted().first(where: { !usbFieldNames.contains($0) }) {
            throw invalid("unknown field \"usb.\(unknown)\" (usb has: \(usbFieldNames.sorted().joined(separator: ", ")))")
        }
        if let quirks = object["quirks"] as? [String: Any],
           let unknown = quirks.keys.sorted().first(where: { !Quirks.fieldNames.contains($0) }) {
            throw invalid("unknown field \"quirks.\(unknown)\" (quirks has: \(Quirks.fieldNames.sorted().joined(separator: ", ")))")
        }
        let profile: DeviceProfile
        do {
            profile = try JSONDecoder().decode(DeviceProfile.self, from: data)
        } catch DecodingError.keyNotFound(let key, let context) {
            throw invalid("field \((context.codingPath + [key]).map(\.stringValue).joined(separator: ".")) is missing")
        } catch DecodingError.typeMismatch(_, let context), DecodingError.valueNotFound(_, let context) {
            throw invalid("field \(context.codingPath.map(\.stringValue).joined(separator: ".")) has the wrong type")
        } catch {
            throw invalid("\(error)")
        }
        do { _ = try profile.validated() } catch let error as Invalid { throw invalid(error.description) }
        return profile
    }

    /// The profile's values as vfido's types, or the first field that is wrong.
    struct Values {
        var level: KeyFeatures.ProtocolLevel
        var aaguid: [UInt8]
        var firmware: (major: UInt8, minor: UInt8, build: UInt8)
        var vendorId: UInt16
        var productId: UInt16
        var algorithms: [COSEAlgorithm]
        var credentialManagement: KeyFeatures.PreviewCredentialManagement
        var getInfoOmits: Set<GetInfoKey>
    }

    func validated() throws -> Values {
        func fail(_ message: String) -> Invalid { Invalid(description: message) }
        guard let level = KeyFeatures.ProtocolLevel(rawValue: `protocol`) else {
            throw fail("protocol must be one of \(KeyFeatures.ProtocolLevel.allCases.map(\.rawValue).joined(separator: ", ")), not \"\(`protocol`)\"")
        }
        guard let aaguidBytes = [UInt8](hex: aaguid.replacingOccurrences(of: "-", with: "")), aaguidBytes.count == 16 else {
            throw fail("aaguid must be 16 bytes of hex (dashes allowed), not \"\(aaguid)\"")
        }
        let parts = firmwareVersion.split(separator: ".").map { UInt8($0) }
        guard parts.count == 3, let major = parts[0], let minor = parts[1], let build = parts[2] else {
            throw fail("firmwareVersion must be major.minor.build (each 0-255), not \"\(firmwareVersion)\"")
        }
        guard usb.vendorId.count == 4, let vendor = UInt16(usb.vendorId, radix: 16),
              usb.productId.count == 4, let product = UInt16(usb.productId, radix: 16) else {
            throw fail("usb.vendorId and usb.productId must be four hex digits each, not \(usb.vendorId):\(usb.productId)")
        }
        guard !usb.manufacturer.isEmpty, !usb.product.isEmpty, usb.manufacturer.utf8.count <= 126, usb.product.utf8.count <= 126 else {
            throw fail("usb.manufacturer and usb.product must be 1 to 126 bytes (USB string descriptors)")
        }
        if let unknown = extensions.first(where: { !KeyFeatures.allExtensions.contains($0) }) {
            throw fail("extensions: vfido has no \"\(unknown)\" (it has \(KeyFeatures.allExtensions.sorted().joined(separator: ", ")))")
        }
        var algs: [COSEAlgorithm] = []
        for name in algorithms {
            guard let alg = COSEAlgorithm.allCases.first(where: { $0.description == name }) else {
                throw fail("algorithms: vfido cannot sign \"\(name)\" (it signs \(COSEAlgorithm.allCases.map(\.description).joined(separator: ", ")))")
            }
            algs.append(alg)
        }
        if algs.isEmpty && level != .u2f { throw fail("algorithms must name at least one algorithm") }
        if let bad = transports.first(where: { !["usb", "nfc", "ble", "internal", "hybrid"].contains($0) }) {
            throw fail("transports: \"\(bad)\" is not a WebAuthn transport (usb, nfc, ble, internal, hybrid)")
        }
        if let bad = pinUvAuthProtocols.first(where: { ![1, 2].contains($0) }) ?? (pinUvAuthProtocols.isEmpty ? 0 : nil) {
            throw fail("pinUvAuthProtocols must list 1 and/or 2, not \(bad == 0 ? "nothing" : "\(bad)")")
        }
        if pinUvAuthProtocols.contains(2) && (level == .ctap2_0 || level == .u2f) {
            throw fail("pinUvAuthProtocols: protocol 2 needs protocol ctap2_1_pre or ctap2_1")
        }
        guard (64...65536).contains(maxMsgSize) else { throw fail("maxMsgSize must be 64 to 65536, not \(maxMsgSize)") }
        guard (1...64).contains(maxCredentialCountInList) else { throw fail("maxCredentialCountInList must be 1 to 64") }
        guard (16...1023).contains(maxCredentialIdLength) else { throw fail("maxCredentialIdLength must be 16 to 1023") }
        guard (0...100_000).contains(maxResidentCredentials) else { throw fail("maxResidentCredentials must be 0 to 100000") }
        if residentKeys && level == .u2f { throw fail("residentKeys: a ctap1/u2f key has none") }
        try quirks?.validated()
        var credentialManagement = KeyFeatures.PreviewCredentialManagement.credentialMgmtPreview
        if let option = credentialManagementOption {
            guard let known = KeyFeatures.PreviewCredentialManagement(rawValue: option) else {
                throw fail("credentialManagementOption must be credentialMgmtPreview or credMgmt, not \"\(option)\"")
            }
            guard level == .ctap2_1_pre else { throw fail("credentialManagementOption is for protocol ctap2_1_pre only") }
            credentialManagement = known
        }
        var omits: Set<GetInfoKey> = []
        for name in getInfoOmits ?? [] {
            guard let key = Self.omittableMembers[name] else {
                throw fail("getInfoOmits: \"\(name)\" is not an optional getInfo member (\(Self.omittableMembers.keys.sorted().joined(separator: ", ")))")
            }
            omits.insert(key)
        }
        if let extra = extraVersions, !extra.isEmpty {
            guard extra == ["FIDO_2_1_PRE"], level == .ctap2_1 else {
                throw fail("extraVersions can only be [\"FIDO_2_1_PRE\"], on protocol ctap2_1 (a 2.1 key that also names the review draft)")
            }
        }
        if let n = maxRPIDsForSetMinPINLength, !(0...64).contains(n) { throw fail("maxRPIDsForSetMinPINLength must be 0 to 64") }
        if ctap2_2Additions == true && level != .ctap2_1 { throw fail("ctap2_2Additions needs protocol ctap2_1") }
        return Values(level: level, aaguid: aaguidBytes, firmware: (major, minor, build), vendorId: vendor, productId: product,
                      algorithms: algs, credentialManagement: credentialManagement, getInfoOmits: omits)
    }

    /// Sets everything the profile describes; the caller's own flags may change it afterwards.
    public func apply(to configuration: inout DaemonConfiguration) throws {
        let v = try validated()
        configuration.vendorId = v.vendorId
        configuration.productId = v.productId
        configuration.manufacturer = usb.manufacturer
        configuration.product = usb.product
        configuration.deviceVersion = v.firmware
        var a = configuration.authenticator
        a.aaguid = v.aaguid
        a.firmwareVersion = Int(v.firmware.major) << 16 | Int(v.firmware.minor) << 8 | Int(v.firmware.build)
        a.features = KeyFeatures(level: v.level, residentKeys: residentKeys, extensions: Set(extensions),
                                 largeBlobs: extensions.contains("largeBlobKey"))
        a.features.pinUvAuthProtocolList = pinUvAuthProtocols
        a.features.previewCredentialManagement = v.credentialManagement
        a.features.alsoFIDO_2_1_PRE = extraVersions == ["FIDO_2_1_PRE"]
        a.features.ctap2_2Additions = ctap2_2Additions ?? false
        if let n = maxRPIDsForSetMinPINLength { a.maxRPIDsForSetMinPINLength = n }
        a.getInfoOmits = v.getInfoOmits
        a.algorithms = v.algorithms
        a.transports = transports
        a.builtInUV = builtInUV
        a.maxMessageSize = maxMsgSize
        a.maxCredentialCountInList = maxCredentialCountInList
        a.maxCredentialIdLength = maxCredentialIdLength
        a.maxResidentCredentials = maxResidentCredentials
        configuration.authenticator = a
        quirks?.apply(to: &configuration)
    }

    public var json: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return String(decoding: (try? encoder.encode(self)) ?? Data(), as: UTF8.self)
    }
}
