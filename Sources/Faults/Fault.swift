/// A way the key can lie to its host, for testing host-side CTAP parsers (docs/fault-injection.md).
/// Every fault changes what the key sends, never what it stores: the key stays sound.
public enum Fault: String, CaseIterable, Codable, Sendable {
    // CTAPHID framing of one reply message (its initialisation and continuation packets).
    case wrongSequence = "ctaphid.wrong-seq"
    case wrongChannel = "ctaphid.wrong-cid"
    case shortLength = "ctaphid.short-bcnt"
    case longLength = "ctaphid.long-bcnt"
    case duplicatePacket = "ctaphid.duplicate"
    case dropPacket = "ctaphid.drop"
    case delayPacket = "ctaphid.delay"
    case keepaliveStorm = "ctaphid.keepalive-storm"
    case lateReply = "ctaphid.late-reply"
    // The CTAP response: status byte and CBOR body.
    case nonCanonical = "ctap.non-canonical"
    case truncated = "ctap.truncated"
    case wrongType = "ctap.wrong-type"
    case hugeLength = "ctap.huge-length"
    case unknownKey = "ctap.unknown-key"
    case wrongStatus = "ctap.wrong-status"
    // What the response claims: signatures, authenticator data.
    case badSignature = "crypto.bad-signature"
    case wrongRpIdHash = "crypto.wrong-rpid-hash"
    case counterBackwards = "crypto.counter-backwards"
    case upLie = "flags.up"
    case uvLie = "flags.uv"
    // USB/IP completions of interrupt IN URBs.
    case shortActualLength = "usbip.short-length"
    case longActualLength = "usbip.long-length"
    case stall = "usbip.stall"

    /// Where the fault is applied, in the order a reply passes through them.
    public enum Stage: String, Codable, Sendable {
        /// The response bytes, before they are framed (CTAP, crypto and flag faults).
        case response
        /// The reply's CTAPHID packets.
        case frames
        /// A USB/IP IN completion.
        case urb
    }

    public var stage: Stage {
        switch self {
        case .wrongSequence, .wrongChannel, .shortLength, .longLength, .duplicatePacket, .dropPacket, .delayPacket,
             .keepaliveStorm, .lateReply: .frames
        case .shortActualLength, .longActualLength, .stall: .urb
        default: .response
        }
    }

    public var summary: String {
        switch self {
        case .wrongSequence: "a continuation packet carries the wrong sequence number"
        case .wrongChannel: "one packet of the reply goes out on another channel ID"
        case .shortLength: "the initialisation packet's BCNT is less than the payload"
        case .longLength: "the initialisation packet's BCNT is more than the payload (up to 0xFFFF)"
        case .duplicatePacket: "one packet of the reply is sent twice"
        case .dropPacket: "one packet of the reply is never sent"
        case .delayPacket: "the reply waits 50 to 1000 ms before it is sent"
        case .keepaliveStorm: "50 to 500 KEEPALIVE packets before the reply"
        case .lateReply: "the reply waits 3 to 5 s, past most hosts' timeouts"
        case .nonCanonical: "the CBOR body re-encoded non-canonically (long integer heads, reversed map keys or an indefinite-length map)"
        case .truncated: "the response cut short (down to nothing)"
        case .wrongType: "one member of the response map has a value of another CBOR type"
        case .hugeLength: "one member's CBOR head claims 2^32-1 bytes or items"
        case .unknownKey: "an extra member with an integer key the spec does not define"
        case .wrongStatus: "another status code: an error for a success, success for an error"
        case .badSignature: "one bit of the assertion or attestation signature flipped"
        case .wrongRpIdHash: "one byte of authenticatorData's rpIdHash changed"
        case .counterBackwards: "the signature counter lower than the last one sent"
        case .upLie: "authenticatorData's UP flag inverted"
        case .uvLie: "authenticatorData's UV flag inverted"
        case .shortActualLength: "an IN completion with fewer bytes than the report"
        case .longActualLength: "an IN completion with more bytes than the URB's buffer"
        case .stall: "an IN URB completed with -EPIPE (stall); its report is lost"
        }
    }
}

/// When a fault applies: to replies to `command` (nil: every reply) with probability `rate`.
public struct FaultRule: Codable, Sendable, Equatable, CustomStringConvertible {
    public var fault: Fault
    /// A CTAP command's name (makeCredential, getAssertion, ...), `u2f`, or a CTAPHID command
    /// (init, ping, wink, lock, cbor, msg, error) for replies the key's CTAPHID layer makes itself.
    public var command: String?
    public var rate: Double

    public init(fault: Fault, command: String? = nil, rate: Double = 1) {
        self.fault = fault
        self.command = command
        self.rate = rate
    }

    public static let commands: Set<String> = [
        "makeCredential", "getAssertion", "getInfo", "clientPIN", "reset", "getNextAssertion", "bioEnrollment",
        "credentialManagement", "selection", "largeBlobs", "config", "credentialManagementPreview", "u2f",
        "init", "ping", "wink", "lock", "cancel", "error",
    ]

    public struct Invalid: Error, CustomStringConvertible { public let description: String }

    /// `KIND[@COMMAND][:RATE]`, e.g. `ctap.truncated@getAssertion:0.5`.
    public init(parsing text: String) throws {
        var rest = Substring(text)
        var rate = 1.0
        if let colon = rest.lastIndex(of: ":") {
            guard let r = Double(rest[rest.index(after: colon)...]), (0...1).contains(r) else {
                throw Invalid(description: "fault \"\(text)\": the rate after ':' must be a number from 0 to 1")
            }
            rate = r
            rest = rest[..<colon]
        }
        var command: String?
        if let at = rest.firstIndex(of: "@") {
            let name = String(rest[rest.index(after: at)...])
            guard Self.commands.contains(name) else {
                throw Invalid(description: "fault \"\(text)\": no command \"\(name)\" (one of \(Self.commands.sorted().joined(separator: ", ")))")
            }
            command = name
            rest = rest[..<at]
        }
        guard let fault = Fault(rawValue: String(rest)) else {
            throw Invalid(description: "fault \"\(text)\": no fault \"\(rest)\" (one of \(Fault.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        self.init(fault: fault, command: command, rate: rate)
    }

    public var description: String {
        fault.rawValue + (command.map { "@" + $0 } ?? "") + (rate == 1 ? "" : ":\(rate)")
    }
}

/// One fault as it was applied: enough to apply it again at the same point (`seed` drives its
/// choices, such as which byte or how long), and a detail for people.
public struct Mutation: Codable, Sendable, Equatable {
    public var stage: Fault.Stage
    /// The how-manieth reply (or IN completion) at this stage, from 0.
    public var event: Int
    public var fault: Fault
    public var command: String
    public var seed: UInt64
    public var detail: String
}

/// SplitMix64 (Steele, Lea, Flood 2014): small, fast, and the same sequence for the same seed
/// on every machine, which is all fault injection asks of it. Never for keys.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
