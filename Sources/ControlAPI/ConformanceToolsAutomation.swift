import Foundation
import HTTPAPI
import Hummingbird
import Logging
import NIOCore
import VirtualKey

/// The FIDO Alliance conformance tools' test automation (desktop tools 1.7.25 and later,
/// "Enable test automation"; fido-alliance/conformance-test-tools-resources, docs/FIDO2/Automation.md):
/// instead of asking a person, the tools POST to http://localhost:3000 and wait for a 2xx that
/// comes only once the action is done.
/// - `/conformance/userpresence`: touch the key. With `--presence control` the next prompt
///   (already waiting, or arriving within the prompt timeout) is approved; otherwise presence
///   is automatic already and the answer is immediate.
/// - `/conformance/powercycle`: unplug and re-plug (the uhid node is created again, so the tools
///   reopen it); without uhid a power cycle as the simulator's reboot (USB/IP hosts stay attached).
/// - `/conformance/results`: the run's summary, logged.
/// The tools send no credentials, so this listener is opt-in (`--fido-conformance-tools`) and
/// loopback only; it acts on one key and can do nothing but touch and power-cycle it.
public enum ConformanceToolsAutomation {
    public static let defaultPort = 3000

    static func router(daemon: Daemon, key number: Int, logger: Logger) -> Router<BasicRequestContext> {
        let router = Router(context: BasicRequestContext.self)
        router.add(middleware: NotFoundAsJSON())
        router.add(middleware: BodyLimit(maxBody: ControlRoutes.maxBody))
        @Sendable func key() throws -> RunningKey {
            guard let key = daemon.key(number) else { throw APIError(.notFound, "key_not_found", "key \(number) is gone") }
            return key
        }
        router.post("/conformance/userpresence") { _, _ -> Response in
            let key = try key()
            guard await key.presence.policy == .control else { return ok("presence is \(await key.presence.policy.rawValue)") }
            guard let prompt = await key.presence.answer(true, wait: key.presence.timeout) else {
                logger.warning("conformance tools asked for a touch, but no prompt came within \(key.presence.timeout)")
                throw APIError(.gatewayTimeout, "no_prompt", "no prompt waited on key \(number) within \(key.presence.timeout)")
            }
            logger.info("conformance tools touched key \(number): \(prompt.request.summary)")
            return ok("approved \(prompt.request.summary)")
        }
        router.post("/conformance/powercycle") { _, _ -> Response in
            let key = try key()
            if key.uhid != nil {
                await daemon.unplug(key)
                do { try await daemon.plug(key) } catch {
                    throw APIError(.internalServerError, "plug_failed", "cannot plug key \(number) back in: \(error)")
                }
            } else {
                await daemon.powerCycle(key)
            }
            logger.info("conformance tools power-cycled key \(number)")
            return ok("power-cycled")
        }
        router.post("/conformance/results") { request, _ -> Response in
            let body = try await ControlRoutes.body(request)
            let results = try? JSONSerialization.jsonObject(with: body) as? [String: Any]
            let passed = results?["passedTestsCount"].map { "\($0)" } ?? "?"
            let failed = results?["failedTestsCount"].map { "\($0)" } ?? "?"
            logger.notice("FIDO conformance tools finished: \(passed) passed, \(failed) failed")
            for test in results?["failedTests"] as? [Any] ?? [] { logger.notice("  failed: \(test)") }
            return ok("recorded")
        }
        return router
    }

    static func ok(_ message: String) -> Response {
        Response(status: .ok, headers: [.contentType: "text/plain"], body: .init(byteBuffer: ByteBuffer(string: message + "\n")))
    }

    /// Listens until the task is cancelled; answers once bound, with the port.
    public static func start(daemon: Daemon, key: Int = 1, host: String, port: Int, logger: Logger) async throws -> (Task<Void, Error>, Int?) {
        try await ControlServer.serve(router(daemon: daemon, key: key, logger: logger), address: .hostname(host, port: port), logger: logger)
    }
}
