import HTTPAPI
import RelyingParty

/// The RP's own errors, in the shared `{"error_code", "message"}` shape.
extension APIError {
    /// A verification failure: 400 with the verifier's code.
    init(_ error: WebAuthnError) {
        self.init(.badRequest, error.code.rawValue, error.message)
    }

    static func clientNotFound(_ id: String) -> APIError { APIError(.notFound, "client_not_found", "no client with client_id \"\(id)\"") }
    static func ticketNotFound() -> APIError { APIError(.notFound, "cross_device_ticket_not_found", "no cross-device ticket with that ID") }
}
