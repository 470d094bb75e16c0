import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A helper program the desktop prompts talk to line by line (pinentry over its stdin and
/// stdout; `gdbus monitor` over its stdout), from one thread at a time.
final class LineProcess: @unchecked Sendable {
    struct NotStarted: Error, CustomStringConvertible { let description: String }

    let process = Process()
    private let input = Pipe()
    private let output = Pipe()
    private var buffer: [UInt8] = []
    /// A longer line means the program is not what it should be.
    static let maxLine = 64 * 1024

    init(path: String, arguments: [String] = []) throws {
        // A program that ends before it reads must not end the daemon with SIGPIPE.
        signal(SIGPIPE, SIG_IGN)
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        process.standardInput = input
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        do { try process.run() } catch { throw NotStarted(description: "cannot start \(path): \(error)") }
        // The child has its ends; the parent's copies would keep the pipes open past its exit.
        try? output.fileHandleForWriting.close()
        try? input.fileHandleForReading.close()
    }

    /// `program` itself if it has a slash, else the first executable of that name on PATH.
    static func resolve(_ program: String) -> String? {
        if program.contains("/") { return FileManager.default.isExecutableFile(atPath: program) ? program : nil }
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        return path.split(separator: ":").map { "\($0)/\(program)" }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    func send(_ line: String) -> Bool {
        (try? input.fileHandleForWriting.write(contentsOf: Data((line + "\n").utf8))) != nil
    }

    /// The next line of output (without its newline); nil when the output ends, or a line is
    /// longer than `maxLine`.
    func readLine() -> String? {
        while true {
            if let newline = buffer.firstIndex(of: UInt8(ascii: "\n")) {
                let line = String(decoding: buffer[..<newline], as: UTF8.self)
                buffer.removeSubrange(...newline)
                return line
            }
            let chunk = output.fileHandleForReading.availableData
            if chunk.isEmpty || buffer.count > Self.maxLine { return nil }
            buffer += chunk
        }
    }

    /// Closes its input and waits for it to end (two seconds, then SIGKILL).
    func finish() {
        try? input.fileHandleForWriting.close()
        let deadline = Date().addingTimeInterval(2)
        while process.isRunning && Date() < deadline { usleep(10_000) }
        kill()
        process.waitUntilExit()
    }

    /// Ends it now. SIGKILL: a pinentry waiting on its terminal may not end on SIGTERM.
    func kill() {
        if process.isRunning { Glibc.kill(process.processIdentifier, SIGKILL) }
    }
}
