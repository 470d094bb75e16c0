import ArgumentParser
import ControlAPI
import Foundation
import VirtualKey

/// How the CLI reaches a running `vfido serve`: its control API over the Unix socket (default)
/// or TCP, with the token the daemon wrote.
struct ControlOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp(
        "The daemon's state directory: its control socket and token are <state>/control.sock and <state>/control.token.",
        valueName: "dir"))
    var state: String?

    @Option(name: .long, help: ArgumentHelp("The control socket, if `vfido serve --control` put it elsewhere.", valueName: "path"))
    var control: String?

    @Option(name: .long, help: ArgumentHelp("Use the control API over TCP instead of the socket, e.g. http://127.0.0.1:8112.",
                                            valueName: "url"))
    var api: String?

    @Option(name: .long, help: ArgumentHelp("The token file (default <state>/control.token; an ephemeral daemon's banner names it).",
                                            valueName: "path"))
    var tokenFile: String?

    @Option(name: .long, help: ArgumentHelp("Which key (1-based, for `vfido serve --keys N`).", valueName: "n"))
    var key = 1

    var stateDirectory: URL { state.map { URL(fileURLWithPath: $0) } ?? DaemonConfiguration.defaultStateDirectory }
    var socketPath: String { control ?? stateDirectory.appendingPathComponent(ControlServer.socketFileName).path }

    func token() throws -> String {
        if let env = ProcessInfo.processInfo.environment["VFIDO_CONTROL_TOKEN"], !env.isEmpty { return env }
        let path = tokenFile ?? stateDirectory.appendingPathComponent(ControlServer.tokenFileName).path
        guard let data = FileManager.default.contents(atPath: path) else {
            fail(2, "no vfido daemon answers for \(stateDirectory.path): there is no control token at \(path) (is `vfido serve` running with this --state? an ephemeral daemon's banner names its --token-file)")
        }
        return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// One request; answers the JSON body of a 2xx reply, exits with the API's message otherwise.
    func call(_ method: String, _ path: String, _ body: Any? = nil) throws -> Any? {
        let payload = try body.map { try JSONSerialization.data(withJSONObject: $0) }
        let reply: HTTPReply
        do {
            reply = try HTTPClient(api: api, socket: socketPath).request(method, path, token: try token(), body: payload)
        } catch {
            fail(2, "\(error)")
        }
        let json = reply.body.isEmpty ? nil : try? JSONSerialization.jsonObject(with: reply.body, options: [.fragmentsAllowed])
        guard (200..<300).contains(reply.status) else {
            let object = json as? [String: Any]
            let message = object?["message"] as? String ?? String(decoding: reply.body, as: UTF8.self)
            fail(1, "\(message) (HTTP \(reply.status)\((object?["error_code"] as? String).map { ", \($0)" } ?? ""))")
        }
        return json
    }

    func keyPath(_ rest: String = "") -> String { "/keys/\(key)\(rest)" }
}

func fail(_ code: Int32, _ message: String) -> Never {
    FileHandle.standardError.write(Data("vfido: \(message)\n".utf8))
    Foundation.exit(code)
}

func printJSON(_ value: Any?) {
    guard let value, let data = try? JSONSerialization.data(withJSONObject: value, options: [.prettyPrinted, .sortedKeys, .fragmentsAllowed]) else { return }
    print(String(decoding: data, as: UTF8.self))
}

struct PowerCycle: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "power-cycle",
        abstract: "Simulate unplugging the running key and plugging it back in.",
        discussion: "Per-boot state is forgotten: the pinUvAuthToken, the key agreement key, the 3-wrong-PINs block, pending getNextAssertion and enumerations, a large-blob write in progress; the reset window starts again. Credentials and the PIN stay. The CTAPHID channels are kept (see `vfido unplug` for a real disconnect).")
    @OptionGroup var options: ControlOptions
    func run() throws {
        _ = try options.call("POST", options.keyPath("/power-cycle"))
        print("key \(options.key) power-cycled")
    }
}

