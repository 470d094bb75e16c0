import Bytes
import CTAP
import Foundation
import HTTPAPI
import Hummingbird
import VirtualKey

/// The control API's JSON: request bodies are read strictly (an unknown field is an error, not
/// silently ignored, so a misspelt option never passes for a working one), responses are
/// Encodable structs with the names CDP and WebDriver use.

/// A request body: its fields, named by its CodingKeys.
protocol ControlRequest: Decodable {
    associatedtype CodingKeys: CodingKey & CaseIterable
}

enum ControlJSON {
    static func decode<T: ControlRequest>(_ type: T.Type, from bytes: Data) throws -> T {
        let data = bytes.isEmpty ? Data("{}".utf8) : bytes
        guard let object = try? JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed]) as? [String: Any] else {
            throw APIError.invalidRequest("the body must be a JSON object")
        }
        let known = Set(T.CodingKeys.allCases.map(\.stringValue))
        if let unknown = object.keys.sorted().first(where: { !known.contains($0) }) {
            throw APIError(.badRequest, "unknown_field", "unknown field \"\(unknown)\" (this endpoint takes: \(known.sorted().joined(separator: ", ")))")
        }
        do {
            return try JSONDecoder().decode(T.self, from: data)
        } catch DecodingError.typeMismatch(_, let context), DecodingError.valueNotFound(_, let context) {
            throw APIError(.badRequest, "invalid_field", "field \(context.codingPath.map(\.stringValue).joined(separator: ".")) has the wrong type")
        } catch DecodingError.keyNotFound(let key, _) {
            throw APIError(.badRequest, "missing_field", "field \(key.stringValue) is required")
        } catch let error as APIError {
            throw error
        } catch {
            throw APIError.invalidRequest("the body is not what this endpoint takes")
        }
    }

    static func response<T: Encodable>(_ value: T, status: HTTPResponse.Status = .ok) throws -> Response {
        Response(status: status, headers: [.contentType: "application/json", .cacheControl: "no-store"],
                 body: .init(byteBuffer: ByteBuffer(bytes: try JSONEncoder.api.encode(value))))
    }

    /// RFC 3339 time, as every timestamp in the API is written.
    static func time(_ date: Date) -> String { date.formatted(.iso8601) }

    static func bytes(_ text: String, field: String) throws -> [UInt8] {
        guard let bytes = Base64URL.decode(text) else {
            throw APIError(.badRequest, "invalid_field", "field \(field) is not base64url")
        }
        return bytes
    }
}

// MARK: - Keys

struct KeyJSON: Encodable {
    var key: Int
    var serialNumber: String
    var protocolVersion = "ctap2_1"
    var transport = "usb"
    var aaguid: String
    var plugged: Bool
    var usbipBusId: String?
    var usbipAttached: Bool?
    var udpPort: Int?
    var hidraw: Bool
    var hasResidentKey = true
    var hasUserVerification: Bool
    var presence: PresenceJSON
    var responseOverrides: OverridesJSON
    var storedCredentials: Int
    var maxResidentCredentials: Int
}

struct PresenceJSON: Codable {
    var policy: String
    /// CDP's isUserConsenting: presence is approved at once (policy auto).
    var isUserConsenting: Bool
    var isUserVerified: Bool
    var touching: Bool
}

struct PresenceRequest: ControlRequest {
    var policy: String?
    var isUserConsenting: Bool?
    var isUserVerified: Bool?
    var touching: Bool?
    enum CodingKeys: String, CodingKey, CaseIterable { case policy, isUserConsenting, isUserVerified, touching }
}

struct OverridesJSON: Codable, ControlRequest {
    var isBogusSignature: Bool?
    var isBadUV: Bool?
    var isBadUP: Bool?
    enum CodingKeys: String, CodingKey, CaseIterable { case isBogusSignature, isBadUV, isBadUP }

    init(_ o: ResponseOverrides) {
        isBogusSignature = o.isBogusSignature
        isBadUV = o.isBadUV
        isBadUP = o.isBadUP
    }
}

// MARK: - Prompts

struct PromptJSON: Encodable {
    var id: Int
    var operation: String
    var rpId: String?
    var userName: String?
    var verification: Bool
    var summary: String
    var startedAt: String

