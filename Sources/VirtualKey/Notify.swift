import CTAP
import Foundation
import Logging

/// Asks through a desktop notification with Allow and Deny actions
/// (org.freedesktop.Notifications on the session D-Bus, spoken through GLib's `gdbus`), as
/// rust-u2f and passless do. The notification is withdrawn when the host cancels or the time is
/// up. Where the session has no notification server, or one without actions, it asks through
/// pinentry instead, and says so in the log.
public actor NotifyPresence: UserPresence {
    let timeout: Duration
    let fallback: PinentryPresence
    let logger: Logger?
    private let turn = PromptTurn()

    static let destination = "org.freedesktop.Notifications"
    static let objectPath = "/org/freedesktop/Notifications"

    public init(timeout: Duration, fallback: PinentryPresence, logger: Logger? = nil) {
        self.timeout = timeout
        self.fallback = fallback
        self.logger = logger
    }

    public func confirm(_ request: UserPresenceRequest) async -> UserPresenceResult {
        await turn.run { await ask(request) }
    }

    private func ask(_ request: UserPresenceRequest) async -> UserPresenceResult {
        guard let gdbus = LineProcess.resolve("gdbus") else {
            logger?.warning("notify: no gdbus (GLib's libglib2.0-bin) to reach the session bus; asking through pinentry")
            return await fallback.confirm(request)
        }
        guard let capabilities = await Self.call(gdbus, "GetCapabilities") else {
            logger?.warning("notify: no notification server on the session bus (DBUS_SESSION_BUS_ADDRESS); asking through pinentry")
            return await fallback.confirm(request)
        }
        guard capabilities.contains("'actions'") else {
            logger?.info("notify: the notification server shows no actions (Allow/Deny); asking through pinentry")
            return await fallback.confirm(request)
        }
        // Listen before showing it, so that a quick answer is not missed.
        let monitor: LineProcess
        do {
            monitor = try LineProcess(path: gdbus, arguments: ["monitor", "--session", "--dest", Self.destination, "--object-path", Self.objectPath])
        } catch {
            logger?.warning("notify: \(error); the request is denied")
            return .denied
        }
        defer { monitor.finish() }
        guard await Self.background({ monitor.readLine() })?.hasPrefix("Monitoring signals") == true else {
            logger?.warning("notify: gdbus monitor did not start; the request is denied")
            return .denied
        }
        let milliseconds = Int(timeout.components.seconds) * 1000 + Int(timeout.components.attoseconds / 1_000_000_000_000_000)
        let question = request.verification ? "Verify it is you" : "Allow it"
        guard let shown = await Self.call(gdbus, "Notify", Self.text("vfido"), "0", Self.text("dialog-password"),
                                          Self.text("vfido security key"), Self.text("\(request.summary). \(question)?"),
                                          "['allow', 'Allow', 'deny', 'Deny']", "{'urgency': <byte 2>}", "\(milliseconds)"),
              let id = shown.firstMatch(of: /uint32 (\d+)/).flatMap({ UInt32($0.1) }) else {
            logger?.warning("notify: the notification server did not show the notification; the request is denied")
            return .denied
        }
        let expired = Flag()
        let watchdog = DispatchWorkItem {
            expired.set()
            Self.close(gdbus, id)
        }
        DispatchQueue.global().asyncAfter(deadline: .now() + .milliseconds(milliseconds), execute: watchdog)
        let outcome = await withTaskCancellationHandler {
            await Self.background { Self.wait(for: id, on: monitor) }
        } onCancel: {
            Self.close(gdbus, id)
        }
        watchdog.cancel()
        if Task.isCancelled {
            logger?.info("notify: the host cancelled; the notification is withdrawn")
            return .cancelled
        }
        if expired.isSet {
            logger?.info("notify: no answer in \(milliseconds / 1000) s; the notification is withdrawn")
            return .timedOut
        }
        switch outcome {
        case .action("allow"): return .approved
        case .action: return .denied
        case .closed(1):
            logger?.info("notify: the notification expired unanswered")
            return .timedOut
        case .closed:
            logger?.info("notify: the notification was dismissed; the request is denied")
            return .denied
        case .none:
            logger?.warning("notify: gdbus monitor ended; the request is denied")
            return .denied
        }
    }

    enum Outcome: Equatable {
        case action(String)
        /// NotificationClosed's reason: 1 expired, 2 dismissed, 3 closed by CloseNotification.
        case closed(UInt32)
    }

    /// The first ActionInvoked or NotificationClosed for `id`; nil when the monitor ends.
    static func wait(for id: UInt32, on monitor: LineProcess) -> Outcome? {
        while let line = monitor.readLine() {
            if let signal = parseSignal(line), signal.id == id { return signal.outcome }
        }
        return nil
    }

    /// A line of `gdbus monitor`: `/org/...: org.freedesktop.Notifications.ActionInvoked (uint32 7, 'allow')`.
    static func parseSignal(_ line: String) -> (id: UInt32, outcome: Outcome)? {
        if let m = line.firstMatch(of: /\.ActionInvoked \(uint32 (\d+), '([^']*)'\)/), let id = UInt32(m.1) {
            return (id, .action(String(m.2)))
        }
        if let m = line.firstMatch(of: /\.NotificationClosed \(uint32 (\d+), uint32 (\d+)\)/), let id = UInt32(m.1), let reason = UInt32(m.2) {
            return (id, .closed(reason))
        }
        return nil
    }

    /// A GVariant text literal for a string: gdbus parses each argument as GVariant first.
    static func text(_ s: String) -> String {
        "'" + s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "'", with: "\\'") + "'"
    }

    /// One method call on the notification server; its printed reply, or nil when it failed.
    static func call(_ gdbus: String, _ method: String, _ arguments: String...) async -> String? {
        await background { callNow(gdbus, method, arguments) }
    }

    static func callNow(_ gdbus: String, _ method: String, _ arguments: [String]) -> String? {
        guard let child = try? LineProcess(path: gdbus, arguments: ["call", "--session", "--dest", destination, "--object-path", objectPath,
                                                                   "--method", "\(destination).\(method)"] + arguments) else { return nil }
        var lines: [String] = []
        while let line = child.readLine() { lines.append(line) }
        child.finish()
        return child.process.terminationStatus == 0 ? lines.joined(separator: "\n") : nil
    }

    static func close(_ gdbus: String, _ id: UInt32) {
        DispatchQueue.global().async { _ = callNow(gdbus, "CloseNotification", ["uint32 \(id)"]) }
    }

    /// Runs blocking work (a child's pipe) off the cooperative pool.
    static func background<T: Sendable>(_ work: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { done in DispatchQueue.global().async { done.resume(returning: work()) } }
    }
}

/// Set once, from any thread.
final class Flag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    func set() { lock.withLock { value = true } }
    var isSet: Bool { lock.withLock { value } }
}