struct Unplug: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Unplug the key: a USB/IP host sees it disconnect, the uhid node goes away, UDP goes quiet.")
    @OptionGroup var options: ControlOptions
    func run() throws {
        _ = try options.call("POST", options.keyPath("/unplug"))
        print("key \(options.key) unplugged")
    }
}

struct Plug: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Plug the key back in (a USB/IP host attaches it again with `usbip attach`).")
    @OptionGroup var options: ControlOptions
    func run() throws {
        _ = try options.call("POST", options.keyPath("/plug"))
        print("key \(options.key) plugged in")
    }
}

struct Keys: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List, add and remove the running daemon's keys.",
        subcommands: [List.self, Add.self, Remove.self], defaultSubcommand: List.self)

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show the running keys as JSON: transports, presence, overrides.")
        @OptionGroup var options: ControlOptions
        func run() throws { printJSON(try options.call("GET", "/keys")) }
    }

    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add a key to the running daemon (in memory): the next USB/IP bus id, a UDP port, a hidraw node with --uhid.",
            discussion: """
                The options are WebDriver's and CDP's (docs/control-api.md); --options takes any of them as JSON, \
                e.g. --options '{"extensions": ["prf", "credBlob"], "defaultBackupEligibility": true}'. Prints the new key as JSON.
                """)
        @OptionGroup var options: ControlOptions
        @Option(name: .customLong("protocol"), help: ArgumentHelp("ctap1/u2f, ctap2 (2.0) or ctap2_1.", valueName: "name"))
        var protocolName: String?
        @Flag(name: .long, help: "No discoverable credentials (hasResidentKey false).")
        var noResidentKey = false
        @Flag(name: .long, help: "Built-in user verification (hasUserVerification).")
        var builtinUv = false
        @Flag(name: .long, help: "Prompts wait for `vfido approve` (isUserConsenting false).")
        var manualPresence = false
        @Option(name: .customLong("options"), help: ArgumentHelp("More options as a JSON object.", valueName: "json"))
        var json: String?

        func run() throws {
            var body: [String: Any] = [:]
            if let json {
                guard let object = try? JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any] else {
                    throw ValidationError("--options must be a JSON object")
                }
                body = object
            }
            if let protocolName { body["protocol"] = protocolName }
            if noResidentKey { body["hasResidentKey"] = false }
            if builtinUv { body["hasUserVerification"] = true }
            if manualPresence { body["isUserConsenting"] = false }
            printJSON(try options.call("POST", "/keys", body))
        }
    }

    struct Remove: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Remove a key added with `vfido keys add`: hosts see it unplugged, its credentials are gone.")
        @OptionGroup var options: ControlOptions
        func run() throws {
            _ = try options.call("DELETE", options.keyPath())
            print("key \(options.key) removed")
        }
    }
}

/// What `vfido approve` and `vfido deny` share: which key, and how long to wait for a prompt.
struct AnswerOptions: ParsableArguments {
    @OptionGroup var control: ControlOptions
    @Option(name: .long, help: ArgumentHelp("Wait this long for a prompt to appear.", valueName: "seconds"))
    var wait: Double = 0
    @Option(name: .long, help: ArgumentHelp("Answer this prompt (see `vfido prompts`) rather than the oldest.", valueName: "id"))
    var id: Int?

    func answer(_ verb: String) throws {
        var body: [String: Any] = ["wait": wait]
        if let id { body["id"] = id }
        let answered = try control.call("POST", control.keyPath("/prompts/\(verb)"), body) as? [String: Any]
        print("\(verb == "approve" ? "approved" : "denied"): \(answered?["summary"] as? String ?? "?")")
    }
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
    func run() throws {
        let prompts = try options.call("GET", options.keyPath("/prompts")) as? [[String: Any]] ?? []
        print("\(prompts.count) waiting" + prompts.map { "; [\($0["id"] ?? "?")] \($0["summary"] as? String ?? "")" }.joined())
    }
}

