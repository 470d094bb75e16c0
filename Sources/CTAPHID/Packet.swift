#if canImport(Bytes)  // the fuzz targets compile Sources/Bytes into their own module
import Bytes
#endif

/// CTAPHID framing constants and reports (CTAP 2.1 §11.2.4). Every report is 64 bytes.
public enum CTAPHID {
    public static let reportSize = 64
    public static let initPayloadSize = reportSize - 7
    public static let continuationPayloadSize = reportSize - 5
    /// 57 bytes in the first packet + 128 continuation packets of 59 bytes.
    public static let maxMessageSize = initPayloadSize + 128 * continuationPayloadSize
    public static let broadcastChannel: UInt32 = 0xFFFF_FFFF
    public static let protocolVersion: UInt8 = 2

    /// The HID report descriptor of a FIDO device (usage page 0xF1D0, 64-byte input and output
    /// reports, CTAP 2.1 §11.2.8.1).
    public static let reportDescriptor: [UInt8] = [
        0x06, 0xD0, 0xF1, 0x09, 0x01, 0xA1, 0x01, 0x09, 0x20, 0x15, 0x00, 0x26, 0xFF, 0x00, 0x75, 0x08, 0x95, 0x40,
        0x81, 0x02, 0x09, 0x21, 0x15, 0x00, 0x26, 0xFF, 0x00, 0x75, 0x08, 0x95, 0x40, 0x91, 0x02, 0xC0,
    ]
}

/// CTAPHID command codes, without the 0x80 bit that marks an initialization packet.
public struct CTAPHIDCommand: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue & 0x7F }

    public static let ping = CTAPHIDCommand(rawValue: 0x01)
    public static let msg = CTAPHIDCommand(rawValue: 0x03)
    public static let lock = CTAPHIDCommand(rawValue: 0x04)
    public static let `init` = CTAPHIDCommand(rawValue: 0x06)
    public static let wink = CTAPHIDCommand(rawValue: 0x08)
    public static let cbor = CTAPHIDCommand(rawValue: 0x10)
    public static let cancel = CTAPHIDCommand(rawValue: 0x11)
    public static let keepalive = CTAPHIDCommand(rawValue: 0x3B)
    public static let error = CTAPHIDCommand(rawValue: 0x3F)

    public var description: String {
        switch self {
        case .ping: "PING"
        case .msg: "MSG"
        case .lock: "LOCK"
        case .`init`: "INIT"
        case .wink: "WINK"
        case .cbor: "CBOR"
        case .cancel: "CANCEL"
        case .keepalive: "KEEPALIVE"
        case .error: "ERROR"
        default: "0x" + String(rawValue, radix: 16)
        }
    }
}

/// Error codes carried by a CTAPHID_ERROR response (CTAP 2.1 §11.2.9.1.6).
public enum CTAPHIDError: UInt8, Sendable {
    case invalidCommand = 0x01
    case invalidParameter = 0x02
    case invalidLength = 0x03
    case invalidSequence = 0x04
    case messageTimeout = 0x05
    case channelBusy = 0x06
    case lockRequired = 0x0A
    case invalidChannel = 0x0B
    case other = 0x7F
}

/// KEEPALIVE status bytes (CTAP 2.1 §11.2.9.2.1).
public enum KeepaliveStatus: UInt8, Sendable {
    case processing = 1
    case userPresenceNeeded = 2
}

/// Capability flags in the INIT response.
public struct CTAPHIDCapabilities: OptionSet, Sendable {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    public static let wink = CTAPHIDCapabilities(rawValue: 0x01)
    public static let cbor = CTAPHIDCapabilities(rawValue: 0x04)
    /// Set when the device does NOT implement CTAPHID_MSG (CTAP1/U2F).
    public static let noMessage = CTAPHIDCapabilities(rawValue: 0x08)
}

/// A parsed 64-byte report.
public enum CTAPHIDPacket: Equatable, Sendable {
    case initialization(channel: UInt32, command: CTAPHIDCommand, length: Int, data: ArraySlice<UInt8>)
    case continuation(channel: UInt32, sequence: UInt8, data: ArraySlice<UInt8>)

    /// Parses a report; shorter ones are zero-padded as a HID stack would. nil if longer.
    public init?(report: [UInt8]) {
        guard report.count <= CTAPHID.reportSize else { return nil }
        let r = report.count == CTAPHID.reportSize ? report : report + [UInt8](repeating: 0, count: CTAPHID.reportSize - report.count)
        let channel = Self.channel(of: r)
        if r[4] & 0x80 != 0 {
            self = .initialization(channel: channel, command: CTAPHIDCommand(rawValue: r[4]),
                                   length: Int(r[5]) << 8 | Int(r[6]), data: r[7...])
        } else {
            self = .continuation(channel: channel, sequence: r[4], data: r[5...])
        }
    }

    /// The channel id at the front of a report (big endian, §11.2.4): the one place it is read.
    public static func channel(of report: some Collection<UInt8>) -> UInt32 { UInt32(bigEndianBytes: report) }

    public var channel: UInt32 {
        switch self {
        case .initialization(let c, _, _, _), .continuation(let c, _, _): c
        }
    }

    /// Splits a message into reports: one initialization packet, then continuation packets
    /// with sequence 0, 1, ... A zero-length message is still one packet.
    public static func frame(channel: UInt32, command: CTAPHIDCommand, payload: [UInt8]) -> [[UInt8]] {
        let cid = channel.bigEndianBytes
        var reports: [[UInt8]] = []
        var first = cid + [command.rawValue | 0x80, UInt8(payload.count >> 8), UInt8(payload.count & 0xFF)]
        first += payload.prefix(CTAPHID.initPayloadSize)
        reports.append(first)
        var offset = min(payload.count, CTAPHID.initPayloadSize)
        var sequence: UInt8 = 0
        while offset < payload.count {
            let end = min(payload.count, offset + CTAPHID.continuationPayloadSize)
            reports.append(cid + [sequence] + payload[offset..<end])
            sequence += 1
            offset = end
        }
        return reports.map { $0 + [UInt8](repeating: 0, count: CTAPHID.reportSize - $0.count) }
    }
}
