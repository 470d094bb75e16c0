import Foundation
import RelyingParty

// Request bodies of the Mosaic-style API, field names as the API documents them.

struct RegisterStartRequest: Decodable {
    var client_id: String?
    var username: String?
    var display_name: String?
    var timeout: Double?
    var limit_single_credential_to_device: Bool?
}

struct CompleteRequest: Decodable {
    var webauthn_encoded_result: JSONValue?
    var webauthn_session_id: String?
    var external_user_id: String?
    var device_id: String?
    var user_email: String?
    var register_webauthn_cred_token: String?

    func credential() throws(APIError) -> SubmittedCredential {
        guard let value = webauthn_encoded_result else { throw APIError.invalidRequest("webauthn_encoded_result is required") }
        return try SubmittedCredential(value)
    }
}

struct HostedHintRequest: Decodable {
    var external_user_id: String?
    var username: String?
    var display_name: String?
    var redirect_uri: String?
}

struct AuthenticateStartRequest: Decodable {
    var client_id: String?
    var username: String?
    var approval_data: ApprovalData?
    var timeout: Double?
}

struct TicketRequest: Decodable { var cross_device_ticket_id: String? }

struct CrossDeviceExternalInitRequest: Decodable {
    var external_user_id: String?
    var username: String?
}

struct SessionAuthenticateRequest: Decodable { var session_id: String? }

struct AuthSessionStartRequest: Decodable {
    var client_id: String?
    var cross_device: Bool?
    var approval_data: ApprovalData?
    var redirect_uri: String?
}

struct AuthSessionIDRequest: Decodable { var auth_session_id: String? }

struct AuthSessionRegisterStartRequest: Decodable {
    struct User: Decodable { var username: String?; var display_name: String? }
    var auth_session_id: String?
    var user: User?
}

struct AuthSessionAuthenticateStartRequest: Decodable {
    var auth_session_id: String?
    var username: String?
}

struct AuthSessionCompleteRequest: Decodable {
    var auth_session_id: String?
    var webauthn_session_id: String?
    var public_key_credential: JSONValue?

    func credential() throws(APIError) -> SubmittedCredential {
        guard let value = public_key_credential else { throw APIError.invalidRequest("public_key_credential is required") }
        return try SubmittedCredential(value)
    }
}

struct HostedLoginStartRequest: Decodable {
    var client_id: String?
    var redirect_uri: String?
    var login_hint: String?
    var state: String?
}

struct TokenRequest: Decodable {
    var grant_type: String?
    var client_id: String?
    var client_secret: String?
    var code: String?
    var redirect_uri: String?
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
