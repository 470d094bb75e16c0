import ArgumentParser
import Faults
import Foundation
import VirtualKey

#if canImport(Glibc)
import Glibc
#endif

/// `vfido fuzz-host -- CMD ...`: a host program run again and again against a key that lies
/// (one fault seed per run), watching for what a host must never do: crash, trip a sanitizer,
/// hang, or exit in a way the user did not allow. Each finding gets a reproducer that
/// `--replay` plays back, minimised to the mutations that matter.
struct FuzzHost: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fuzz-host",
        abstract: "Fuzz a host program's CTAP stack with a key in fault mode.",
        discussion: """
            Each run starts a fresh key (`vfido serve --ephemeral`, UDP only) with --fault rules \
            and seed --seed + run, then runs the command with VFIDO_UDP=127.0.0.1:PORT in its \
            environment and {port} in its arguments replaced by the key's UDP port. A run is a \
            finding when the command dies of a signal, prints a sanitizer report, outlives \
            --timeout, exits with a status not in --ok-exit, or when vfido itself crashes \
            (exit status 3 of fuzz-host: the key is meant to stay sound whatever it says).

            Each finding is written to --out/<kind>-seed-<seed>/: finding.json (command, \
            seed, rules, outcome, the mutations), faults.jsonl (the mutation log), key.log \
            (the key's log: one line per command and per fault) and the command's output. \
            It is then minimised: mutations are dropped one at a time while the finding still \
            occurs. `vfido fuzz-host --replay DIR/finding.json` applies exactly its mutations, \
            at the same points, to a fresh key and runs the command once more.

            Example (libfido2 through the UDP shim): vfido fuzz-host --runs 200 -- env \
            LD_PRELOAD=./vfido_udp_shim.so fido2-token -I vfido-udp:127.0.0.1:{port}
            """)

    @Option(help: "How many runs.") var runs = 200
    @Option(help: "Run n uses fault seed seed + n.") var seed: UInt64 = 1
    @Option(name: .customLong("fault"), help: ArgumentHelp(
        "A fault rule, KIND[@COMMAND][:RATE]; repeatable (default: every CTAPHID, CTAP and crypto fault but late-reply, at rate 0.05).",
        valueName: "fault"), transform: { try FaultRule(parsing: $0) })
    var faultRules: [FaultRule] = []
    @Option(help: "Seconds a run may take before it counts as a hang.") var timeout: Double = 10
    @Option(help: ArgumentHelp("Exit statuses that are not findings, comma-separated.", valueName: "list"))
    var okExit = "0,1"
    @Option(help: "Where findings are written.") var out = "fuzz-host-findings"
    @Option(help: "At most this many extra runs to minimise each finding (0: none).") var minimiseRuns = 24
    @Option(help: ArgumentHelp("Replay this finding.json once instead of fuzzing.", valueName: "file")) var replay: String?
    @Flag(help: "Print the summary as JSON.") var json = false
    @Option(help: ArgumentHelp("Also write the JSON summary to this file.", valueName: "path")) var summaryJson: String?
    @Option(help: ArgumentHelp("Extra arguments for each key's `vfido serve`, space-separated (e.g. \"--profile ctap2.0\").",
                               valueName: "args"))
    var serveArgs = ""
    @Argument(parsing: .postTerminator, help: "The host program and its arguments.") var command: [String] = []

    func validate() throws {
        if command.isEmpty && replay == nil { throw ValidationError("give the host program after --, e.g. -- fido2-token -I vfido-udp:127.0.0.1:{port}") }
        if !(1...1_000_000).contains(runs) { throw ValidationError("--runs must be 1 to 1000000") }
        if !(timeout > 0 && timeout <= 3600) { throw ValidationError("--timeout must be between 0 and 3600 seconds") }
        if okStatuses == nil { throw ValidationError("--ok-exit must be a comma-separated list of exit statuses") }
    }

    var okStatuses: Set<Int32>? {
        let parts = okExit.split(separator: ",").map { Int32($0.trimmingCharacters(in: .whitespaces)) }
        return parts.contains(nil) ? nil : Set(parts.compactMap { $0 })
    }

    var rules: [FaultRule] {
        faultRules.isEmpty ? Fault.allCases.filter { $0.stage != .urb && $0 != .lateReply }.map { FaultRule(fault: $0, rate: 0.05) } : faultRules
    }

    func run() throws {
        let harness = HostHarness(vfido: Self.executable, serveArgs: serveArgs.split(separator: " ").map(String.init),
                                  timeout: timeout, okExit: okStatuses ?? [0])
        if let replay { return try replayFinding(replay, harness) }
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        var summary = Summary(runs: runs, seed: seed, rules: rules.map(\.description), command: command)
        let started = Date()
        for n in 0..<runs {
            let runSeed = seed &+ UInt64(n)
            let result = try harness.run(command, faults: .draw(rules, runSeed))
            defer { try? FileManager.default.removeItem(at: result.work) }
            summary.count(result)
            if let kind = result.kind {
                let directory = try result.save(in: out, seed: runSeed, rules: rules, command: command)
                var finding = Finding(kind: kind, seed: runSeed, directory: directory, outcome: result.outcome,
                                      mutations: result.mutations.count, minimised: result.mutations.count)
                if minimiseRuns > 0 && kind != .vfidoCrash {
                    let smallest = try harness.minimise(command, result, budget: minimiseRuns)
                    try smallest.save(in: directory, name: "minimised", command: command)
                    finding.minimised = smallest.mutations.count
                }
                summary.findings.append(finding)
                if !json { print("run \(n + 1): \(kind.rawValue) (\(result.outcome)), seed \(runSeed) -> \(directory)") }
            }
            if !json && ((n + 1) % 25 == 0 || n + 1 == runs) {
                print("[\(n + 1)/\(runs)] \(summary.findings.count) findings, \(summary.mutationsApplied) faults applied, \(String(format: "%.0f", Date().timeIntervalSince(started))) s")
                fflush(nil)
            }
        }
        summary.seconds = Date().timeIntervalSince(started)
        if let summaryJson { try JSONEncoder.pretty.encode(summary).write(to: URL(fileURLWithPath: summaryJson)) }
        if json {
            print(String(decoding: try JSONEncoder.pretty.encode(summary), as: UTF8.self))
        } else {
            print(summary.table)
        }
        if summary.findings.contains(where: { $0.kind == .vfidoCrash }) { throw ExitCode(3) }
        if !summary.findings.isEmpty { throw ExitCode(1) }
    }

    func replayFinding(_ path: String, _ harness: HostHarness) throws {
        guard let data = FileManager.default.contents(atPath: path) else { throw ValidationError("cannot read \(path)") }
        let saved = try JSONDecoder().decode(SavedFinding.self, from: data)
        let result = try harness.run(command.isEmpty ? saved.command : command, faults: .replay(saved.mutations))
        defer { try? FileManager.default.removeItem(at: result.work) }
        let same = result.kind == saved.kind
        let stderr = String(decoding: FileManager.default.contents(atPath: result.work.appendingPathComponent("host.stderr").path) ?? Data(), as: UTF8.self)
        let tail = stderr.split(separator: "\n").suffix(10)
        if !tail.isEmpty { print("the host's last words:\n" + tail.map { "  " + $0 }.joined(separator: "\n")) }
        print("replayed \(saved.mutations.count) mutations from \(path): \(result.kind?.rawValue ?? "no finding") (\(result.outcome)); the finding \(same ? "reproduces" : "did not reproduce")")
        if !same { throw ExitCode(1) }
    }

    static var executable: String {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    }
}

