import CBOR

/// A CTAP2 status other than success, named as in CTAP 2.1 §8.2.
public struct CTAPStatusError: Error, CustomStringConvertible, Equatable {
    public let code: UInt8
    public init(_ code: UInt8) { self.code = code }

    public static let credentialExcluded: UInt8 = 0x19
    public static let unsupportedAlgorithm: UInt8 = 0x26
    public static let operationDenied: UInt8 = 0x27
    public static let keyStoreFull: UInt8 = 0x28
    public static let keepaliveCancel: UInt8 = 0x2D
    public static let noCredentials: UInt8 = 0x2E
    public static let userActionTimeout: UInt8 = 0x2F
    public static let pinInvalid: UInt8 = 0x31
    public static let pinBlocked: UInt8 = 0x32
    public static let pinAuthBlocked: UInt8 = 0x34
    public static let pinNotSet: UInt8 = 0x35
    public static let puatRequired: UInt8 = 0x36

    static let names: [UInt8: String] = [
        0x01: "INVALID_COMMAND", 0x02: "INVALID_PARAMETER", 0x03: "INVALID_LENGTH", 0x11: "CBOR_UNEXPECTED_TYPE",
        0x12: "INVALID_CBOR", 0x14: "MISSING_PARAMETER", 0x15: "LIMIT_EXCEEDED", 0x19: "CREDENTIAL_EXCLUDED",
        0x21: "PROCESSING", 0x22: "INVALID_CREDENTIAL", 0x23: "USER_ACTION_PENDING", 0x24: "OPERATION_PENDING",
        0x26: "UNSUPPORTED_ALGORITHM", 0x27: "OPERATION_DENIED", 0x28: "KEY_STORE_FULL", 0x2B: "UNSUPPORTED_OPTION",
        0x2C: "INVALID_OPTION", 0x2D: "KEEPALIVE_CANCEL", 0x2E: "NO_CREDENTIALS", 0x2F: "USER_ACTION_TIMEOUT",
        0x30: "NOT_ALLOWED", 0x31: "PIN_INVALID", 0x32: "PIN_BLOCKED", 0x33: "PIN_AUTH_INVALID", 0x34: "PIN_AUTH_BLOCKED",
        0x35: "PIN_NOT_SET", 0x36: "PUAT_REQUIRED", 0x37: "PIN_POLICY_VIOLATION", 0x39: "REQUEST_TOO_LARGE",
        0x3A: "ACTION_TIMEOUT", 0x3B: "UP_REQUIRED", 0x3C: "UV_BLOCKED", 0x3F: "UV_INVALID", 0x40: "UNAUTHORIZED_PERMISSION",
    ]

    public var description: String { "CTAP2_ERR_\(Self.names[code] ?? "0x" + String(code, radix: 16))" }
}

/// What getInfo says, as far as a platform needs it.
public struct AuthenticatorInfo: Sendable {
    public var versions: [String] = []
    public var extensions: [String] = []
    public var aaguid: [UInt8] = []
    public var options: [String: Bool] = [:]
    public var pinUvAuthProtocols: [Int] = []
    /// COSE algorithms the key supports; empty when it does not say.
    public var algorithms: [Int] = []

    init(_ map: CBORValue) {
        versions = map[int: 1]?.arrayValue?.compactMap(\.textValue) ?? []
        extensions = map[int: 2]?.arrayValue?.compactMap(\.textValue) ?? []
        aaguid = map[int: 3]?.bytesValue ?? []
        for pair in map[int: 4]?.mapValue ?? [] {
            if let key = pair.key.textValue, let value = pair.value.boolValue { options[key] = value }
        }
        pinUvAuthProtocols = map[int: 6]?.arrayValue?.compactMap(\.intValue) ?? []
        algorithms = map[int: 10]?.arrayValue?.compactMap { $0[text: "alg"]?.intValue } ?? []
    }

    public var supportsResidentKeys: Bool { options["rk"] == true }
    public var pinIsSet: Bool { options["clientPin"] == true }
    public var hasBuiltInUV: Bool { options["uv"] == true }
}

/// A CTAP2 authenticator behind a CTAPHID channel: commands encoded, statuses turned into errors.
public struct CTAP2Device: Sendable {
    public let hid: CTAPHIDClient
    /// Told of each KEEPALIVE status (1 processing, 2 user presence needed).
    public var onKeepalive: @Sendable (UInt8) -> Void = { _ in }
    /// When the ceremony's timeout runs out: a request still pending then is cancelled.
    public var deadline: ContinuousClock.Instant?

    public init(hid: CTAPHIDClient) { self.hid = hid }

    public init(transport: HIDReportTransport) { self.hid = CTAPHIDClient(transport: transport) }

    /// Sends command `command` with `parameters`; the decoded response map (or .null when empty).
    public func call(_ command: UInt8, _ parameters: CBORValue? = nil) async throws -> CBORValue {
        let request = [command] + (parameters.map(CBORWriter.encode) ?? [])
        let reply = try await hid.cbor(request, deadline: deadline, onKeepalive: onKeepalive)
        guard let status = reply.first else { throw CTAPHIDClientError.malformed("empty CTAP reply") }
        guard status == 0 else { throw CTAPStatusError(status) }
        if reply.count == 1 { return .null }
        return try CBORReader.decode(Array(reply.dropFirst()), limits: CBORLimits(maxDepth: 8))
    }

    public func getInfo() async throws -> AuthenticatorInfo { AuthenticatorInfo(try await call(0x04)) }
    public func makeCredential(_ parameters: CBORValue) async throws -> CBORValue { try await call(0x01, parameters) }
    public func getAssertion(_ parameters: CBORValue) async throws -> CBORValue { try await call(0x02, parameters) }
    public func getNextAssertion() async throws -> CBORValue { try await call(0x08) }
    public func clientPIN(_ parameters: CBORValue) async throws -> CBORValue { try await call(0x06, parameters) }
}
