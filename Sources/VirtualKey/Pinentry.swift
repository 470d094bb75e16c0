import CTAP
import Foundation
import KeyFile
import Logging

/// Asks the person at the desktop through the Assuan pinentry protocol: the `pinentry` program
/// their desktop has (pinentry-gnome3, -qt, -gtk2, -curses, -tty) shows a CONFIRM dialog that
/// names the RP, the account and the operation, with Allow and Deny and a timeout. One dialog
/// at a time; the host's CTAPHID CANCEL closes it. What goes wrong with the program (missing,
/// no display, no terminal) is answered as a real key answers a refusal, with a log line that
/// says why (docs/desktop.md).
public actor PinentryPresence: UserPresence {
    public let program: String
    let timeout: Duration
    let logger: Logger?
    private let turn = PromptTurn()

    public init(program: String = "pinentry", timeout: Duration, logger: Logger? = nil) {
        self.program = program
        self.timeout = timeout
        self.logger = logger
    }

    public func confirm(_ request: UserPresenceRequest) async -> UserPresenceResult {
        let question = request.verification ? "Verify it is you" : "Allow it"
        return await ask(request, description: "\(request.summary).\n\(question)?", last: "CONFIRM") { _ in .approved }
    }

    /// Built-in user verification by passphrase: GETPIN, and the passphrase must open the key
    /// file `vfido uv set` sealed under it (scrypt, AES-GCM: nothing in clear to compare with).
    public func verify(_ request: UserPresenceRequest, against keyFile: URL) async -> UserPresenceResult {
        await ask(request, description: "\(request.summary).\nEnter this key's passphrase to verify it is you.", last: "GETPIN",
                  extra: ["SETPROMPT Passphrase:", "SETOK Verify"]) { passphrase in
            do {
                _ = try KeyFile.load(keyFile, protection: .passphrase(passphrase))
                return .approved
            } catch let error as KeyFileError where error.kind == .wrongPassphrase {
                self.logger?.info("pinentry: the passphrase is wrong; verification fails")
                return .denied
            } catch {
                self.logger?.warning("pinentry: cannot check the passphrase: \(error); verification fails")
                return .denied
            }
        }
    }

    /// One dialog: the commands that set it up, then `last`; `accepted` turns its OK (with any
    /// data, GETPIN's passphrase) into the answer.
    private func ask(_ request: UserPresenceRequest, description: String, last: String, extra: [String] = [],
                     accepted: @escaping @Sendable ([UInt8]) -> UserPresenceResult) async -> UserPresenceResult {
        await turn.run { await dialog(description: description, last: last, extra: extra, accepted: accepted) }
    }

    private func dialog(description: String, last: String, extra: [String],
                        accepted: @Sendable ([UInt8]) -> UserPresenceResult) async -> UserPresenceResult {
        let session: AssuanSession
        do {
            session = try AssuanSession(program: program)
        } catch {
            logger?.warning("pinentry: \(error); the request is denied")
            return .denied
        }
        let seconds = max(1, Int(timeout.components.seconds))
        var commands = ["SETTITLE vfido security key", "SETDESC " + Assuan.escape(description), "SETOK Allow", "SETCANCEL Deny",
                        "SETTIMEOUT \(seconds)"] + extra
        // A terminal pinentry (curses, tty) needs to know which terminal, as gpg-agent tells it.
        let environment = ProcessInfo.processInfo.environment
        if let tty = environment["GPG_TTY"], !tty.isEmpty { commands.append("OPTION ttyname=\(tty)") }
        if let term = environment["TERM"], !term.isEmpty { commands.append("OPTION ttytype=\(term)") }
        // The dialog's own timeout comes first; this one catches a program that ignores it
        // (pinentry-tty does).
        let script = commands
        let watchdog = DispatchWorkItem { session.timedOut() }
        DispatchQueue.global().asyncAfter(deadline: .now() + .seconds(seconds) + .milliseconds(1500), execute: watchdog)
        let reply = await withTaskCancellationHandler {
            await withCheckedContinuation { (done: CheckedContinuation<Assuan.Reply, Never>) in
                DispatchQueue.global().async { done.resume(returning: session.run(script, then: last)) }
            }
        } onCancel: {
            session.kill()
        }
        watchdog.cancel()
        session.finish()
        if Task.isCancelled {
            logger?.info("pinentry: the host cancelled; the dialog is closed")
            return .cancelled
        }
        if session.didTimeOut {
            logger?.info("pinentry: no answer in \(seconds) s (the dialog is closed)")
            return .timedOut
        }
        switch reply {
        case .ok(let data):
            return accepted(data)
        case .error(let code, let text) where code == Assuan.timeout:
            logger?.info("pinentry: no answer in \(seconds) s (\(text))")
            return .timedOut
        case .error(let code, _) where code == Assuan.cancelled || code == Assuan.notConfirmed:
            return .denied
        case .error(let code, let text):
            logger?.warning("pinentry \(program) failed: \(text) (error \(code)); the request is denied")
            return .denied
        case .closed(let why):
            logger?.warning("pinentry \(program) \(why); the request is denied")
            return .denied
        }
    }
}