extension JSONEncoder {
    /// What the CLI prints and writes as JSON: indented, keys sorted.
    static var pretty: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return encoder
    }
}

/// What a run found, in the order it is checked.
enum FindingKind: String, Codable {
    case vfidoCrash = "vfido-crash", crash, sanitizer, hang, wrongExit = "wrong-exit"
}

struct Finding: Codable {
    var kind: FindingKind
    var seed: UInt64
    var directory: String
    var outcome: String
    var mutations: Int
    var minimised: Int
}

/// finding.json: enough to replay the run.
struct SavedFinding: Codable {
    var kind: FindingKind?
    var seed: UInt64
    var rules: [String]
    var command: [String]
    var outcome: String
    var mutations: [Mutation]
}

struct Summary: Codable {
    var runs: Int
    var seed: UInt64
    var rules: [String]
    var command: [String]
    var exits: [String: Int] = [:]
    var faultsApplied: [String: Int] = [:]
    var findings: [Finding] = []
    var seconds: Double = 0
    var mutationsApplied: Int { faultsApplied.values.reduce(0, +) }

    mutating func count(_ result: RunResult) {
        exits[result.outcome, default: 0] += 1
        for mutation in result.mutations { faultsApplied[mutation.fault.rawValue, default: 0] += 1 }
    }

