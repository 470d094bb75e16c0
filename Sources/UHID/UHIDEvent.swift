import Bytes

/// `struct uhid_event` from linux/uhid.h: a 32-bit type, then a packed union whose largest
/// member (UHID_CREATE2) makes every event 4376 bytes. Fields are in host byte order (little
/// endian on every platform Linux runs uhid on that vfido targets).
public enum UHID {
    public static let eventSize = 4 + 4372
    public static let dataMax = 4096
    public static let busUSB: UInt16 = 0x03

    enum EventType: UInt32 {
        case destroy = 1, start = 2, stop = 3, open = 4, close = 5, output = 6
        case getReport = 9, getReportReply = 10, create2 = 11, input2 = 12, setReport = 13, setReportReply = 14
    }
}

/// What the kernel tells the device.
public enum UHIDIncomingEvent: Equatable, Sendable {
    case start, stop, open, close
    /// An output report (hidraw write). `data` is as the kernel gives it: for a device without
    /// report IDs it begins with the report ID byte 0.
    case output(data: [UInt8], reportType: UInt8)
    case getReport(id: UInt32, reportNumber: UInt8, reportType: UInt8)
    case setReport(id: UInt32, reportNumber: UInt8, reportType: UInt8, data: [UInt8])
    case unknown(type: UInt32)

    public init?(_ event: [UInt8]) {
        guard event.count >= 4 else { return nil }
        let type = le32(event, 0)
        let body = Array(event.dropFirst(4))
        switch UHID.EventType(rawValue: type) {
        case .start: self = .start
        case .stop: self = .stop
        case .open: self = .open
        case .close: self = .close
        case .output:
            // struct uhid_output_req { __u8 data[4096]; __u16 size; __u8 rtype; }
            guard body.count >= UHID.dataMax + 3 else { return nil }
            let size = min(Int(le16(body, UHID.dataMax)), UHID.dataMax)
            self = .output(data: Array(body[0..<size]), reportType: body[UHID.dataMax + 2])
        case .getReport:
            // struct uhid_get_report_req { __u32 id; __u8 rnum; __u8 rtype; }
            guard body.count >= 6 else { return nil }
            self = .getReport(id: le32(body, 0), reportNumber: body[4], reportType: body[5])
        case .setReport:
            // struct uhid_set_report_req { __u32 id; __u8 rnum; __u8 rtype; __u16 size; __u8 data[4096]; }
            guard body.count >= 8 else { return nil }
            let size = min(Int(le16(body, 6)), UHID.dataMax, body.count - 8)
            self = .setReport(id: le32(body, 0), reportNumber: body[4], reportType: body[5], data: Array(body[8..<8 + size]))
        default:
            self = .unknown(type: type)
        }
    }
}

/// What the device tells the kernel.
public enum UHIDOutgoingEvent: Equatable, Sendable {
    case create2(name: String, phys: String, uniq: String, bus: UInt16, vendor: UInt32, product: UInt32,
                 version: UInt32, country: UInt32, reportDescriptor: [UInt8])
    case input2(data: [UInt8])
    case getReportReply(id: UInt32, error: UInt16, data: [UInt8])
    case setReportReply(id: UInt32, error: UInt16)
    case destroy

    /// The full 4376-byte event.
    public var bytes: [UInt8] {
        // struct uhid_event is in the host's byte order: little endian on every Linux vfido runs on.
        var w = ByteWriter()
        func u16(_ v: UInt16) { w.u16LittleEndian(v) }
        func u32(_ v: UInt32) { w.u32LittleEndian(v) }
        func text(_ s: String, _ size: Int) { w.fixedString(s, size) }
        switch self {
        case .create2(let name, let phys, let uniq, let bus, let vendor, let product, let version, let country, let rd):
            u32(UHID.EventType.create2.rawValue)
            text(name, 128); text(phys, 64); text(uniq, 64)
            u16(UInt16(rd.count)); u16(bus); u32(vendor); u32(product); u32(version); u32(country)
            w.bytes(rd.prefix(4096))
        case .input2(let data):
            u32(UHID.EventType.input2.rawValue)
            u16(UInt16(min(data.count, UHID.dataMax)))
            w.bytes(data.prefix(UHID.dataMax))
        case .getReportReply(let id, let error, let data):
            u32(UHID.EventType.getReportReply.rawValue)
            u32(id); u16(error); u16(UInt16(min(data.count, UHID.dataMax)))
            w.bytes(data.prefix(UHID.dataMax))
        case .setReportReply(let id, let error):
            u32(UHID.EventType.setReportReply.rawValue)
            u32(id); u16(error)
        case .destroy:
            u32(UHID.EventType.destroy.rawValue)
        }
        return w.out + [UInt8](repeating: 0, count: UHID.eventSize - w.out.count)
    }
}

func le16(_ b: [UInt8], _ at: Int) -> UInt16 { UInt16(littleEndianBytes: b[at..<at + 2]) }
func le32(_ b: [UInt8], _ at: Int) -> UInt32 { UInt32(littleEndianBytes: b[at..<at + 4]) }
