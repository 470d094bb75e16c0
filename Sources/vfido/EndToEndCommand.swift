import ArgumentParser
import EndToEnd
import Foundation
import Logging

struct EndToEndCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "e2e",
        abstract: "Run every relying-party flow end to end through a WebAuthn client and a key, and report.",
        discussion: """
            Registration logged out and logged in, authentication with a username (with approval data) \
            and usernameless with several accounts, hosted registration with its redirect, hosted login \
            with its OIDC code, cross-device registration and authentication, the abort and timeout \
            paths, and the auth-session variant. Each flow is one row: PASS, FAIL (with the step and the \
            RP's error code) or SKIP (with why). Exits 1 naming the failed flows.

            With no --rp, a relying party and a fresh key start inside this process: the demo. \
            Against your own RP (e.g. the one `vfido serve` runs: --rp http://localhost:8080), the \
            client claims the RP URL's origin unless --origin says otherwise, and the key is a fresh \
            in-process one unless --udp names a running vfido.
            """)

    @Option(help: ArgumentHelp("The relying party's base URL.", valueName: "url"))
    var rp: String?

    @Option(help: ArgumentHelp("The origin the client claims (default: the RP URL's origin).", valueName: "origin"))
    var origin: String?

    @Option(help: ArgumentHelp("Use the key at this UDP address (a running `vfido serve`) instead of a fresh in-process key.",
                               valueName: "host:port"))
    var udp: String?

    @Option(help: "The key's PIN, when it has one.")
    var pin: String?

    @Option(name: .customLong("client"), help: ArgumentHelp("The RP's API client.", valueName: "id:secret"))
    var client = "vfido-demo:vfido-demo-secret"

    @Option(name: .customLong("timeout-wait"), help: ArgumentHelp(
        "Seconds the timeout flow waits for an idle cross-device ticket to time out (SKIP after that).", valueName: "seconds"))
    var timeoutWait: Double = 15

    @Option(help: ArgumentHelp(
        "Write every ceremony (challenge, RP ID, origin, the credential's toJSON) to this file as JSON, for another verifier.",
        valueName: "file"))
    var ceremonies: String?

    @Flag(help: "Print the report as JSON.")
    var json = false

    @Flag(name: .shortAndLong, help: "Log the key's and the RP's requests to stderr.")
    var verbose = false

    func validate() throws {
        if let rp, URL(string: rp)?.host == nil { throw ValidationError("--rp must be a URL such as http://localhost:8080") }
        if let udp, parseHostPort(udp) == nil { throw ValidationError("--udp must be host:port") }
        if !client.contains(":") { throw ValidationError("--client must be id:secret") }
        if !(0...600).contains(timeoutWait) { throw ValidationError("--timeout-wait must be between 0 and 600 seconds") }
    }

    func run() async throws {
        var options = EndToEndOptions()
        options.rpURL = rp.flatMap { URL(string: $0.hasSuffix("/") ? $0 : $0 + "/") }
        options.origin = origin
        options.udpKey = udp.flatMap(parseHostPort)
        options.pin = pin
        let parts = client.split(separator: ":", maxSplits: 1).map(String.init)
        options.clientID = parts[0]
        options.clientSecret = parts[1]
        options.timeoutWait = .milliseconds(Int(timeoutWait * 1000))
        var logger = Logger(label: "vfido.e2e")
        logger.logLevel = verbose ? .info : .critical  // the report says what failed
        let report = try await runEndToEnd(options, logger: logger)
        if let ceremonies {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .withoutEscapingSlashes]
            try encoder.encode(report.ceremonies).write(to: URL(fileURLWithPath: ceremonies))
        }
        if json {
            print(String(decoding: try JSONEncoder.pretty.encode(report), as: UTF8.self))
        } else {
            print(report.table)
        }
        if !report.failed.isEmpty {
            FileHandle.standardError.write(Data("vfido e2e: FAILED: \(report.failed.joined(separator: ", "))\n".utf8))
            throw ExitCode(1)
        }
    }
}

func parseHostPort(_ text: String) -> (host: String, port: Int)? {
    guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), (1...65535).contains(port) else { return nil }
    let host = String(text[..<colon])
    return host.isEmpty ? nil : (host, port)
}