    var table: String {
        var lines = ["", "vfido fuzz-host: \(runs) runs of \(command.joined(separator: " ")) in \(String(format: "%.0f", seconds)) s, seeds \(seed)-\(seed &+ UInt64(runs - 1))",
                     "", "  outcome                        runs"]
        for (outcome, n) in exits.sorted(by: { $0.value > $1.value }) { lines.append("  \(outcome.padding(toLength: 30, withPad: " ", startingAt: 0)) \(n)") }
        lines += ["", "  fault applied                  times"]
        for (fault, n) in faultsApplied.sorted(by: { $0.key < $1.key }) { lines.append("  \(fault.padding(toLength: 30, withPad: " ", startingAt: 0)) \(n)") }
        lines += ["", "  findings: \(findings.isEmpty ? "none" : "")"]
        for f in findings { lines.append("    \(f.kind.rawValue) seed \(f.seed): \(f.outcome); \(f.mutations) mutations, minimised to \(f.minimised) -> \(f.directory)") }
        return lines.joined(separator: "\n")
    }
}

/// One run's outcome and what it took to get there.
struct RunResult {
    var kind: FindingKind?
    var outcome: String
    var mutations: [Mutation]
    /// The run's files (the caller removes them).
    var work: URL

    /// Copies the run's files to `<out>/<kind>-seed-<seed>/`.
    func save(in out: String, seed: UInt64, rules: [FaultRule], command: [String]) throws -> String {
        let directory = URL(fileURLWithPath: out).appendingPathComponent("\(kind?.rawValue ?? "run")-seed-\(seed)")
        try? FileManager.default.removeItem(at: directory)
        try FileManager.default.copyItem(at: work, to: directory)
        let saved = SavedFinding(kind: kind, seed: seed, rules: rules.map(\.description), command: command, outcome: outcome, mutations: mutations)
        try JSONEncoder.pretty.encode(saved).write(to: directory.appendingPathComponent("finding.json"))
        return directory.path
    }

    /// The minimised reproducer beside the original: `<name>.json`.
    func save(in directory: String, name: String, command: [String]) throws {
        let saved = SavedFinding(kind: kind, seed: 0, rules: [], command: command, outcome: outcome, mutations: mutations)
        try JSONEncoder.pretty.encode(saved).write(to: URL(fileURLWithPath: directory).appendingPathComponent("\(name).json"))
    }
}

/// Starts keys and host programs as child processes, each in its own process group so that a
/// hang is killed with everything it started.
struct HostHarness {
    enum Faults {
        case draw([FaultRule], UInt64)
        case replay([Mutation])
    }

    let vfido: String
    let serveArgs: [String]
    let timeout: Double
    let okExit: Set<Int32>

    func run(_ command: [String], faults: Faults) throws -> RunResult {
        let work = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("vfido-fuzz-host-\(getpid())-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        let log = work.appendingPathComponent("faults.jsonl").path
        var args = ["serve", "--ephemeral", "--no-rp", "--no-api", "--no-usbip", "--udp", "127.0.0.1:0", "--reset-window", "0",
                    "--log-level", "info", "--fault-log", log] + serveArgs
        switch faults {
        case .draw(let rules, let seed): args += rules.flatMap { ["--fault", $0.description] } + ["--fault-seed", "\(seed)"]
        case .replay(let mutations):
            let replayPath = work.appendingPathComponent("replay.jsonl")
            let encoder = JSONEncoder()
            encoder.outputFormatting = .sortedKeys
            try Data(mutations.map { String(decoding: try encoder.encode($0), as: UTF8.self) + "\n" }.joined().utf8).write(to: replayPath)
            args += ["--fault-replay", replayPath.path]
        }
        let banner = work.appendingPathComponent("key.banner")
        let key = try Child.spawn([vfido] + args, stdout: banner.path, stderr: work.appendingPathComponent("key.log").path)
        defer { key.stop() }
        guard let port = key.waitForPort(banner: banner.path, seconds: 60) else {
            let status = key.poll()
            return RunResult(kind: .vfidoCrash, outcome: "the key did not start (\(status.map(describe) ?? "no banner in 60 s"))", mutations: [], work: work)
        }
        let host = try Child.spawn(command.map { $0.replacingOccurrences(of: "{port}", with: "\(port)") },
                                   stdout: work.appendingPathComponent("host.stdout").path,
                                   stderr: work.appendingPathComponent("host.stderr").path,
                                   environment: ["VFIDO_UDP": "127.0.0.1:\(port)"])
        let status = host.wait(seconds: timeout)
        if status == nil { host.kill() }
        let keyStatus = key.poll()
        let stopped = keyStatus ?? key.stop()
        let mutations = (try? FaultSettings.readLog(log)) ?? []
        let stderr = String(decoding: (FileManager.default.contents(atPath: work.appendingPathComponent("host.stderr").path) ?? Data()).suffix(65536), as: UTF8.self)
        let result = { (kind: FindingKind?, outcome: String) in RunResult(kind: kind, outcome: outcome, mutations: mutations, work: work) }
        if keyStatus != nil || !Child.isCleanStop(stopped) {
            return result(.vfidoCrash, "vfido \(describe(stopped))")
        }
        guard let status else { return result(.hang, "no exit in \(timeout) s") }
        if case .signal(let signal) = status { return result(.crash, "killed by signal \(signal)") }
        if ["AddressSanitizer", "LeakSanitizer", "UndefinedBehaviorSanitizer", "runtime error:"].contains(where: stderr.contains) {
            return result(.sanitizer, "sanitizer report, \(describe(status))")
        }
        if case .exited(let code) = status, !okExit.contains(code) { return result(.wrongExit, "exit \(code)") }
        return result(nil, describe(status))
    }

    /// Drops mutations one at a time while the same kind of finding still occurs.
    func minimise(_ command: [String], _ finding: RunResult, budget: Int) throws -> RunResult {
        var best = finding
        var tries = 0
        var i = 0
        while i < best.mutations.count && tries < budget {
            var fewer = best.mutations
            fewer.remove(at: i)
            tries += 1
            let result = try run(command, faults: .replay(fewer))
            try? FileManager.default.removeItem(at: result.work)
            if result.kind == finding.kind { best = RunResult(kind: result.kind, outcome: result.outcome, mutations: fewer, work: result.work) } else { i += 1 }
        }
        return best
    }

    func describe(_ status: Child.Status) -> String {
        switch status {
        case .exited(let code): "exit \(code)"
        case .signal(let signal): "signal \(signal)"
        }
    }
}

/// A child process in its own process group, its output in files.
final class Child {
    enum Status: Equatable { case exited(Int32), signal(Int32) }
    let pid: pid_t
    private var status: Status?

