import ArgumentParser
import Foundation
import VirtualKey

/// Where a running `vfido serve` listens for control requests.
struct ControlOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp(
        "The daemon's state directory (its control socket is <state>/control.sock).", valueName: "dir"))
    var state: String?

    @Option(name: .long, help: ArgumentHelp("The control socket, if `vfido serve --control` put it elsewhere.", valueName: "path"))
    var control: String?

    @Option(name: .long, help: ArgumentHelp("Which key (1-based, for `vfido serve --keys N`).", valueName: "n"))
    var key = 1

    var socketPath: String {
        control ?? (state.map { URL(fileURLWithPath: $0) } ?? DaemonConfiguration.defaultStateDirectory)
            .appendingPathComponent("control.sock").path
    }

    /// Sends one request line and prints the reply; a reply of "error ..." exits non-zero.
    func send(_ request: String) throws {
        let reply: String
        do {
            reply = try ControlClient.request(request, socket: socketPath)
        } catch {
            FileHandle.standardError.write(Data("vfido: \(error)\n".utf8))
            throw ExitCode(2)
        }
        if reply.hasPrefix("ok") {
            print(reply.dropFirst(3))
        } else {
            FileHandle.standardError.write(Data("vfido: \(reply.replacingOccurrences(of: "error ", with: ""))\n".utf8))
            throw ExitCode(1)
        }
    }
}

struct PowerCycle: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "power-cycle",
        abstract: "Simulate unplugging the running key and plugging it back in.",
        discussion: "Per-boot state is forgotten: the pinUvAuthToken, the key agreement key, the 3-wrong-PINs block, pending getNextAssertion and enumerations, a large-blob write in progress; the reset window starts again. Credentials and the PIN stay.")
    @OptionGroup var options: ControlOptions
    func run() throws { try options.send("power-cycle \(options.key)") }
}

/// What `vfido approve` and `vfido deny` share: which key, and how long to wait for a prompt.
struct AnswerOptions: ParsableArguments {
    @OptionGroup var control: ControlOptions
    @Option(name: .long, help: ArgumentHelp("Wait this long for a prompt to appear.", valueName: "seconds"))
    var wait: Double = 0

    func answer(_ verb: String) throws { try control.send("\(verb) \(control.key) \(Int(wait * 1000))") }
}

struct Approve: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Approve the oldest prompt waiting on a key served with --presence control.")
    @OptionGroup var options: AnswerOptions
    func run() throws { try options.answer("approve") }
}

struct Deny: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Refuse the oldest prompt waiting on a key served with --presence control.")
    @OptionGroup var options: AnswerOptions
    func run() throws { try options.answer("deny") }
}

struct Prompts: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List the prompts waiting on a key served with --presence control.")
    @OptionGroup var options: ControlOptions
    func run() throws { try options.send("prompts \(options.key)") }
}

/// A blocking Unix-socket client for one request.
enum ControlClient {
    struct Failure: Error, CustomStringConvertible { let description: String }

    static func request(_ line: String, socket path: String) throws -> String {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw Failure(description: "socket: errno \(errno)") }
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else { throw Failure(description: "socket path too long: \(path)") }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard connected == 0 else {
            throw Failure(description: "no vfido daemon answers on \(path) (is `vfido serve` running with this --state?)")
        }
        let request = Array((line + "\n").utf8)
        guard write(fd, request, request.count) == request.count else { throw Failure(description: "write failed: errno \(errno)") }
        var reply: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 1024)
        while true {
            let n = read(fd, &buffer, buffer.count)
            if n <= 0 { break }
            reply += buffer[0..<n]
            if reply.contains(UInt8(ascii: "\n")) { break }
        }
        return String(decoding: reply, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
