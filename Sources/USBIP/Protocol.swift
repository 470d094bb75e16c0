#if canImport(Bytes)  // the fuzz targets compile Sources/Bytes into their own module
import Bytes
#endif

/// The USB/IP wire protocol (Linux Documentation/usb/usbip_protocol.rst). Every multi-byte
/// field of the USB/IP headers is big endian; the 8-byte USB setup packet inside CMD_SUBMIT is
/// little endian, as on the USB bus.
public enum USBIP {
    public static let version: UInt16 = 0x0111
    public static let defaultPort = 3240

    // Operation codes (connection phase).
    static let opReqDevlist: UInt16 = 0x8005
    static let opRepDevlist: UInt16 = 0x0005
    static let opReqImport: UInt16 = 0x8003
    static let opRepImport: UInt16 = 0x0003

    // URB commands (after a successful import).
    static let cmdSubmit: UInt32 = 1
    static let cmdUnlink: UInt32 = 2
    static let retSubmit: UInt32 = 3
    static let retUnlink: UInt32 = 4

    /// Sizes fixed by the protocol.
    public static let operationHeaderSize = 8
    public static let urbHeaderSize = 48
    public static let deviceRecordSize = 312
    public static let busidSize = 32
    public static let pathSize = 256

    /// The largest OUT transfer accepted; anything larger is garbage, not a FIDO device's traffic.
    public static let maxTransferLength: UInt32 = 64 * 1024
    /// The most isochronous packet descriptors a CMD_SUBMIT may announce.
    public static let maxIsoPackets: UInt32 = 1024
}

/// Status codes of OP_REP_IMPORT (usbip-utils' usbip_network.h).
public enum USBIPOperationStatus: UInt32, Sendable {
    case ok = 0, notAvailable = 1, deviceBusy = 2, deviceError = 3, noSuchDevice = 4, error = 5
}

/// Linux errno values used in URB replies (negated on the wire).
public enum USBErrno {
    public static let pipe: Int32 = 32          // EPIPE: endpoint stalled
    public static let connectionReset: Int32 = 104  // ECONNRESET: URB unlinked
}

public enum USBIPDirection: UInt32, Sendable { case out = 0, `in` = 1 }

/// CMD_SUBMIT: one URB from the host.
public struct USBIPSubmit: Equatable, Sendable {
    public var seqnum: UInt32
    public var devid: UInt32
    public var direction: USBIPDirection
    public var endpoint: UInt32
    public var transferFlags: UInt32
    public var transferBufferLength: UInt32
    public var startFrame: Int32
    public var numberOfPackets: UInt32
    public var interval: Int32
    public var setup: [UInt8]
    /// OUT data (transferBufferLength bytes); empty for IN.
    public var data: [UInt8]
    /// Isochronous packet descriptors, kept raw (this server has no isochronous endpoints).
    public var isoDescriptors: [UInt8]

    public init(seqnum: UInt32, devid: UInt32, direction: USBIPDirection, endpoint: UInt32, transferFlags: UInt32 = 0,
                transferBufferLength: UInt32, startFrame: Int32 = 0, numberOfPackets: UInt32 = 0, interval: Int32 = 0,
                setup: [UInt8] = [UInt8](repeating: 0, count: 8), data: [UInt8] = [], isoDescriptors: [UInt8] = []) {
        self.seqnum = seqnum
        self.devid = devid
        self.direction = direction
        self.endpoint = endpoint
        self.transferFlags = transferFlags
        self.transferBufferLength = transferBufferLength
        self.startFrame = startFrame
        self.numberOfPackets = numberOfPackets
        self.interval = interval
        self.setup = setup
        self.data = data
        self.isoDescriptors = isoDescriptors
    }
}

/// CMD_UNLINK: the host withdraws an earlier CMD_SUBMIT.
public struct USBIPUnlink: Equatable, Sendable {
    public var seqnum: UInt32
    public var devid: UInt32
    public var direction: USBIPDirection
    public var endpoint: UInt32
    public var unlinkSeqnum: UInt32
}

public enum USBIPRequest: Equatable, Sendable {
    case deviceList
    case importDevice(busid: String)
    case submit(USBIPSubmit)
    case unlink(USBIPUnlink)
}

/// Why a connection's bytes are not USB/IP. The connection is closed.
public enum USBIPProtocolError: Error, Equatable, Sendable {
    /// Linux's usbip tools speak 1.1.1 only and refuse any other version; so does vfido.
    case unsupportedVersion(UInt16)
    case unknownOperation(code: UInt16)
    case unknownCommand(UInt32)
    case invalidDirection(UInt32)
    case transferTooLong(UInt32)
    case tooManyIsoPackets(UInt32)
}

/// What a connection is expecting: operations until a device is imported, URBs after.
public enum USBIPPhase: Sendable { case operation, urb }