struct Presence: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show or change how a running key answers presence and verification.",
        discussion: "With no option, prints the settings. --policy auto|deny|control; --uv on|off makes built-in user verification succeed or fail (CDP setUserVerified); --touch on|off holds a finger on the key.")
    @OptionGroup var options: ControlOptions
    @Option(name: .long, help: ArgumentHelp("auto, deny or control.", valueName: "policy")) var policy: String?
    @Option(name: .long, help: ArgumentHelp("on or off.", valueName: "on|off")) var uv: Switch?
    @Option(name: .long, help: ArgumentHelp("on or off.", valueName: "on|off")) var touch: Switch?

    func run() throws {
        var body: [String: Any] = [:]
        if let policy { body["policy"] = policy }
        if let uv { body["isUserVerified"] = uv == .on }
        if let touch { body["touching"] = touch == .on }
        printJSON(try options.call(body.isEmpty ? "GET" : "PUT", options.keyPath("/presence"), body.isEmpty ? nil : body))
    }
}

struct Overrides: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show or set the response overrides (CDP setResponseOverrideBits): faults an RP must refuse.")
    @OptionGroup var options: ControlOptions
    @Option(name: .long, help: ArgumentHelp("All-zero signatures.", valueName: "on|off")) var bogusSignature: Switch?
    @Option(name: .long, help: ArgumentHelp("Clear the UV flag.", valueName: "on|off")) var badUv: Switch?
    @Option(name: .long, help: ArgumentHelp("Clear the UP flag.", valueName: "on|off")) var badUp: Switch?

    func run() throws {
        var body: [String: Any] = [:]
        if let bogusSignature { body["isBogusSignature"] = bogusSignature == .on }
        if let badUv { body["isBadUV"] = badUv == .on }
        if let badUp { body["isBadUP"] = badUp == .on }
        printJSON(try options.call(body.isEmpty ? "GET" : "PUT", options.keyPath("/overrides"), body.isEmpty ? nil : body))
    }
}

enum Switch: String, ExpressibleByArgument { case on, off }

struct Events: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the daemon's live event stream, one JSON object a line, until interrupted.",
        discussion: "credentialAdded/Asserted/Updated/Deleted, promptStarted/promptAnswered, pinSet, pinChanged, reset, plugged, unplugged, powerCycled, and `command` (the CTAP command log: command, status, milliseconds).")
    @OptionGroup var options: ControlOptions
    @Flag(name: .long, help: "Only this --key's events.") var onlyThisKey = false
    @Flag(name: .long, help: "Start with the recent events the daemon keeps (up to 512), then follow.") var replay = false

    func run() throws {
        let query = [onlyThisKey ? "key=\(options.key)" : nil, replay ? "after=0" : nil].compactMap { $0 }.joined(separator: "&")
        let path = "/events" + (query.isEmpty ? "" : "?" + query)
        do {
            try HTTPClient(api: options.api, socket: options.socketPath).stream(path, token: try options.token()) { line in
                if line.hasPrefix("data: ") {
                    print(line.dropFirst(6))
                    fflush(nil)
                }
            }
        } catch {
            fail(2, "\(error)")
        }
    }
}

struct API: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "api", abstract: "Send one request to the control API and print the JSON reply (see docs/control-api.md).")
    @OptionGroup var options: ControlOptions
    @Argument(help: "GET, POST, PUT, PATCH or DELETE.") var method: String
    @Argument(help: "The path, e.g. /keys/1/credentials.") var path: String
    @Argument(help: "A JSON body.") var body: String?

    func run() throws {
        let json = try body.map { text -> Any in
            guard let parsed = try? JSONSerialization.jsonObject(with: Data(text.utf8)) else { throw ValidationError("the body is not JSON") }
            return parsed
        }
        printJSON(try options.call(method.uppercased(), path, json))
    }
}
