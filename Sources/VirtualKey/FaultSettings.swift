import Faults
import Foundation
import Logging

/// `vfido serve --fault ...`: which lies each key tells, from which seed, and where each lie is
/// written down (docs/fault-injection.md).
public struct FaultSettings: Sendable {
    public var rules: [FaultRule]
    /// Key n draws from seed + n - 1, so keys of one daemon lie differently but reproducibly.
    public var seed: UInt64
    /// Apply exactly these (a log written by an earlier run) instead of drawing.
    public var replay: [Mutation]?
    /// Each applied mutation as one JSON line (mode 0600), as `vfido fuzz-host` reads them;
    /// key n >= 2 writes `<path>.key-n`.
    public var logPath: String?

    public init(rules: [FaultRule], seed: UInt64, replay: [Mutation]? = nil, logPath: String? = nil) {
        self.rules = rules
        self.seed = seed
        self.replay = replay
        self.logPath = logPath
    }

    /// Reads a log of mutations, one JSON object per line.
    public static func readLog(_ path: String) throws -> [Mutation] {
        guard let data = FileManager.default.contents(atPath: path) else { throw DaemonError("cannot read the fault log \(path)") }
        let decoder = JSONDecoder()
        return try String(decoding: data, as: UTF8.self).split(separator: "\n").enumerated().map { index, line in
            do { return try decoder.decode(Mutation.self, from: Data(line.utf8)) } catch {
                throw DaemonError("fault log \(path), line \(index + 1): not a mutation (\(error))")
            }
        }
    }

    func injector(key n: Int, logger: Logger) throws -> FaultInjector {
        var file: FileHandle?
        // Key 1 writes the named file, key n >= 2 the same name with ".key-n" appended.
        if let logPath = logPath.map({ n == 1 ? $0 : "\($0).key-\(n)" }) {
            guard FileManager.default.createFile(atPath: logPath, contents: nil, attributes: [.posixPermissions: 0o600]),
                  let handle = FileHandle(forWritingAtPath: logPath) else { throw DaemonError("cannot write the fault log \(logPath)") }
            file = handle
        }
        let lock = NSLock()
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let record: @Sendable (Mutation) -> Void = { [file] mutation in
            logger.notice("fault \(mutation.fault.rawValue) on \(mutation.command) (\(mutation.stage.rawValue) \(mutation.event)): \(mutation.detail)")
            guard let file, let line = try? encoder.encode(mutation) else { return }
            lock.withLock { file.write(line + Data("\n".utf8)) }
        }
        if let replay { return FaultInjector(replaying: replay, onMutation: record) }
        return FaultInjector(rules: rules, seed: seed &+ UInt64(n - 1), onMutation: record)
    }
}