/// Decodes the front of a connection's byte stream. Nothing is consumed until a whole message
/// is there (drip-fed input just waits), and no length from the wire is trusted before it has
/// been checked against the limits.
public enum USBIPDecoder {
    /// nil: more bytes are needed.
    public static func decode(_ bytes: ArraySlice<UInt8>, phase: USBIPPhase) throws(USBIPProtocolError) -> (USBIPRequest, consumed: Int)? {
        var r = ByteReader(bytes)
        switch phase {
        case .operation:
            guard let version = r.u16(), let code = r.u16(), let _ = r.u32() else { return nil }
            guard version == USBIP.version else { throw .unsupportedVersion(version) }
            switch code {
            case USBIP.opReqDevlist:
                return (.deviceList, r.consumed)
            case USBIP.opReqImport:
                guard let raw = r.bytes(USBIP.busidSize) else { return nil }
                return (.importDevice(busid: cString(raw)), r.consumed)
            default:
                throw .unknownOperation(code: code)
            }
        case .urb:
            guard let command = r.u32(), let seqnum = r.u32(), let devid = r.u32(), let dir = r.u32(), let ep = r.u32() else { return nil }
            guard command == USBIP.cmdSubmit || command == USBIP.cmdUnlink else { throw .unknownCommand(command) }
            guard let direction = USBIPDirection(rawValue: dir) else { throw .invalidDirection(dir) }
            if command == USBIP.cmdUnlink {
                guard let victim = r.u32(), r.bytes(24) != nil else { return nil }
                return (.unlink(USBIPUnlink(seqnum: seqnum, devid: devid, direction: direction, endpoint: ep, unlinkSeqnum: victim)), r.consumed)
            }
            guard let flags = r.u32(), let length = r.u32(), let startFrame = r.u32(), let packets = r.u32(),
                  let interval = r.u32(), let setup = r.bytes(8) else { return nil }
            guard length <= USBIP.maxTransferLength else { throw .transferTooLong(length) }
            let isoCount = packets == 0xFFFF_FFFF ? 0 : packets
            guard isoCount <= USBIP.maxIsoPackets else { throw .tooManyIsoPackets(packets) }
            let dataLength = direction == .out ? Int(length) : 0
            guard let data = r.bytes(dataLength), let iso = r.bytes(Int(isoCount) * 16) else { return nil }
            return (.submit(USBIPSubmit(
                seqnum: seqnum, devid: devid, direction: direction, endpoint: ep, transferFlags: flags,
                transferBufferLength: length, startFrame: Int32(bitPattern: startFrame), numberOfPackets: packets,
                interval: Int32(bitPattern: interval), setup: Array(setup), data: Array(data), isoDescriptors: Array(iso))),
                r.consumed)
        }
    }

    static func cString(_ raw: ArraySlice<UInt8>) -> String {
        String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
    }
}

/// The device record of OP_REP_DEVLIST and OP_REP_IMPORT.
public struct USBIPDeviceRecord: Equatable, Sendable {
    public var path: String
    public var busid: String
    public var busnum: UInt32
    public var devnum: UInt32
    public var speed: UInt32
    public var vendorId: UInt16
    public var productId: UInt16
    public var bcdDevice: UInt16
    public var deviceClass: UInt8
    public var deviceSubClass: UInt8
    public var deviceProtocol: UInt8
    public var configurationValue: UInt8
    public var numConfigurations: UInt8
    /// (class, subclass, protocol) per interface.
    public var interfaces: [(UInt8, UInt8, UInt8)]

    public static func == (a: Self, b: Self) -> Bool { a.encoded(withInterfaces: true) == b.encoded(withInterfaces: true) }

    /// 312 bytes, plus 4 per interface in a device list.
    public func encoded(withInterfaces: Bool) -> [UInt8] {
        var w = ByteWriter()
        w.fixedString(path, USBIP.pathSize)
        w.fixedString(busid, USBIP.busidSize)
        w.u32(busnum); w.u32(devnum); w.u32(speed)
        w.u16(vendorId); w.u16(productId); w.u16(bcdDevice)
        w.bytes([deviceClass, deviceSubClass, deviceProtocol, configurationValue, numConfigurations, UInt8(interfaces.count)])
        if withInterfaces {
            for i in interfaces { w.bytes([i.0, i.1, i.2, 0]) }
        }
        return w.out
    }
}

/// Replies the server writes.
public enum USBIPReply {
    public static func deviceList(_ devices: [USBIPDeviceRecord]) -> [UInt8] {
        var w = ByteWriter()
        w.u16(USBIP.version); w.u16(USBIP.opRepDevlist); w.u32(0)
        w.u32(UInt32(devices.count))
        for d in devices { w.bytes(d.encoded(withInterfaces: true)) }
        return w.out
    }

    public static func importDevice(_ status: USBIPOperationStatus, _ device: USBIPDeviceRecord?) -> [UInt8] {
        var w = ByteWriter()
        w.u16(USBIP.version); w.u16(USBIP.opRepImport); w.u32(status.rawValue)
        if status == .ok, let device { w.bytes(device.encoded(withInterfaces: false)) }
        return w.out
    }

    /// RET_SUBMIT. `status` is 0 or a negated errno; IN data follows the header.
    public static func submit(seqnum: UInt32, status: Int32, actualLength: UInt32, startFrame: Int32 = 0,
                              numberOfPackets: UInt32 = 0, errorCount: UInt32 = 0, data: [UInt8] = []) -> [UInt8] {
        var w = ByteWriter()
        w.u32(USBIP.retSubmit); w.u32(seqnum); w.u32(0); w.u32(0); w.u32(0)
        w.u32(UInt32(bitPattern: status)); w.u32(actualLength); w.u32(UInt32(bitPattern: startFrame))
        w.u32(numberOfPackets); w.u32(errorCount)
        w.bytes([UInt8](repeating: 0, count: 8))
        w.bytes(data)
        return w.out
    }

    /// RET_UNLINK: -ECONNRESET when the URB was withdrawn, 0 when it had already completed.
    public static func unlink(seqnum: UInt32, status: Int32) -> [UInt8] {
        var w = ByteWriter()
        w.u32(USBIP.retUnlink); w.u32(seqnum); w.u32(0); w.u32(0); w.u32(0)
        w.u32(UInt32(bitPattern: status))
        w.bytes([UInt8](repeating: 0, count: 24))
        return w.out
    }
}
