import CBOR
import CTAPWire

/// Typed access to a request's parameter map, raising the statuses CTAP 2.1 §8 assigns:
/// malformed CBOR -> INVALID_CBOR, a member of the wrong type -> CBOR_UNEXPECTED_TYPE,
/// a required member absent -> MISSING_PARAMETER.
struct Parameters {
    let map: CBORValue

    /// Decodes the bytes after the command byte. An empty body is an empty map, so a command
    /// sent without parameters answers MISSING_PARAMETER rather than INVALID_CBOR.
    init(_ body: ArraySlice<UInt8>) throws(CTAPError) {
        if body.isEmpty {
            map = .map([])
            return
        }
        let value: CBORValue
        do { value = try CBORReader.decode(Array(body)) } catch { throw CTAPError(error) }
        guard case .map = value else { throw CTAPError(.cborUnexpectedType, "parameters are not a map") }
        map = value
    }

    subscript<K: RawRepresentable<Int>>(key: K) -> CBORValue? { map[key] }

    func required<K: RawRepresentable<Int>>(_ key: K) throws(CTAPError) -> CBORValue {
        guard let value = self[key] else { throw CTAPError(.missingParameter, "missing parameter \(key)") }
        return value
    }

    // Optional members of one type: absent -> nil, another type -> CBOR_UNEXPECTED_TYPE.
    func bytes<K: RawRepresentable<Int>>(_ key: K) throws(CTAPError) -> [UInt8]? { try self[key]?.expectBytes("\(key)") }
    func text<K: RawRepresentable<Int>>(_ key: K) throws(CTAPError) -> String? { try self[key]?.expectText("\(key)") }
    func int<K: RawRepresentable<Int>>(_ key: K) throws(CTAPError) -> Int? { try self[key]?.expectInt("\(key)") }
    func bool<K: RawRepresentable<Int>>(_ key: K) throws(CTAPError) -> Bool? { try self[key]?.expectBool("\(key)") }
    /// A map member, kept as CBOR for its own parser.
    func map<K: RawRepresentable<Int>>(_ key: K) throws(CTAPError) -> CBORValue? {
        guard let value = self[key] else { return nil }
        _ = try value.expectMap("\(key)")
        return value
    }
}

extension CBORValue {
    func expectBytes(_ what: String) throws(CTAPError) -> [UInt8] {
        guard let v = bytesValue else { throw CTAPError(.cborUnexpectedType, "\(what) is not a byte string") }
        return v
    }
    func expectText(_ what: String) throws(CTAPError) -> String {
        guard let v = textValue else { throw CTAPError(.cborUnexpectedType, "\(what) is not a text string") }
        return v
    }
    func expectInt(_ what: String) throws(CTAPError) -> Int {
        guard let v = intValue else { throw CTAPError(.cborUnexpectedType, "\(what) is not an integer") }
        return v
    }
    func expectBool(_ what: String) throws(CTAPError) -> Bool {
        guard let v = boolValue else { throw CTAPError(.cborUnexpectedType, "\(what) is not a boolean") }
        return v
    }
    func expectArray(_ what: String) throws(CTAPError) -> [CBORValue] {
        guard let v = arrayValue else { throw CTAPError(.cborUnexpectedType, "\(what) is not an array") }
        return v
    }
    func expectMap(_ what: String) throws(CTAPError) -> [CBORPair] {
        guard let v = mapValue else { throw CTAPError(.cborUnexpectedType, "\(what) is not a map") }
        return v
    }

    /// A text-keyed map member: absent -> nil, present with another type -> CBOR_UNEXPECTED_TYPE.
    func optionalText(_ key: String) throws(CTAPError) -> String? { try self[text: key]?.expectText(key) }
}

/// The options map shared by makeCredential and getAssertion: text keys, boolean values.
struct Options {
    var values: [String: Bool] = [:]
    init(_ value: CBORValue?) throws(CTAPError) {
        guard let value else { return }
        for pair in try value.expectMap("options") {
            let name = try pair.key.expectText("option name")
            values[name] = try pair.value.expectBool("option \(name)")
        }
    }
    subscript(name: String) -> Bool? { values[name] }
}

/// PublicKeyCredentialDescriptor (WebAuthn §5.8.3) as excludeList and allowList carry it.
struct CredentialDescriptor {
    var type: String
    var id: [UInt8]

    init(_ value: CBORValue) throws(CTAPError) {
        _ = try value.expectMap("credential descriptor")
        guard let type = value[text: "type"] else { throw CTAPError(.missingParameter, "descriptor without type") }
        guard let id = value[text: "id"] else { throw CTAPError(.missingParameter, "descriptor without id") }
        self.type = try type.expectText("descriptor type")
        self.id = try id.expectBytes("descriptor id")
    }

    static func list(_ value: CBORValue?, _ what: String) throws(CTAPError) -> [CredentialDescriptor] {
        guard let value else { return [] }
        var result: [CredentialDescriptor] = []
        for item in try value.expectArray(what) { result.append(try CredentialDescriptor(item)) }
        return result
    }
}

/// The request shape credentialManagement (CTAP 2.1 §6.8) and authenticatorConfig (§6.11) share:
/// subCommand, optional subCommandParams, and the pinUvAuthProtocol/pinUvAuthParam over them.
struct SubcommandRequest<SubCommand: RawRepresentable<Int>> {
    typealias Key = SubcommandRequestKey

    var subCommand: SubCommand
    var params: CBORValue?
    var pinUvAuthProtocol: Int?
    var pinUvAuthParam: [UInt8]?

    init(_ p: Parameters, command: String) throws(CTAPError) {
        let sub = try p.required(Key.subCommand).expectInt("subCommand")
        guard let subCommand = SubCommand(rawValue: sub) else { throw CTAPError(.invalidSubcommand, "\(command) subcommand \(sub)") }
        self.subCommand = subCommand
        params = try p.map(Key.subCommandParams)
        pinUvAuthProtocol = try p.int(Key.pinUvAuthProtocol)
        pinUvAuthParam = try p.bytes(Key.pinUvAuthParam)
    }

    /// The subcommand byte, then the encoded parameters: what pinUvAuthParam covers (after a
    /// command-specific prefix). Our reader only accepts canonical CBOR, so re-encoding is exact.
    var subCommandAndParams: [UInt8] { [UInt8(subCommand.rawValue)] + (params?.encoded ?? []) }
}