    init(_ p: KeyPresence.Prompt) {
        id = p.id
        operation = p.request.operation.rawValue
        rpId = p.request.rpId
        userName = p.request.userName
        verification = p.request.verification
        summary = p.request.summary
        startedAt = ControlJSON.time(p.startedAt)
    }
}

struct AnswerRequest: ControlRequest {
    /// Which prompt; the oldest when absent.
    var id: Int?
    /// Seconds to wait for a prompt to appear (at most 300).
    var wait: Double?
    enum CodingKeys: String, CodingKey, CaseIterable { case id, wait }
}

// MARK: - Credentials

/// WebDriver's credential parameters (Web Authentication L3 §11.6), which CDP's Credential
/// type also uses.
struct CredentialRequest: ControlRequest {
    var credentialId: String
    var isResidentCredential: Bool
    var rpId: String
    var privateKey: String
    var userHandle: String?
    var signCount: Int?
    var largeBlob: String?
    var backupEligibility: Bool?
    var backupState: Bool?
    var userName: String?
    var userDisplayName: String?
    enum CodingKeys: String, CodingKey, CaseIterable {
        case credentialId, isResidentCredential, rpId, privateKey, userHandle, signCount, largeBlob, backupEligibility,
             backupState, userName, userDisplayName
    }

    func credentialImport() throws -> CredentialImport {
        if largeBlob != nil {
            throw APIError(.badRequest, "unsupported_field", "largeBlob cannot be set through the API yet; write it with authenticatorLargeBlobs")
        }
        let key: CredentialPrivateKey
        do {
            key = try CredentialPrivateKey(pkcs8: try ControlJSON.bytes(privateKey, field: "privateKey"))
        } catch let error as CTAPError {
            throw APIError(.badRequest, error.status == .unsupportedAlgorithm ? "unsupported_key_type" : "invalid_private_key", error.reason)
        }
        guard (0...Int(UInt32.max)).contains(signCount ?? 0) else {
            throw APIError(.badRequest, "invalid_field", "signCount must be 0 to \(UInt32.max)")
        }
        return CredentialImport(
            id: try ControlJSON.bytes(credentialId, field: "credentialId"), rpId: rpId, discoverable: isResidentCredential,
            privateKey: key, userId: try userHandle.map { try ControlJSON.bytes($0, field: "userHandle") }, userName: userName,
            userDisplayName: userDisplayName, signCount: UInt32(signCount ?? 0), backupEligible: backupEligibility ?? false,
            backupState: backupState ?? false)
    }
}

struct CredentialPropertiesRequest: ControlRequest {
    var backupEligibility: Bool?
    var backupState: Bool?
    var signCount: Int?
    enum CodingKeys: String, CodingKey, CaseIterable { case backupEligibility, backupState, signCount }
}

struct ExportRequest: ControlRequest {
    /// "webdriver" (the credential JSON above, privateKey included) or "cxf".
    var format: String?
    enum CodingKeys: String, CodingKey, CaseIterable { case format }
}

/// A stored credential as the API shows it: WebDriver's names, the private key only on export.
struct CredentialJSON: Encodable {
    var credentialId: String
    var isResidentCredential: Bool
    var rpId: String
    var userHandle: String?
    var userName: String?
    var userDisplayName: String?
    /// The credential's own counter; null when it counts on the key's global counter.
    var signCount: UInt32?
    var backupEligibility: Bool
    var backupState: Bool
    var algorithm: Int
    /// The COSE_Key, base64url.
    var publicKey: String
    var createdAt: String
    var privateKey: String?

    init(_ c: StoredCredential, includePrivateKey: Bool) throws {
        let key = try CredentialPrivateKey(algorithm: c.algorithm, raw: c.privateKey)
        credentialId = Base64URL.encode(c.id)
        isResidentCredential = c.discoverable
        rpId = c.rpId
        userHandle = c.userId.isEmpty ? nil : Base64URL.encode(c.userId)
        userName = c.userName
        userDisplayName = c.userDisplayName
        signCount = c.signCount
        backupEligibility = c.backupEligible
        backupState = c.backupState
        algorithm = c.algorithm.rawValue
        publicKey = Base64URL.encode(try key.publicKeyCOSE().encoded)
        createdAt = ControlJSON.time(Date(timeIntervalSince1970: c.createdAt))
        privateKey = includePrivateKey ? Base64URL.encode(try key.pkcs8()) : nil
    }
}
