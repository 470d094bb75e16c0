import Hummingbird

/// Answers a request that matches no route as every other API error is answered: 404 with
/// `{"error_code": "endpoint_not_found", "message": ...}`, instead of the router's empty body,
/// so an integrator who mistypes a path reads what went wrong in the same place as always.
struct NotFoundAsJSON<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as HTTPError where error.status == .notFound {
            throw APIError(.notFound, "endpoint_not_found", "no endpoint \(request.method) \(request.uri.path)")
        }
    }
}
