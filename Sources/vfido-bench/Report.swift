// `vfido-bench report <bench.json> <docs>`: docs/performance.md's figures and
// docs/performance.svg, from a run's JSON, so the page shows what the last run measured. The
// page's prose lives outside the markers and is kept as it is.
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Where the bench ran, for the report's first line.
func machineDescription() -> [String: Any] {
    let cpuinfo = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
    let model = cpuinfo.split(separator: "\n").first { $0.hasPrefix("model name") }?.split(separator: ":", maxSplits: 1).last
    var name = utsname()
    uname(&name)
    let kernel = withUnsafeBytes(of: name.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
    return ["cpu": model.map { $0.trimmingCharacters(in: .whitespaces) } ?? "unknown", "cores": ProcessInfo.processInfo.activeProcessorCount,
            "memory_gib": Double(ProcessInfo.processInfo.physicalMemory) / Double(1 << 30), "kernel": kernel,
            "date": ISO8601DateFormatter().string(from: Date())]
}

enum Report {
    static let begin = "<!-- make bench writes from here to the end marker; edits inside are overwritten -->"
    static let end = "<!-- end of what make bench writes -->"

    static func write(json path: String, docs: String) throws {
        guard let run = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: Any] else {
            throw BenchError("\(path) is not a bench run")
        }
        let page = URL(fileURLWithPath: docs).appendingPathComponent("performance.md")
        let text = try String(contentsOf: page, encoding: .utf8)
        guard let from = text.range(of: begin), let to = text.range(of: end), from.upperBound <= to.lowerBound else {
            throw BenchError("\(page.path) has no markers for the generated part")
        }
        let generated = "\n" + markdown(run) + "\n"
        try (String(text[..<from.upperBound]) + generated + String(text[to.lowerBound...])).write(to: page, atomically: true, encoding: .utf8)
        try svg(run).write(to: URL(fileURLWithPath: docs).appendingPathComponent("performance.svg"), atomically: true, encoding: .utf8)
    }

    static func number(_ value: Any?, _ digits: Int = 0) -> String {
        guard let v = (value as? Double) ?? (value as? Int).map(Double.init) else { return "–" }
        let formatter = NumberFormatter()
        formatter.numberStyle = .decimal
        formatter.groupingSeparator = " "
        formatter.minimumFractionDigits = digits
        formatter.maximumFractionDigits = digits
        return formatter.string(from: NSNumber(value: v)) ?? "\(v)"
    }

    static func markdown(_ run: [String: Any]) -> String {
        let machine = run["machine"] as? [String: Any] ?? [:]
        let openssl = run["openssl_speed_sign_ops_per_s"] as? [String: Double] ?? [:]
        let swiftCrypto = run["swift_crypto_sign_ops_per_s"] as? [String: Double] ?? [:]
        let inProcess = run["in_process"] as? [String: [String: Double]] ?? [:]
        func ratio(_ value: Double?, _ alg: String) -> String {
            guard let value, let limit = openssl[alg] else { return number(value) }
            return "\(number(value)) (\(number(value / limit, 2)))"
        }
        var lines = [
            "## The last run",
            "",
            "\(machine["date"] as? String ?? "?"), \(run["build"] as? String ?? "?") build, \(machine["cores"] ?? "?") cores "
                + "(\(machine["cpu"] as? String ?? "?")), \(number(machine["memory_gib"], 0)) GiB, Linux \(machine["kernel"] as? String ?? "?"); "
                + "\(number(run["seconds_per_measurement"], 1)) s per measurement. Ratios in brackets are of `openssl speed`'s sign rate in the same run.",
            "",
            "| ops/s | ES256 | EdDSA |",
            "|---|---|---|",
            "| `openssl speed` sign (one core) | \(number(openssl["ES256"])) | \(number(openssl["EdDSA"])) |",
            "| swift-crypto sign | \(number(swiftCrypto["ES256"])) | \(number(swiftCrypto["EdDSA"])) |",
            "| in-process getAssertion (caller and authenticator on different threads) | \(ratio(inProcess["ES256"]?["getAssertion_ops_per_s"], "ES256")) | \(ratio(inProcess["EdDSA"]?["getAssertion_ops_per_s"], "EdDSA")) |",
            "| in-process getAssertion (caller and authenticator on one thread) | \(ratio(inProcess["ES256"]?["getAssertion_one_thread_ops_per_s"], "ES256")) | \(ratio(inProcess["EdDSA"]?["getAssertion_one_thread_ops_per_s"], "EdDSA")) |",
            "| in-process makeCredential | \(ratio(inProcess["ES256"]?["makeCredential_ops_per_s"], "ES256")) | \(ratio(inProcess["EdDSA"]?["makeCredential_ops_per_s"], "EdDSA")) |",
            "| getAssertion on the on-disk store (WAL, `synchronous=FULL`) | \(ratio(run["on_disk_getAssertion_es256_ops_per_s"] as? Double, "ES256")) | |",
            "",
            "One ES256 getAssertion, piece by piece (µs per call, each measured alone):",
            "",
            "| part | µs |",
            "|---|---|",
        ]
        let parts = (run["getAssertion_es256_parts_us"] as? [String: Double] ?? [:]).sorted { $0.value > $1.value }
        lines += parts.map { "| \($0.key.replacingOccurrences(of: "_", with: " ")) | \(number($0.value, 2)) |" }
        lines += ["", "CTAPHID getAssertion (ES256) round trips over UDP on loopback, each client on its own channel:", "",
                  "| clients | ops/s | p50 ms | p99 ms |", "|---|---|---|---|"]
        for row in run["udp_concurrent_clients"] as? [[String: Any]] ?? [] {
            lines.append("| \(row["clients"] ?? "") | \(number(row["ops_per_s"])) | \(number(row["p50_ms"], 3)) | \(number(row["p99_ms"], 3)) |")
        }
        lines += ["", "Stored passkeys (discoverable, ES256, spread over 1 000 RPs, plus one RP with a single account), one on-disk store grown step by step:", "",
                  "| passkeys | RPs | getAssertion by allowList p50 µs | discoverable, one account p50 µs | getInfo p50 µs | enumeration µs per passkey | open the store + first getInfo ms | store MiB |",
                  "|---|---|---|---|---|---|---|---|"]
        for row in run["scale"] as? [[String: Any]] ?? [] {
            lines.append("| \(number(row["discoverable_credentials"])) | \(number(row["rps"])) | \(number(row["getAssertion_allowList_p50_us"], 1)) "
                         + "| \(number(row["getAssertion_discoverable_one_account_p50_us"], 1)) | \(number(row["getInfo_p50_us"], 1)) "
                         + "| \(number(row["enumerate_us_per_credential"], 1)) | \(number(row["start_ms"], 1)) "
                         + "| \(number(((row["store_bytes"] as? Int).map(Double.init) ?? 0) / 1_048_576, 1)) |")
        }
        lines += ["", "Largest against smallest store, p50: getAssertion by allowList \(number(run["scale_getAssertion_allowList_p50_us_largest_vs_smallest_ratio"], 2))×, "
                  + "discoverable \(number(run["scale_getAssertion_discoverable_one_account_p50_us_largest_vs_smallest_ratio"], 2))×, "
                  + "getInfo \(number(run["scale_getInfo_p50_us_largest_vs_smallest_ratio"], 2))×."]
        if let daemon = run["daemon"] as? [String: Any], let farm = daemon["keys_1000"] as? [String: Any] {
            lines += ["", "`vfido serve` as a user starts it (a fresh state directory, its own process):", "",
                      "| measurement | value |", "|---|---|",
                      "| idle resident memory (RSS), one key (`--no-rp`) | \(mib(daemon["idle_rss_one_key_kib"])) |",
                      "| of which its own memory (RssAnon), not code pages | \(mib(daemon["idle_anonymous_one_key_kib"])) |",
                      "| idle RSS, one key and the bundled RP | \(mib(daemon["idle_rss_one_key_with_rp_kib"])) (own memory \(mib(daemon["idle_anonymous_one_key_with_rp_kib"]))) |",
                      "| one key: start to the ready banner | \(number(daemon["start_one_key_s"], 2)) s |",
                      "| `--keys 1000`: start to the ready banner | \(number(farm["ready_s"], 2)) s |",
                      "| `--keys 1000`: start until every key answered CTAPHID_INIT over UDP | \(number(farm["every_key_answered_init_s"], 2)) s |",
                      "| `--keys 1000`: keys answering INIT / devices `usbip list -r` shows | \(number(farm["keys_answering_init"])) / \(farm["usbip_list_devices"].flatMap { $0 as? Int }.map(String.init) ?? "usbip not installed") |",
                      "| `--keys 1000`: RSS | \(mib(farm["rss_kib"])) (own memory \(mib(farm["anonymous_kib"]))) |",
                      "| resident memory per additional key | \(number(farm["rss_per_additional_key_kib"], 0)) KiB |"]
            if let memory = daemon["keys_1000_ephemeral"] as? [String: Any] {
                lines += ["| `--keys 1000 --ephemeral` (no store on disk): start to the ready banner | \(number(memory["ready_s"], 2)) s |",
                          "| `--keys 1000 --ephemeral`: until every key answered INIT (\(number(memory["keys_answering_init"])) did) | \(number(memory["every_key_answered_init_s"], 2)) s |",
                          "| `--keys 1000 --ephemeral`: RSS | \(mib(memory["rss_kib"])) |"]
            }
        }
        lines += ["", "![getAssertion latency against stored passkeys, and throughput against concurrent clients](performance.svg)"]
        return lines.joined(separator: "\n")
    }

    static func mib(_ kib: Any?) -> String { "\(number((kib as? Int).map { Double($0) / 1024 }, 1)) MiB" }

    /// Two panels: p50 latencies against stored passkeys (log scale), UDP throughput against clients.
    static func svg(_ run: [String: Any]) -> String {
        let scale = run["scale"] as? [[String: Any]] ?? []
        let clients = run["udp_concurrent_clients"] as? [[String: Any]] ?? []
        func value(_ row: [String: Any], _ key: String) -> Double { (row[key] as? Double) ?? (row[key] as? Int).map(Double.init) ?? 0 }
        var out = [##"<svg xmlns="http://www.w3.org/2000/svg" width="960" height="360" font-family="sans-serif" font-size="12">"##,
                   ##"<rect width="960" height="360" fill="white"/>"##]
        // A panel's frame at (x0, y0), 380 x 240, with its title and axis labels.
        func frame(_ x0: Double, _ title: String, _ xLabel: String, _ yLabel: String, yMax: Double) {
            out.append(##"<text x="\##(x0)" y="24" font-size="14" font-weight="bold">\##(title)</text>"##)
            out.append(##"<rect x="\##(x0 + 50)" y="40" width="380" height="240" fill="none" stroke="#444"/>"##)
            out.append(##"<text x="\##(x0 + 240)" y="320" text-anchor="middle">\##(xLabel)</text>"##)
            out.append(##"<text x="\##(x0 + 12)" y="160" transform="rotate(-90 \##(x0 + 12) 160)" text-anchor="middle">\##(yLabel)</text>"##)
            for i in 0...4 {
                let y = 280 - Double(i) * 60
                out.append(##"<line x1="\##(x0 + 46)" y1="\##(y)" x2="\##(x0 + 430)" y2="\##(y)" stroke="#ddd"/>"##)
                out.append(##"<text x="\##(x0 + 44)" y="\##(y + 4)" text-anchor="end">\##(number(yMax * Double(i) / 4))</text>"##)
            }
        }
        // Latency against stored passkeys.
        let series: [(String, String, String)] = [("getAssertion_allowList_p50_us", "#1f77b4", "getAssertion, allowList"),
                                                  ("getAssertion_discoverable_one_account_p50_us", "#d62728", "getAssertion, discoverable"),
                                                  ("getInfo_p50_us", "#2ca02c", "getInfo")]
        let latencyMax = max(1, (scale.flatMap { row in series.map { value(row, $0.0) } }.max() ?? 1) * 1.15)
        frame(10, "p50 latency against stored passkeys (in process, on disk)", "discoverable credentials stored (log scale)", "µs", yMax: latencyMax)
        let counts = scale.map { max(1, value($0, "discoverable_credentials")) }
        let (lo, hi) = (log10(counts.min() ?? 1), max(log10(counts.max() ?? 10), log10(counts.min() ?? 1) + 1))
        func xScale(_ n: Double) -> Double { 80 + (log10(max(1, n)) - lo) / (hi - lo) * 340 }
        for n in counts {
            out.append(##"<text x="\##(xScale(n))" y="296" text-anchor="middle">\##(number(n))</text>"##)
        }
        for (index, (key, color, label)) in series.enumerated() {
            let points = scale.map { "\(xScale(value($0, "discoverable_credentials"))),\(280 - value($0, key) / latencyMax * 240)" }
            out.append(##"<polyline points="\##(points.joined(separator: " "))" fill="none" stroke="\##(color)" stroke-width="2"/>"##)
            for point in points {
                let xy = point.split(separator: ",")
                out.append(##"<circle cx="\##(xy[0])" cy="\##(xy[1])" r="3" fill="\##(color)"/>"##)
            }
            out.append(##"<text x="70" y="\##(58 + index * 16)" fill="\##(color)">\##(label)</text>"##)
        }
        // Throughput against concurrent clients.
        let throughputMax = max(1, (clients.map { value($0, "ops_per_s") }.max() ?? 1) * 1.15)
        frame(490, "UDP getAssertion throughput against clients", "concurrent clients, each on its own channel", "round trips per second", yMax: throughputMax)
        let width = 380 / Double(max(1, clients.count))
        for (i, row) in clients.enumerated() {
            let height = value(row, "ops_per_s") / throughputMax * 240
            let x = 540 + Double(i) * width + width * 0.2
            out.append(##"<rect x="\##(x)" y="\##(280 - height)" width="\##(width * 0.6)" height="\##(height)" fill="#1f77b4"/>"##)
            out.append(##"<text x="\##(x + width * 0.3)" y="296" text-anchor="middle">\##(number(value(row, "clients")))</text>"##)
            out.append(##"<text x="\##(x + width * 0.3)" y="\##(274 - height)" text-anchor="middle">p99 \##(number(value(row, "p99_ms"), 2)) ms</text>"##)
        }
        out.append("</svg>")
        return out.joined(separator: "\n") + "\n"
    }
}
