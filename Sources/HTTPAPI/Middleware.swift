import Hummingbird

/// Refuses a request whose Content-Length claims more than any endpoint takes, at once and
/// before a byte of its body is read (413 `request_too_large`): a client that announces 4 GB
/// and then stalls holds nothing open.
public struct BodyLimit<Context: RequestContext>: RouterMiddleware {
    let maxBody: Int
    public init(maxBody: Int) { self.maxBody = maxBody }
    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if let declared = request.headers[.contentLength], let length = Int(declared), length > maxBody {
            throw APIError(.contentTooLarge, "request_too_large", "request bodies are limited to \(maxBody) bytes; this one claims \(length)")
        }
        return try await next(request, context)
    }
}

/// Answers a request that matches no route as every other API error is answered: 404 with
/// `{"error_code": "endpoint_not_found", "message": ...}`, instead of the router's empty body,
/// so an integrator who mistypes a path reads what went wrong in the same place as always.
public struct NotFoundAsJSON<Context: RequestContext>: RouterMiddleware {
    public init() {}
    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as HTTPError where error.status == .notFound {
            throw APIError(.notFound, "endpoint_not_found", "no endpoint \(request.method) \(request.uri.path)")
        }
    }
}
