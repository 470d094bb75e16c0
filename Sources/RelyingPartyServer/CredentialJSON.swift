import Foundation
import HTTPAPI
import RelyingParty

/// A PublicKeyCredential as JSON, in either shape the Mosaic API accepts:
/// - the SDK wrapper: base64(JSON {webauthnSessionId, publicKeyCredential, userAgent}), binary
///   fields in padded standard base64 (`btoa`);
/// - a bare `PublicKeyCredential.toJSON()` (base64url), as a JSON object, a JSON string, or
///   base64 of that JSON.
public struct SubmittedCredential: Sendable {
    public var id: [UInt8]
    public var clientDataJSON: [UInt8]
    public var attestationObject: [UInt8]?
    public var authenticatorData: [UInt8]?
    public var signature: [UInt8]?
    public var userHandle: [UInt8]?
    public var transports: [String]
    /// clientExtensionResults.credProps.rk
    public var residentKey: Bool?
    /// The wrapper's webauthnSessionId, when the SDK shape was used.
    public var webauthnSessionID: String?

    /// Hard limit on an encoded result (a large RSA attestation is a few KiB).
    public static let maxEncodedSize = 64 * 1024

    struct ResponseJSON: Decodable {
        var clientDataJSON: String
        var attestationObject: String?
        var authenticatorData: String?
        var signature: String?
        var userHandle: String?
        var transports: [String]?
    }

    struct CredentialJSON: Decodable {
        struct Extensions: Decodable {
            struct CredProps: Decodable { var rk: Bool? }
            var credProps: CredProps?
        }
        var id: String?
        var rawId: String?
        var type: String?
        var response: ResponseJSON
        var clientExtensionResults: Extensions?
    }

    struct Wrapper: Decodable {
        var webauthnSessionId: String?
        var publicKeyCredential: CredentialJSON
    }

    /// Parses the `webauthn_encoded_result` (or `public_key_credential`) JSON value.
    public init(_ value: JSONValue) throws(APIError) {
        let json: [UInt8]
        switch value {
        case .string(let text):
            guard text.utf8.count <= Self.maxEncodedSize else { throw Self.invalid("the encoded result is over \(Self.maxEncodedSize) bytes") }
            if text.hasPrefix("{") {
                json = Array(text.utf8)
            } else if let decoded = Base64URL.decode(text) {
                json = decoded
            } else {
                throw Self.invalid("webauthn_encoded_result is neither JSON nor base64 of JSON")
            }
        case .other(let raw):
            json = raw
        }
        let decoder = JSONDecoder()
        let credential: CredentialJSON
        if let wrapper = try? decoder.decode(Wrapper.self, from: Data(json)) {
            credential = wrapper.publicKeyCredential
            webauthnSessionID = wrapper.webauthnSessionId
        } else if let bare = try? decoder.decode(CredentialJSON.self, from: Data(json)) {
            credential = bare
            webauthnSessionID = nil
        } else {
            throw Self.invalid("webauthn_encoded_result is not a PublicKeyCredential (needs response.clientDataJSON)")
        }
        if let type = credential.type, type != "public-key" { throw Self.invalid("credential type is \"\(type)\", not \"public-key\"") }
        guard let idText = credential.rawId ?? credential.id, let id = Base64URL.decode(idText), !id.isEmpty else {
            throw Self.invalid("credential has no base64 id/rawId")
        }
        if let rawId = credential.rawId, let idField = credential.id, Base64URL.decode(idField) != Base64URL.decode(rawId) {
            throw Self.invalid("credential id and rawId differ")
        }
        func binary(_ field: String?, _ name: String) throws(APIError) -> [UInt8]? {
            guard let field else { return nil }
            guard let bytes = Base64URL.decode(field) else { throw Self.invalid("response.\(name) is not base64") }
            return bytes
        }
        self.id = id
        guard let clientDataJSON = try binary(credential.response.clientDataJSON, "clientDataJSON") else {
            throw Self.invalid("response.clientDataJSON is missing")
        }
        self.clientDataJSON = clientDataJSON
        attestationObject = try binary(credential.response.attestationObject, "attestationObject")
        authenticatorData = try binary(credential.response.authenticatorData, "authenticatorData")
        signature = try binary(credential.response.signature, "signature")
        userHandle = try binary(credential.response.userHandle, "userHandle")
        transports = credential.response.transports ?? []
        residentKey = credential.clientExtensionResults?.credProps?.rk
    }

    static func invalid(_ message: String) -> APIError { APIError(.badRequest, "invalid_encoding", message) }

    /// The challenge the client signed, to find the webauthn session of a bare credential.
    public var challenge: [UInt8]? { try? ClientData(json: clientDataJSON).challenge }
}

/// A request field that may hold a JSON string or any JSON value (kept as raw JSON).
public enum JSONValue: Decodable, Sendable {
    case string(String)
    case other([UInt8])

    struct Raw: Decodable {
        let value: Any
        init(from decoder: Decoder) throws { value = try Self.decode(decoder) }
        static func decode(_ decoder: Decoder) throws -> Any {
            if var array = try? decoder.unkeyedContainer() {
                var items: [Any] = []
                while !array.isAtEnd { items.append(try array.decode(Raw.self).value) }
                return items
            }
            if let object = try? decoder.container(keyedBy: AnyKey.self) {
                var dict: [String: Any] = [:]
                for key in object.allKeys { dict[key.stringValue] = try object.decode(Raw.self, forKey: key).value }
                return dict
            }
            let single = try decoder.singleValueContainer()
            if single.decodeNil() { return NSNull() }
            if let b = try? single.decode(Bool.self) { return b }
            if let n = try? single.decode(Double.self) { return n }
            return try single.decode(String.self)
        }
    }

    struct AnyKey: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    public init(from decoder: Decoder) throws {
        if let text = try? decoder.singleValueContainer().decode(String.self) {
            self = .string(text)
            return
        }
        let value = try Raw(from: decoder).value
        self = .other([UInt8](try JSONSerialization.data(withJSONObject: value, options: [.fragmentsAllowed])))
    }
}
