import Foundation
import HTTPAPI
import RelyingParty

// Request bodies of the Mosaic-style API, field names as the API documents them.

struct RegisterStartRequest: Decodable {
    var clientId: String?
    var username: String?
    var displayName: String?
    var timeout: Double?
    var limitSingleCredentialToDevice: Bool?

    enum CodingKeys: String, CodingKey {
        case clientId = "client_id", username, displayName = "display_name", timeout
        case limitSingleCredentialToDevice = "limit_single_credential_to_device"
    }
}

struct CompleteRequest: Decodable {
    var webauthnEncodedResult: JSONValue?
    var webauthnSessionId: String?
    var externalUserId: String?
    var deviceId: String?
    var userEmail: String?
    var registerWebauthnCredToken: String?

    func credential() throws(APIError) -> SubmittedCredential {
        guard let value = webauthnEncodedResult else { throw APIError.invalidRequest("webauthn_encoded_result is required") }
        return try SubmittedCredential(value)
    }

    enum CodingKeys: String, CodingKey {
        case webauthnEncodedResult = "webauthn_encoded_result", webauthnSessionId = "webauthn_session_id"
        case externalUserId = "external_user_id", deviceId = "device_id", userEmail = "user_email"
        case registerWebauthnCredToken = "register_webauthn_cred_token"
    }
}

struct HostedHintRequest: Decodable {
    var externalUserId: String?
    var username: String?
    var displayName: String?
    var redirectUri: String?

    enum CodingKeys: String, CodingKey {
        case externalUserId = "external_user_id", username, displayName = "display_name"
        case redirectUri = "redirect_uri"
    }
}

struct AuthenticateStartRequest: Decodable {
    var clientId: String?
    var username: String?
    var approvalData: ApprovalData?
    var timeout: Double?

    enum CodingKeys: String, CodingKey {
        case clientId = "client_id", username, approvalData = "approval_data", timeout
    }
}

struct TicketRequest: Decodable {
    var crossDeviceTicketId: String?
    enum CodingKeys: String, CodingKey { case crossDeviceTicketId = "cross_device_ticket_id" }
}

struct CrossDeviceExternalInitRequest: Decodable {
    var externalUserId: String?
    var username: String?

    enum CodingKeys: String, CodingKey { case externalUserId = "external_user_id", username }
}

struct SessionAuthenticateRequest: Decodable {
    var sessionId: String?
    enum CodingKeys: String, CodingKey { case sessionId = "session_id" }
}

struct AuthSessionStartRequest: Decodable {
    var clientId: String?
    var crossDevice: Bool?
    var approvalData: ApprovalData?
    var redirectUri: String?

    enum CodingKeys: String, CodingKey {
        case clientId = "client_id", crossDevice = "cross_device", approvalData = "approval_data"
        case redirectUri = "redirect_uri"
    }
}

struct AuthSessionIDRequest: Decodable {
    var authSessionId: String?
    enum CodingKeys: String, CodingKey { case authSessionId = "auth_session_id" }
}

struct AuthSessionRegisterStartRequest: Decodable {
    struct User: Decodable {
        var username: String?
        var displayName: String?
        enum CodingKeys: String, CodingKey { case username, displayName = "display_name" }
    }
    var authSessionId: String?
    var user: User?

    enum CodingKeys: String, CodingKey { case authSessionId = "auth_session_id", user }
}

struct AuthSessionAuthenticateStartRequest: Decodable {
    var authSessionId: String?
    var username: String?

    enum CodingKeys: String, CodingKey { case authSessionId = "auth_session_id", username }
}

struct AuthSessionCompleteRequest: Decodable {
    var authSessionId: String?
    var webauthnSessionId: String?
    var publicKeyCredential: JSONValue?

    func credential() throws(APIError) -> SubmittedCredential {
        guard let value = publicKeyCredential else { throw APIError.invalidRequest("public_key_credential is required") }
        return try SubmittedCredential(value)
    }

    enum CodingKeys: String, CodingKey {
        case authSessionId = "auth_session_id", webauthnSessionId = "webauthn_session_id"
        case publicKeyCredential = "public_key_credential"
    }
}

struct HostedLoginStartRequest: Decodable {
    var clientId: String?
    var redirectUri: String?
    var loginHint: String?
    var state: String?

    enum CodingKeys: String, CodingKey {
        case clientId = "client_id", redirectUri = "redirect_uri", loginHint = "login_hint", state
    }
}

struct TokenRequest: Decodable {
    var grantType: String?
    var clientId: String?
    var clientSecret: String?
    var code: String?
    var redirectUri: String?

    enum CodingKeys: String, CodingKey {
        case grantType = "grant_type", clientId = "client_id", clientSecret = "client_secret", code
        case redirectUri = "redirect_uri"
    }
}

/// approval_data as sent: a flat JSON object. Scalars become strings; a nested value is kept
/// as a marker so validation can name it (rather than failing as malformed JSON).
struct ApprovalData: Decodable {
    var values: [String: String]
    var nestedKeys: [String]

    init(from decoder: Decoder) throws {
        let raw = try [String: JSONValue](from: decoder)
        values = [:]
        nestedKeys = []
        for (key, value) in raw {
            switch value {
            case .string(let text): values[key] = text
            case .other(let json):
                if let first = json.first, first == UInt8(ascii: "{") || first == UInt8(ascii: "[") {
                    nestedKeys.append(key)
                } else {
                    values[key] = String(decoding: json, as: UTF8.self)
                }
            }
        }
    }

    func validated() throws(APIError) -> [String: String] {
        if let key = nestedKeys.sorted().first {
            throw APIError(.badRequest, "invalid_approval_data", "approval_data must be flat; \"\(key)\" holds an object or array")
        }
        return values
    }
}

// Response bodies.

struct SessionWithCreationOptions: Encodable {
    var webauthn_session_id: String
    var credential_creation_options: CreationOptions
}

struct SessionWithRequestOptions: Encodable {
    var webauthn_session_id: String
    var credential_request_options: RequestOptions
}

struct RegistrationResult: Encodable {
    var user_id: String
    var username: String
    var external_user_id: String?
    var credential_id: String
}

struct TicketResponse: Encodable { var cross_device_ticket_id: String }
struct HintResponse: Encodable { var register_webauthn_cred_token: String }
struct AuthSessionResponse: Encodable { var auth_session_id: String }
struct StatusResponse: Encodable { var status: String }
struct RedirectResponse: Encodable { var redirect_uri: String }
struct ClientTokenResponse: Encodable { var access_token: String; var token_type = "Bearer"; var expires_in: Int }

struct UserListing: Encodable {
    struct Credential: Encodable {
        var credential_id: String
        var algorithm: Int
        var sign_count: UInt32
        var aaguid: String
        var attestation_format: String
        var attestation_type: String
        var attestation_trusted: Bool
        var transports: [String]
        var discoverable: Bool?
        var backup_eligible: Bool
        var backed_up: Bool
        var user_verified: Bool
        var extensions: [String]
        var registered_at: String
        var last_used: String?
    }
    struct User: Encodable {
        var user_id: String
        var username: String
        var display_name: String
        var external_user_id: String?
        var credentials: [Credential]
    }
    var users: [User]
}
