import Bytes
import Foundation

/// A report to send after a pause (zero: now).
public struct TimedReport: Sendable {
    public var delay: Duration
    public var report: [UInt8]
}

/// How one USB/IP IN completion is falsified.
public enum URBFault: Sendable, Equatable {
    case shortLength(Int)
    case longLength(extra: [UInt8])
    case stall
}

/// Decides, seeded and reproducibly, which faults each reply gets, applies them and logs each
/// one applied. With the same seed and the same host behaviour a run is the same run; from a
/// recorded log (`replaying:`) exactly the logged mutations are applied at the same points,
/// whatever the seed, which is how a finding is replayed and minimised.
public final class FaultInjector: @unchecked Sendable {
    let onMutation: (@Sendable (Mutation) -> Void)?

    private let lock = NSLock()
    private var _rules: [FaultRule]
    private var _seed: UInt64
    private var replay: [Mutation]?
    private var rng: SplitMix64
    private var events: [Fault.Stage: Int] = [:]
    private var memory = ResponseFaults.Memory()
    private var applied: [Mutation] = []
    private var appliedCount = 0
    /// The log kept in memory (for the control API) holds this many, the newest.
    public static let keptMutations = 1000

    public init(rules: [FaultRule], seed: UInt64, onMutation: (@Sendable (Mutation) -> Void)? = nil) {
        _rules = rules
        _seed = seed
        rng = SplitMix64(seed: seed)
        self.onMutation = onMutation
    }

    public convenience init(replaying mutations: [Mutation], onMutation: (@Sendable (Mutation) -> Void)? = nil) {
        self.init(rules: [], seed: 0, onMutation: onMutation)
        replay = mutations
    }

    /// Starts over with these rules and this seed (no rules: no faults), as if the key had
    /// just started with them: the reply counters and the log begin again.
    public func configure(rules: [FaultRule], seed: UInt64) {
        lock.withLock {
            _rules = rules
            _seed = seed
            replay = nil
            rng = SplitMix64(seed: seed)
            events = [:]
            memory = ResponseFaults.Memory()
            applied = []
            appliedCount = 0
        }
    }

    public var rules: [FaultRule] { lock.withLock { _rules } }
    public var seed: UInt64 { lock.withLock { _seed } }
    public var isReplaying: Bool { lock.withLock { replay != nil } }
    /// How many mutations have been applied since the last start or `configure`.
    public var count: Int { lock.withLock { appliedCount } }
    /// The newest mutations applied (at most `keptMutations`).
    public var log: [Mutation] { lock.withLock { applied } }
    private var idle: Bool { _rules.isEmpty && replay == nil }

    /// The faults this event gets, each with the seed of its own choices.
    private func draw(_ stage: Fault.Stage, command: String) -> (event: Int, faults: [(Fault, UInt64)]) {
        let event = events[stage, default: 0]
        events[stage] = event + 1
        if let replay {
            return (event, replay.filter { $0.stage == stage && $0.event == event }.map { ($0.fault, $0.seed) })
        }
        var faults: [(Fault, UInt64)] = []
        for rule in _rules where rule.fault.stage == stage && (rule.command == nil || rule.command == command) {
            let roll = Double(rng.next() >> 11) / Double(1 << 53)
            let seed = rng.next()
            if roll < rule.rate { faults.append((rule.fault, seed)) }
        }
        return (event, faults)
    }

    private func record(_ stage: Fault.Stage, _ event: Int, _ fault: Fault, _ command: String, _ seed: UInt64, _ detail: String) {
        let mutation = Mutation(stage: stage, event: event, fault: fault, command: command, seed: seed, detail: detail)
        applied.append(mutation)
        if applied.count > Self.keptMutations { applied.removeFirst(applied.count - Self.keptMutations) }
        appliedCount += 1
        onMutation?(mutation)
    }

    /// A CTAP (status + CBOR) or U2F (APDU response) reply to `request`, before it is framed.
    public func mutateResponse(_ response: [UInt8], command: String, request: [UInt8]) -> [UInt8] {
        lock.withLock {
            if idle { return response }
            let (event, faults) = draw(.response, command: command)
            var out = response
            for (fault, seed) in faults {
                var rng = SplitMix64(seed: seed)
                if let detail = ResponseFaults.apply(fault, to: &out, command: command, request: request, rng: &rng, memory: &memory) {
                    record(.response, event, fault, command, seed, detail)
                }
            }
            return out
        }
    }

