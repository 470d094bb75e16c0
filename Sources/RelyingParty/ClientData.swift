import Crypto
import Foundation

/// CollectedClientData (WebAuthn L3 §5.8.1), parsed from the exact bytes the client signed over.
public struct ClientData: Sendable, Equatable {
    public enum CeremonyType: String, Sendable { case create = "webauthn.create", get = "webauthn.get" }

    public let type: String
    public let challenge: [UInt8]
    public let origin: String
    public let crossOrigin: Bool
    public let topOrigin: String?
    /// SHA-256 of the raw JSON: what the authenticator signed.
    public let hash: [UInt8]

    /// Hard limit: no browser writes a clientDataJSON near this size.
    public static let maxSize = 8192

    private struct Fields: Decodable {
        let type: String
        let challenge: String
        let origin: String
        let crossOrigin: Bool?
        let topOrigin: String?
    }

    public init(json: [UInt8]) throws(WebAuthnError) {
        guard json.count <= Self.maxSize else { throw WebAuthnError(.invalidClientData, "clientDataJSON is over \(Self.maxSize) bytes") }
        let fields: Fields
        do {
            fields = try JSONDecoder().decode(Fields.self, from: Data(json))
        } catch {
            throw WebAuthnError(.invalidClientData, "clientDataJSON is not a JSON object with string type, challenge and origin (and boolean crossOrigin)")
        }
        guard let challenge = Base64URL.decode(fields.challenge) else {
            throw WebAuthnError(.invalidClientData, "clientDataJSON challenge is not base64url")
        }
        self.type = fields.type
        self.challenge = challenge
        self.origin = fields.origin
        self.crossOrigin = fields.crossOrigin ?? false
        self.topOrigin = fields.topOrigin
        self.hash = Array(SHA256.hash(data: json))
    }
}
