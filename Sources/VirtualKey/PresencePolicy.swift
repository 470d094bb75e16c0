import CTAP
import Foundation

/// How a virtual key answers requests for user presence and built-in user verification
/// (DESIGN.md §6).
public enum PresencePolicy: String, Sendable, CaseIterable {
    /// Approve at once: the CI default.
    case auto
    /// Refuse every request (CTAP2_ERR_OPERATION_DENIED; built-in UV: UV_INVALID).
    case deny
    /// Ask on the controlling terminal, naming the RP, user and operation, with a timeout.
    case terminal
    /// Wait for `vfido approve` / `vfido deny` (the control API), with a timeout: lets a
    /// browser test assert that a prompt happened.
    case control
    /// Ask through the desktop's pinentry program (Assuan CONFIRM), with a timeout.
    case pinentry
    /// Ask through a desktop notification with Allow/Deny actions (session D-Bus), falling back
    /// to pinentry where the notification server has no actions.
    case notify
}

/// Answers every prompt the same way.
public struct FixedPresence: UserPresence {
    public let approve: Bool
    public init(approve: Bool) { self.approve = approve }
    public func confirm(_ request: UserPresenceRequest) async -> UserPresenceResult {
        if Task.isCancelled { return .cancelled }
        return approve ? .approved : .denied
    }
}

extension UserPresenceRequest {
    /// "example.com wants to sign in as alice": what a prompt shows the person deciding.
    public var summary: String {
        let rp = rpId ?? "a platform"
        let who = userName.map { " as \"\($0)\"" } ?? ""
        let action: String
        switch operation {
        case .makeCredential: action = "create a credential\(who)"
        case .getAssertion: action = "sign in\(who)"
        case .reset: action = "RESET the key, deleting every credential"
        case .selection: action = "select this key"
        case .touchProbe: action = "select this key (touch probe)"
        case .pinUvAuthToken: action = "verify you to get a pinUvAuthToken"
        case .u2fRegister: action = "register a U2F credential"
        case .u2fAuthenticate: action = "sign in with a U2F credential"
        }
        return "\(rp) wants to \(action) [\(operation.rawValue)]"
    }
}

/// One prompt at a time for a policy that asks a person: another waits for its turn, or ends
/// when its platform gives up (task cancellation) while it waits.
final class PromptTurn: @unchecked Sendable {
    private let lock = NSLock()
    private var busy = false

    /// Runs `ask` (in the caller's isolation) when it is this prompt's turn; `.cancelled` if
    /// the platform gave up first.
    func run(isolation: isolated (any Actor)? = #isolation, _ ask: () async -> UserPresenceResult) async -> UserPresenceResult {
        while !take() {
            if Task.isCancelled { return .cancelled }
            try? await Task.sleep(for: .milliseconds(50))
        }
        defer { lock.withLock { busy = false } }
        return await ask()
    }

    private func take() -> Bool {
        lock.withLock {
            if busy { return false }
            busy = true
            return true
        }
    }
}

/// Asks on a terminal: prints who is asking and reads y or n. Polls the terminal between
/// short sleeps so a CTAPHID CANCEL (task cancellation) or the timeout ends the wait at once.
/// One prompt at a time.
public actor TerminalPresence: UserPresence {
    let input: FileHandle
    let output: FileHandle
    let timeout: Duration
    private let turn = PromptTurn()

    public init(input: FileHandle, output: FileHandle, timeout: Duration) {
        self.input = input
        self.output = output
        self.timeout = timeout
    }

    /// The controlling terminal, or an error that says what to do.
    public static func openTTY(timeout: Duration) throws -> TerminalPresence {
        let fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC)
        guard fd >= 0 else {
            throw DaemonError("--presence terminal needs a terminal (/dev/tty cannot be opened); use auto, deny or control")
        }
        return TerminalPresence(input: FileHandle(fileDescriptor: fd), output: FileHandle(fileDescriptor: fd), timeout: timeout)
    }

    public func confirm(_ request: UserPresenceRequest) async -> UserPresenceResult {
        await turn.run { await ask(request) }
    }

    private func ask(_ request: UserPresenceRequest) async -> UserPresenceResult {
        drain()
        let question = request.verification ? "Verify it is you" : "Touch the key"
        let seconds = Int(timeout.components.seconds)
        write("\nvfido: \(request.summary).\n\(question)? [y/n] (\(seconds) s) ")
        let deadline = ContinuousClock.now + timeout
        var line: [UInt8] = []
        while true {
            if Task.isCancelled {
                write("\nvfido: cancelled by the platform\n")
                return .cancelled
            }
            if ContinuousClock.now >= deadline {
                write("\nvfido: no answer in \(seconds) s: timed out\n")
                return .timedOut
            }
            while let byte = readByte() {
                if byte == UInt8(ascii: "\n") || byte == UInt8(ascii: "\r") {
                    let answer = String(decoding: line, as: UTF8.self).trimmingCharacters(in: .whitespaces).lowercased()
                    line = []
                    if answer == "y" || answer == "yes" {
                        write("vfido: approved\n")
                        return .approved
                    }
                    if answer == "n" || answer == "no" {
                        write("vfido: denied\n")
                        return .denied
                    }
                    write("Please answer y or n: ")
                } else {
                    line.append(byte)
                }
            }
            try? await Task.sleep(for: .milliseconds(50))
        }
    }

    /// One byte if one is waiting, without blocking.
    private func readByte() -> UInt8? {
        var fds = pollfd(fd: input.fileDescriptor, events: Int16(POLLIN), revents: 0)
        guard poll(&fds, 1, 0) > 0, fds.revents & Int16(POLLIN) != 0 else { return nil }
        var byte: UInt8 = 0
        return read(input.fileDescriptor, &byte, 1) == 1 ? byte : nil
    }

    /// Typing that arrived before the question is not an answer to it.
    private func drain() {
        while readByte() != nil {}
    }

    private func write(_ text: String) {
        try? output.write(contentsOf: Data(text.utf8))
    }
}

/// Wraps a prompt policy and knows whether a prompt is waiting, so KEEPALIVEs can say
/// UPNEEDED rather than PROCESSING (CTAP 2.1 §11.2.9.2.1).
public final class TrackedPresence: UserPresence, @unchecked Sendable {
    let inner: UserPresence
    private let lock = NSLock()
    private var waiting = 0
    private var onWaitBegins: (@Sendable () -> Void)?

    /// Called as each wait begins, before the user is asked: the session sends UPNEEDED at once
    /// rather than on its next tick, so a quick answer never leaves the platform uninformed.
    public func whenWaitBegins(_ call: @escaping @Sendable () -> Void) {
        lock.lock()
        onWaitBegins = call
        lock.unlock()
    }

    public init(_ inner: UserPresence) { self.inner = inner }

    public var isWaiting: Bool {
        lock.lock()
        defer { lock.unlock() }
        return waiting > 0
    }

    public func confirm(_ request: UserPresenceRequest) async -> UserPresenceResult {
        adjust(+1)
        defer { adjust(-1) }
        waitBegins()
        return await inner.confirm(request)
    }

    private func waitBegins() {
        lock.lock()
        let notify = onWaitBegins
        lock.unlock()
        notify?()
    }

    private func adjust(_ delta: Int) {
        lock.lock()
        waiting += delta
        lock.unlock()
    }
}