/// The few words of Assuan (libassuan's line protocol) a CONFIRM dialog needs.
enum Assuan {
    enum Reply: Sendable, Equatable {
        /// OK, with the data lines (D) that came before it, decoded.
        case ok([UInt8])
        /// The GPG error code (without its source) and the text after it.
        case error(code: Int, text: String)
        /// The program ended or could not be talked to.
        case closed(String)
    }

    /// gpg-error codes pinentry answers with (libgpg-error's err-codes.h).
    static let timeout = 62, cancelled = 99, notConfirmed = 114

    /// Assuan escapes %, CR and LF in a line's arguments.
    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "%", with: "%25").replacingOccurrences(of: "\r", with: "%0D")
            .replacingOccurrences(of: "\n", with: "%0A")
    }

    /// Undoes `escape` (and any other %XX) in a data line.
    static func unescape(_ text: Substring) -> [UInt8] {
        var out: [UInt8] = []
        var bytes = Array(text.utf8)[...]
        while let byte = bytes.popFirst() {
            if byte == UInt8(ascii: "%"), bytes.count >= 2, let value = UInt8(String(decoding: bytes.prefix(2), as: UTF8.self), radix: 16) {
                out.append(value)
                bytes = bytes.dropFirst(2)
            } else {
                out.append(byte)
            }
        }
        return out
    }

    /// An answer line: OK or ERR; status (S), data (D) and comment (#) lines are not answers.
    static func parse(_ line: String) -> Reply? {
        if line == "OK" || line.hasPrefix("OK ") { return .ok([]) }
        guard line.hasPrefix("ERR ") else { return nil }
        let rest = line.dropFirst(4)
        let number = rest.prefix { $0.isNumber }
        return .error(code: (Int(number) ?? 0) & 0xFFFF, text: String(rest.dropFirst(number.count)).trimmingCharacters(in: .whitespaces))
    }
}

/// One pinentry process, spoken to line by line from one thread.
final class AssuanSession: @unchecked Sendable {
    let child: LineProcess
    private let expired = Flag()
    /// The dialog was closed for want of an answer.
    var didTimeOut: Bool { expired.isSet }

    init(program: String) throws {
        guard let path = LineProcess.resolve(program) else {
            throw LineProcess.NotStarted(description: "no program \"\(program)\" (install pinentry-gnome3, -qt, -gtk2, -curses or -tty, or give --pinentry PATH)")
        }
        child = try LineProcess(path: path)
    }

    /// The greeting, then each command (an option a pinentry does not know is no reason to stop),
    /// then `last`, whose answer is the result.
    func run(_ commands: [String], then last: String) -> Assuan.Reply {
        let greeting = answer()
        guard case .ok = greeting else { return greeting ?? .closed("ended before its greeting") }
        for command in commands {
            guard child.send(command), let reply = answer() else { return .closed("ended during \(command.split(separator: " ")[0])") }
            if case .error = reply, !command.hasPrefix("OPTION") { return reply }
        }
        guard child.send(last), let reply = answer() else { return .closed("ended without answering \(last)") }
        return reply
    }

    /// Says goodbye and waits for the process (it ends on BYE or on its stdin closing).
    func finish() {
        _ = child.send("BYE")
        child.finish()
    }

    /// The prompt's time is up and the program has not answered.
    func timedOut() {
        expired.set()
        child.kill()
    }

    func kill() { child.kill() }

    /// The next OK (with the data before it) or ERR line; nil when the program's output ends.
    private func answer() -> Assuan.Reply? {
        var data: [UInt8] = []
        while let line = child.readLine() {
            if line.hasPrefix("D ") { data += Assuan.unescape(line.dropFirst(2)) }
            if let reply = Assuan.parse(line) { return reply == .ok([]) ? .ok(data) : reply }
        }
        return nil
    }
}
