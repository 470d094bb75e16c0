#if canImport(Bytes)  // the fuzz targets compile Sources/Bytes into their own module
import Bytes
#endif

/// A USB device as a USB/IP server exports it: descriptors and request handling, nothing about
/// what the device is for.

/// The 8-byte SETUP packet of a control transfer (USB 2.0 §9.3), little endian.
public struct SetupPacket: Equatable, Sendable {
    public var requestType: UInt8
    public var request: UInt8
    public var value: UInt16
    public var index: UInt16
    public var length: UInt16

    public init(requestType: UInt8, request: UInt8, value: UInt16, index: UInt16, length: UInt16) {
        self.requestType = requestType
        self.request = request
        self.value = value
        self.index = index
        self.length = length
    }

    public init(_ bytes: [UInt8]) {
        precondition(bytes.count == 8)
        requestType = bytes[0]
        request = bytes[1]
        value = UInt16(littleEndianBytes: bytes[2..<4])
        index = UInt16(littleEndianBytes: bytes[4..<6])
        length = UInt16(littleEndianBytes: bytes[6..<8])
    }

    public var bytes: [UInt8] {
        [requestType, request] + value.littleEndianBytes + index.littleEndianBytes + length.littleEndianBytes
    }

    public var descriptorType: UInt8 { UInt8(value >> 8) }
    public var descriptorIndex: UInt8 { UInt8(value & 0xFF) }
}

/// How a control transfer ends: with data (possibly none) or a STALL (-EPIPE).
public enum ControlOutcome: Equatable, Sendable {
    case data([UInt8])
    case stall
}

public enum USBSpeed: UInt32, Sendable {
    case low = 1, full = 2, high = 3
}

/// Identity strings and numbers of a device.
public struct USBDeviceIdentity: Sendable, Equatable {
    public var vendorId: UInt16
    public var productId: UInt16
    public var bcdDevice: UInt16
    public var manufacturer: String
    public var product: String
    public var serialNumber: String

    public init(vendorId: UInt16, productId: UInt16, bcdDevice: UInt16 = 0x0100, manufacturer: String, product: String, serialNumber: String) {
        self.vendorId = vendorId
        self.productId = productId
        self.bcdDevice = bcdDevice
        self.manufacturer = manufacturer
        self.product = product
        self.serialNumber = serialNumber
    }
}

/// What the server needs from a device.
public protocol USBDevice: AnyObject, Sendable {
    var identity: USBDeviceIdentity { get }
    var speed: USBSpeed { get }
    var deviceClass: (UInt8, UInt8, UInt8) { get }
    var configurationValue: UInt8 { get }
    var interfaces: [(UInt8, UInt8, UInt8)] { get }
    /// Endpoint numbers (without the direction bit) of the interrupt endpoints.
    var interruptInEndpoints: Set<UInt8> { get }
    var interruptOutEndpoints: Set<UInt8> { get }

    /// A control transfer on endpoint 0; `data` is the OUT data stage.
    func control(_ setup: SetupPacket, data: [UInt8]) -> ControlOutcome
    /// Data the host wrote to an interrupt OUT endpoint.
    func interruptOut(endpoint: UInt8, data: [UInt8])
    /// The host attached: the device sends interrupt IN data through `input` from now on.
    func connect(input: @escaping @Sendable (_ endpoint: UInt8, _ data: [UInt8]) -> Void)
    /// The host detached (or the connection dropped).
    func disconnect()
    /// A falsified completion for the IN URB that carries `data` (fault injection), or nil.
    func inFault(for data: [UInt8]) -> INCompletionFault?
}

extension USBDevice {
    public func inFault(for data: [UInt8]) -> INCompletionFault? { nil }
}

/// How an interrupt IN completion can be falsified, to test a host's USB/IP parser.
public enum INCompletionFault: Sendable, Equatable {
    /// actual_length (and the data) cut to this many bytes.
    case shortLength(Int)
    /// These bytes appended: actual_length past the URB's transfer buffer.
    case longLength(extra: [UInt8])
    /// -EPIPE; the report is lost.
    case stall
}