    private init(pid: pid_t) { self.pid = pid }

    static func spawn(_ argv: [String], stdout: String, stderr: String, environment: [String: String] = [:]) throws -> Child {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, stdout, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_addopen(&actions, 2, stderr, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP))
        posix_spawnattr_setpgroup(&attributes, 0)
        var env = ProcessInfo.processInfo.environment
        for (k, v) in environment { env[k] = v }
        let cArgs = argv.map { strdup($0) } + [nil]
        let cEnv = env.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { (cArgs + cEnv).forEach { free($0) } }
        var pid: pid_t = 0
        let rc = posix_spawnp(&pid, argv[0], &actions, &attributes, cArgs, cEnv)
        guard rc == 0 else { throw ValidationError("cannot start \(argv[0]): \(String(cString: strerror(rc)))") }
        return Child(pid: pid)
    }

    /// The exit status if the process has ended, without waiting.
    func poll() -> Status? {
        if let status { return status }
        var raw: Int32 = 0
        guard waitpid(pid, &raw, WNOHANG) == pid else { return nil }
        let signal = raw & 0x7F
        status = signal == 0 ? .exited((raw >> 8) & 0xFF) : .signal(signal)
        return status
    }

    /// Waits for the exit (polling every 5 ms: waitpid has no timeout) for at most `seconds`.
    func wait(seconds: Double) -> Status? {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if let status = poll() { return status }
            usleep(5000)
        }
        return poll()
    }

    func kill() {
        Glibc.kill(-pid, SIGKILL)
        _ = wait(seconds: 10)
    }

    /// SIGTERM, then SIGKILL after 20 s; the status it ended with.
    @discardableResult
    func stop() -> Status {
        if let status = poll() { return status }
        Glibc.kill(pid, SIGTERM)
        if let status = wait(seconds: 20) { return status }
        kill()
        return poll() ?? .signal(SIGKILL)
    }

    /// vfido ends on SIGTERM with status 0 (or, if the signal came before its handler, by it).
    static func isCleanStop(_ status: Status) -> Bool { status == .exited(0) || status == .signal(SIGTERM) }

    /// The key's UDP port from its banner, once the banner is complete.
    func waitForPort(banner: String, seconds: Double) -> Int? {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline, poll() == nil {
            if let text = FileManager.default.contents(atPath: banner).map({ String(decoding: $0, as: UTF8.self) }), text.contains("Stop with"),
               let range = text.range(of: #"UDP 127\.0\.0\.1:(\d+)"#, options: .regularExpression) {
                return Int(text[range].split(separator: ":").last!)
            }
            usleep(5000)
        }
        return nil
    }
}

/// `vfido faults`: the faults `--fault` takes.
struct FaultsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "faults", abstract: "List the faults --fault can inject.")

    func run() {
        print("KIND[@COMMAND][:RATE] for vfido serve --fault and vfido fuzz-host --fault (docs/fault-injection.md):\n")
        for fault in Fault.allCases { print("  \(fault.rawValue.padding(toLength: 26, withPad: " ", startingAt: 0)) \(fault.summary)") }
        print("\nCOMMAND: \(FaultRule.commands.sorted().joined(separator: ", "))")
    }
}
