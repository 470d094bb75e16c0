import CBOR
import CTAPWire

/// A CTAP2 status other than success, named as in CTAP 2.1 §8.2.
public struct CTAPStatusError: Error, CustomStringConvertible, Equatable {
    public let status: CTAPStatus
    public init(_ status: CTAPStatus) { self.status = status }
    public var description: String { status.name }
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
        versions = map[GetInfoKey.versions]?.arrayValue?.compactMap(\.textValue) ?? []
        extensions = map[GetInfoKey.extensions]?.arrayValue?.compactMap(\.textValue) ?? []
        aaguid = map[GetInfoKey.aaguid]?.bytesValue ?? []
        for pair in map[GetInfoKey.options]?.mapValue ?? [] {
            if let key = pair.key.textValue, let value = pair.value.boolValue { options[key] = value }
        }
        pinUvAuthProtocols = map[GetInfoKey.pinUvAuthProtocols]?.arrayValue?.compactMap(\.intValue) ?? []
        algorithms = map[GetInfoKey.algorithms]?.arrayValue?.compactMap { $0[text: "alg"]?.intValue } ?? []
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

    /// Sends `command` with `parameters`; the decoded response map (or .null when empty).
    public func call(_ command: CTAPCommand, _ parameters: CBORValue? = nil) async throws -> CBORValue {
        let request = [command.rawValue] + (parameters.map(CBORWriter.encode) ?? [])
        let reply = try await hid.cbor(request, deadline: deadline, onKeepalive: onKeepalive)
        guard let code = reply.first else { throw CTAPHIDClientError.malformed("empty CTAP reply") }
        let status = CTAPStatus(rawValue: code)
        guard status == .ok else { throw CTAPStatusError(status) }
        if reply.count == 1 { return .null }
        return try CBORReader.decode(Array(reply.dropFirst()), limits: CBORLimits(maxDepth: 8))
    }

    public func getInfo() async throws -> AuthenticatorInfo { AuthenticatorInfo(try await call(.getInfo)) }
    public func makeCredential(_ parameters: CBORValue) async throws -> CBORValue { try await call(.makeCredential, parameters) }
    public func getAssertion(_ parameters: CBORValue) async throws -> CBORValue { try await call(.getAssertion, parameters) }
    public func getNextAssertion() async throws -> CBORValue { try await call(.getNextAssertion) }
    public func clientPIN(_ parameters: CBORValue) async throws -> CBORValue { try await call(.clientPIN, parameters) }
}