    /// The packets of one reply message (an initialisation packet and its continuations), as
    /// they are to be sent. KEEPALIVEs are not replies and pass unchanged.
    public func mutateFrames(_ reports: [[UInt8]], command: String) -> [TimedReport] {
        guard let first = reports.first, first.count >= 7, first[4] != FrameFaults.keepalive else {
            return reports.map { TimedReport(delay: .zero, report: $0) }
        }
        return lock.withLock {
            if idle { return reports.map { TimedReport(delay: .zero, report: $0) } }
            let (event, faults) = draw(.frames, command: command)
            var out = reports.map { TimedReport(delay: .zero, report: $0) }
            for (fault, seed) in faults {
                var rng = SplitMix64(seed: seed)
                if let detail = FrameFaults.apply(fault, to: &out, rng: &rng) {
                    record(.frames, event, fault, command, seed, detail)
                }
            }
            return out
        }
    }

    /// How the IN completion carrying `data` is to be falsified, if at all.
    public func urbFault(for data: [UInt8]) -> URBFault? {
        lock.withLock {
            if idle { return nil }
            let (event, faults) = draw(.urb, command: "urb")
            var result: URBFault?
            for (fault, seed) in faults where result == nil {
                var rng = SplitMix64(seed: seed)
                let detail: String
                switch fault {
                case .shortActualLength:
                    let n = Int.random(in: 0..<max(1, data.count), using: &rng)
                    result = .shortLength(n)
                    detail = "actual_length \(n) of \(data.count)"
                case .longActualLength:
                    let extra = (0..<Int.random(in: 1...64, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
                    result = .longLength(extra: extra)
                    detail = "actual_length \(data.count + extra.count), past the \(data.count)-byte report"
                default:
                    result = .stall
                    detail = "stalled (-EPIPE)"
                }
                record(.urb, event, fault, "urb", seed, detail)
            }
            return result
        }
    }
}

/// The frame-stage faults, on one reply's packets (CTAP 2.1 §11.2.4: an initialisation packet
/// is CID, CMD|0x80, BCNT, data; a continuation is CID, SEQ, data).
enum FrameFaults {
    static let keepalive: UInt8 = 0xBB

    static func apply(_ fault: Fault, to packets: inout [TimedReport], rng: inout SplitMix64) -> String? {
        guard var first = packets.first?.report, first.count >= 7 else { return nil }
        let payloadLength = Int(UInt16(bigEndianBytes: first[5..<7]))
        switch fault {
        case .wrongSequence:
            guard packets.count > 1 else { return nil }
            let i = Int.random(in: 1..<packets.count, using: &rng)
            let was = packets[i].report[4]
            packets[i].report[4] = (was &+ UInt8.random(in: 1...127, using: &rng)) & 0x7F
            return "continuation \(i - 1) sent with SEQ \(packets[i].report[4])"
        case .wrongChannel:
            let i = Int.random(in: 0..<packets.count, using: &rng)
            let other = UInt32(bigEndianBytes: packets[i].report[0..<4]) ^ UInt32.random(in: 1...UInt32.max, using: &rng)
            packets[i].report.replaceSubrange(0..<4, with: other.bigEndianBytes)
            return "packet \(i) on channel \(other.bigEndianBytes.hex)"
        case .shortLength:
            guard payloadLength > 0 else { return nil }
            let n = Int.random(in: 0..<payloadLength, using: &rng)
            first.replaceSubrange(5..<7, with: UInt16(n).bigEndianBytes)
            packets[0].report = first
            return "BCNT \(n) for \(payloadLength) bytes"
        case .longLength:
            let n = Bool.random(using: &rng) ? 0xFFFF : Int.random(in: (payloadLength + 1)...0xFFFF, using: &rng)
            first.replaceSubrange(5..<7, with: UInt16(n).bigEndianBytes)
            packets[0].report = first
            return "BCNT \(n) for \(payloadLength) bytes"
        case .duplicatePacket:
            let i = Int.random(in: 0..<packets.count, using: &rng)
            packets.insert(packets[i], at: i + 1)
            return "packet \(i) sent twice"
        case .dropPacket:
            let i = Int.random(in: 0..<packets.count, using: &rng)
            packets.remove(at: i)
            return "packet \(i) dropped"
        case .delayPacket, .lateReply:
            let ms = fault == .delayPacket ? Int.random(in: 50...1000, using: &rng) : Int.random(in: 3000...5000, using: &rng)
            for i in packets.indices { packets[i].delay = .milliseconds(ms) }
            return "sent \(ms) ms late"
        case .keepaliveStorm:
            let n = Int.random(in: 50...500, using: &rng)
            let status: UInt8 = Bool.random(using: &rng) ? 1 : 2
            let packet = (Array(first[0..<4]) + [keepalive, 0, 1, status]) + [UInt8](repeating: 0, count: first.count - 8)
            packets.insert(contentsOf: Array(repeating: TimedReport(delay: .zero, report: packet), count: n), at: 0)
            return "\(n) KEEPALIVE (\(status == 1 ? "PROCESSING" : "UPNEEDED")) first"
        default:
            return nil
        }
    }
}
