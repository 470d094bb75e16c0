import Foundation
import Hummingbird
import RelyingParty

/// An error answered as `{"error_code": ..., "message": ...}` with its HTTP status, the shape
/// of the Mosaic API's errors.
public struct APIError: Error, HTTPResponseError, Sendable, Equatable {
    public let status: HTTPResponse.Status
    public let code: String
    public let message: String

    public init(_ status: HTTPResponse.Status, _ code: String, _ message: String) {
        self.status = status
        self.code = code
        self.message = message
    }

    /// A verification failure: 400 with the verifier's code.
    public init(_ error: WebAuthnError) {
        self.init(.badRequest, error.code.rawValue, error.message)
    }

    public var headers: HTTPFields { [.contentType: "application/json"] }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        let body = try JSONEncoder.api.encode(["error_code": code, "message": message])
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }

    static func invalidRequest(_ message: String) -> APIError { APIError(.badRequest, "invalid_request", message) }
    static func clientNotFound(_ id: String) -> APIError { APIError(.notFound, "client_not_found", "no client with client_id \"\(id)\"") }
    static func ticketNotFound() -> APIError { APIError(.notFound, "cross_device_ticket_not_found", "no cross-device ticket with that ID") }
    static func unauthorized(_ message: String) -> APIError { APIError(.unauthorized, "unauthorized", message) }
}

extension JSONEncoder {
    static var api: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }
}
