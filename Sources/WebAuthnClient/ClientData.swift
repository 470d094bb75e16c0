import Crypto
import Foundation

/// CollectedClientData serialised as browsers do it (WebAuthn L3 §5.8.1.1): the keys in the fixed
/// order type, challenge, origin, crossOrigin, then topOrigin when cross-origin, each string through
/// CCDToString. Verifiers may hash these bytes without parsing, so the order is part of the format.
public struct ClientData: Sendable, Equatable {
    public enum Kind: String, Sendable { case create = "webauthn.create", get = "webauthn.get" }

    public var type: Kind
    /// The challenge from the options, already base64url (as the options JSON carries it).
    public var challenge: String
    public var origin: String
    public var crossOrigin: Bool = false
    public var topOrigin: String?

    public init(type: Kind, challenge: String, origin: String, crossOrigin: Bool = false, topOrigin: String? = nil) {
        self.type = type
        self.challenge = challenge
        self.origin = origin
        self.crossOrigin = crossOrigin
        self.topOrigin = topOrigin
    }

    public var json: [UInt8] {
        var out = "{\"type\":" + Self.ccdString(type.rawValue)
        out += ",\"challenge\":" + Self.ccdString(challenge)
        out += ",\"origin\":" + Self.ccdString(origin)
        out += ",\"crossOrigin\":" + (crossOrigin ? "true" : "false")
        if crossOrigin, let topOrigin { out += ",\"topOrigin\":" + Self.ccdString(topOrigin) }
        return Array((out + "}").utf8)
    }

    public var hash: [UInt8] { Array(SHA256.hash(data: json)) }

    /// CCDToString: a JSON string where only ", \ and code points below U+0020 are escaped
    /// (as \uXXXX, lower-case hex); everything else, non-ASCII included, is copied as UTF-8.
    static func ccdString(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case _ where scalar.value < 0x20: out += String(format: "\\u%04x", scalar.value)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}
