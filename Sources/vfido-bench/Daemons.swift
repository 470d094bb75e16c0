// The real daemon as a user starts it (issue 19, items 5 and 6): `vfido serve` in its own
// process, its resident memory idle, with one key and with the RP, and with --keys 1000:
// how long until it says it is ready, until every key answers CTAPHID_INIT over UDP, and
// whether `usbip list -r` shows every key.
import CTAPHID
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The vfido binary next to this one (`make bench` builds both), or VFIDO_BIN.
let vfidoBinary = ProcessInfo.processInfo.environment["VFIDO_BIN"]
    ?? URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("vfido").path

/// A `vfido serve` the bench started, and how long it took to print its ready banner.
struct ServedDaemon {
    let process: Process
    let readySeconds: Double
    let state: URL

    /// Starts `vfido serve arguments` with a fresh state directory and waits (up to 120 s) for
    /// the banner's first line.
    static func start(_ arguments: [String]) throws -> ServedDaemon {
        let state = FileManager.default.temporaryDirectory.appendingPathComponent("vfido-bench-serve-\(UUID())")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: vfidoBinary)
        let where_ = arguments.contains("--ephemeral") ? [] : ["--state", state.path]
        process.arguments = ["serve"] + where_ + ["--no-api", "--log-level", "warning"] + arguments
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        let clock = ContinuousClock()
        let t0 = clock.now
        try process.run()
        var seen = ""
        while !seen.contains("ready") {
            let chunk = output.fileHandleForReading.availableData
            guard !chunk.isEmpty, clock.now - t0 < .seconds(120) else {
                process.terminate()
                throw BenchError("vfido serve \(arguments.joined(separator: " ")) did not say it was ready")
            }
            seen += String(decoding: chunk, as: UTF8.self)
        }
        // Keep draining stdout so the daemon never blocks on a full pipe.
        Thread.detachNewThread { while !output.fileHandleForReading.availableData.isEmpty {} }
        return ServedDaemon(process: process, readySeconds: microseconds(clock.now - t0) / 1e6, state: state)
    }

    /// Resident memory (VmRSS) in KiB: the process's own memory and the pages of the binary
    /// and shared libraries it has touched.
    var residentKiB: Int { status("VmRSS:") }
    /// Its own memory alone (RssAnon): what a key costs beyond the code it runs.
    var anonymousKiB: Int { status("RssAnon:") }

    func status(_ field: String) -> Int {
        let status = (try? String(contentsOfFile: "/proc/\(process.processIdentifier)/status", encoding: .utf8)) ?? ""
        let line = status.split(separator: "\n").first { $0.hasPrefix(field) } ?? ""
        return Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0
    }

    func stop() {
        process.terminate()
        process.waitUntilExit()
        try? FileManager.default.removeItem(at: state)
    }
}

/// Whether the key on `port` answers CTAPHID_INIT with our nonce.
func answersInit(port: Int) -> Bool {
    let client = UDPClient(port: port)
    let nonce: [UInt8] = [1, 2, 3, 4, 5, 6, 7, 8]
    return client.tryTransact(.`init`, nonce).map { Array($0.prefix(8)) == nonce } ?? false
}

/// How many devices `usbip list -r` shows on `port`; nil without the usbip tool.
func usbipListedDevices(port: Int) -> Int? {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["usbip", "--tcp-port", String(port), "list", "-r", "127.0.0.1"]
    let output = Pipe()
    process.standardOutput = output
    process.standardError = FileHandle.nullDevice
    guard (try? process.run()) != nil else { return nil }
    let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    guard process.terminationStatus == 0 else { return nil }
    // A device's first line: "        1-42: <vendor> : <product> (1209:0001)".
    return text.split(separator: "\n").filter { $0.trimmingCharacters(in: .whitespaces).range(of: #"^1-\d+:"#, options: .regularExpression) != nil }.count
}

func daemonFigures() throws -> [String: Any] {
    guard FileManager.default.isExecutableFile(atPath: vfidoBinary) else {
        FileHandle.standardError.write(Data("bench: no vfido binary at \(vfidoBinary): no daemon figures\n".utf8))
        return [:]
    }
    var figures: [String: Any] = ["binary": vfidoBinary]
    let udpBase = 40000, usbipPort = 39999

    // One key, without and with the bundled RP, idle after one INIT.
    let alone = try ServedDaemon.start(["--no-rp", "--udp", "127.0.0.1:\(udpBase)", "--usbip", "127.0.0.1:\(usbipPort)"])
    guard answersInit(port: udpBase) else { throw BenchError("the single key did not answer INIT") }
    figures["idle_rss_one_key_kib"] = alone.residentKiB
    figures["idle_anonymous_one_key_kib"] = alone.anonymousKiB
    figures["start_one_key_s"] = alone.readySeconds
    alone.stop()
    let withRP = try ServedDaemon.start(["--rp", "127.0.0.1:39998", "--udp", "127.0.0.1:\(udpBase)", "--usbip", "127.0.0.1:\(usbipPort)"])
    guard answersInit(port: udpBase) else { throw BenchError("the key beside the RP did not answer INIT") }
    figures["idle_rss_one_key_with_rp_kib"] = withRP.residentKiB
    figures["idle_anonymous_one_key_with_rp_kib"] = withRP.anonymousKiB
    withRP.stop()

    // A farm: --keys 1000, each with its own state directory as `vfido serve` gives it.
    let keys = 1000
    let clock = ContinuousClock()
    let t0 = clock.now
    let farm = try ServedDaemon.start(["--no-rp", "--keys", String(keys), "--udp", "127.0.0.1:\(udpBase)", "--usbip", "127.0.0.1:\(usbipPort)"])
    let answering = (0..<keys).filter { answersInit(port: udpBase + $0) }.count
    figures["keys_1000"] = [
        "keys": keys, "ready_s": farm.readySeconds, "every_key_answered_init_s": microseconds(clock.now - t0) / 1e6,
        "keys_answering_init": answering, "usbip_list_devices": usbipListedDevices(port: usbipPort) as Any,
        "rss_kib": farm.residentKiB, "anonymous_kib": farm.anonymousKiB,
        "rss_per_additional_key_kib": Double(farm.residentKiB - (figures["idle_rss_one_key_kib"] as! Int)) / Double(keys - 1),
    ]
    farm.stop()
    // The same farm in memory (`--ephemeral`): what is left when no store touches the disk.
    let t1 = clock.now
    let inMemory = try ServedDaemon.start(["--ephemeral", "--no-rp", "--keys", String(keys), "--udp", "127.0.0.1:\(udpBase)",
                                           "--usbip", "127.0.0.1:\(usbipPort)"])
    let answeringInMemory = (0..<keys).filter { answersInit(port: udpBase + $0) }.count
    figures["keys_1000_ephemeral"] = [
        "keys": keys, "ready_s": inMemory.readySeconds, "every_key_answered_init_s": microseconds(clock.now - t1) / 1e6,
        "keys_answering_init": answeringInMemory, "rss_kib": inMemory.residentKiB,
    ]
    inMemory.stop()
    return figures
}
