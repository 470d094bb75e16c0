import Bytes
import Foundation

/// The credential a `create()` or `get()` resolves with, in the shape of
/// `PublicKeyCredential.toJSON()` (L3 §5.1.8): binary fields base64url.
public struct PublicKeyCredential: Sendable {
    public var rawId: [UInt8]
    public var clientDataJSON: [UInt8]
    /// Registration only.
    public var attestationObject: [UInt8]?
    public var authenticatorData: [UInt8]
    /// Registration: the credential public key as SubjectPublicKeyInfo DER, and its algorithm.
    public var publicKey: [UInt8]?
    public var publicKeyAlgorithm: Int?
    /// Assertion only.
    public var signature: [UInt8]?
    public var userHandle: [UInt8]?
    public var clientExtensionResults: ClientExtensionResults = .init()

    public var id: String { Base64URL.encode(rawId) }
    public var isRegistration: Bool { attestationObject != nil }

    public struct ClientExtensionResults: Codable, Sendable, Equatable {
        public struct CredProps: Codable, Sendable, Equatable { public var rk: Bool }
        public struct PRF: Codable, Sendable, Equatable {
            public struct Results: Codable, Sendable, Equatable { public var first: String; public var second: String? }
            public var enabled: Bool?
            public var results: Results?
        }
        public var credProps: CredProps?
        public var prf: PRF?
        public init() {}
    }

    struct Response: Encodable {
        var clientDataJSON: String
        var attestationObject: String?
        var authenticatorData: String
        var transports: [String]?
        var publicKey: String?
        var publicKeyAlgorithm: Int?
        var signature: String?
        var userHandle: String?
    }

    struct JSONShape: Encodable {
        var id: String
        var rawId: String
        var type = "public-key"
        var authenticatorAttachment = "cross-platform"
        var response: Response
        var clientExtensionResults: ClientExtensionResults
    }

    func shape(_ encode: ([UInt8]) -> String) -> JSONShape {
        JSONShape(id: id, rawId: encode(rawId), response: Response(
            clientDataJSON: encode(clientDataJSON), attestationObject: attestationObject.map(encode),
            authenticatorData: encode(authenticatorData), transports: isRegistration ? ["usb"] : nil,
            publicKey: publicKey.map(encode), publicKeyAlgorithm: publicKeyAlgorithm,
            signature: signature.map(encode), userHandle: userHandle.map(encode)),
            clientExtensionResults: clientExtensionResults)
    }

    /// `toJSON()`: what a page posts to its server.
    public func toJSON() -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes]
        return try! encoder.encode(shape { Base64URL.encode($0) })
    }

    /// `toJSON()` as a JSON object (for embedding in a request body).
    public func jsonObject() -> [String: Any] {
        try! JSONSerialization.jsonObject(with: toJSON()) as! [String: Any]
    }

    /// The Mosaic SDK's `webauthn_encoded_result`: base64 of {webauthnSessionId,
    /// publicKeyCredential, userAgent}, the credential's binary fields in standard padded base64.
    public func sdkWrapper(sessionID: String, userAgent: String = "vfido-webauthn-client") -> String {
        struct Wrapper: Encodable { var webauthnSessionId: String; var publicKeyCredential: JSONShape; var userAgent: String }
        let wrapper = Wrapper(webauthnSessionId: sessionID, publicKeyCredential: shape { Data($0).base64EncodedString() },
                              userAgent: userAgent)
        return try! JSONEncoder().encode(wrapper).base64EncodedString()
    }
}
