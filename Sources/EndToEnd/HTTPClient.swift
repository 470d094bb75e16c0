import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// A JSON answer from the relying party, with its status.
struct HTTPAnswer: @unchecked Sendable {
    var status: Int
    var json: [String: Any]
    var text: String

    subscript(key: String) -> Any? { json[key] }
    func string(_ key: String) -> String? { json[key] as? String }
    var errorCode: String? { string("error_code") }
}

/// The page's and the backend's HTTP calls to the relying party (JSON or form bodies, bearer
/// tokens). No cookies, no redirects followed: every flow step is explicit.
struct HTTPClient: Sendable {
    let base: URL
    let session: URLSession

    init(base: URL) {
        self.base = base
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = 30
        session = URLSession(configuration: configuration)
    }

    func request(_ method: String, _ path: String, json body: [String: Any]? = nil, form: [String: String]? = nil,
                 token: String? = nil) async throws -> HTTPAnswer {
        guard let url = URL(string: path, relativeTo: base) else { throw FlowFailure("bad path \(path)") }
        var request = URLRequest(url: url)
        request.httpMethod = method
        if let body {
            request.httpBody = try JSONSerialization.data(withJSONObject: body)
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        } else if let form {
            var components = URLComponents()
            components.queryItems = form.map { URLQueryItem(name: $0.key, value: $0.value) }
            request.httpBody = Data((components.percentEncodedQuery ?? "").replacingOccurrences(of: "+", with: "%2B").utf8)
            request.setValue("application/x-www-form-urlencoded", forHTTPHeaderField: "Content-Type")
        }
        if let token { request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
        let (data, response): (Data, URLResponse)
        do {
            (data, response) = try await session.data(for: request)
        } catch {
            throw FlowFailure("\(method) \(path): \(error.localizedDescription)")
        }
        let text = String(decoding: data, as: UTF8.self)
        let json = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] ?? [:]
        return HTTPAnswer(status: (response as? HTTPURLResponse)?.statusCode ?? 0, json: json, text: text)
    }

    /// A call that must answer 200; anything else fails the flow, naming the RP's error code.
    func ok(_ method: String, _ path: String, json body: [String: Any]? = nil, form: [String: String]? = nil,
            token: String? = nil) async throws -> HTTPAnswer {
        let answer = try await request(method, path, json: body, form: form, token: token)
        guard answer.status == 200 else {
            let reason = answer.errorCode.map { "\($0): \(answer.string("message") ?? "")" } ?? String(answer.text.prefix(200))
            throw FlowFailure("\(method) \(path) answered \(answer.status) \(reason)")
        }
        return answer
    }
}
