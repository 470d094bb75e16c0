import Foundation
#if canImport(Bytes)  // the fuzz targets compile Sources/Bytes into their own module
import Bytes
#endif

/// A USB HID function with one interrupt IN and one interrupt OUT endpoint (endpoint 1 each
/// way), fixed-size reports and no report IDs: the shape of a FIDO security key, though this
/// type knows nothing of FIDO. The report descriptor and report size come from the caller.
public final class USBHIDDevice: USBDevice, @unchecked Sendable {
    public let identity: USBDeviceIdentity
    public let reportDescriptor: [UInt8]
    public let reportSize: Int
    public let speed = USBSpeed.full
    public let deviceClass: (UInt8, UInt8, UInt8) = (0, 0, 0)
    public let configurationValue: UInt8 = 1
    public let interfaces: [(UInt8, UInt8, UInt8)] = [(0x03, 0x00, 0x00)]
    public let interruptInEndpoints: Set<UInt8> = [1]
    public let interruptOutEndpoints: Set<UInt8> = [1]

    /// Called with every output report the host sends (interrupt OUT or SET_REPORT).
    let onOutputReport: @Sendable ([UInt8]) -> Void
    private let lock = NSLock()
    private var input: (@Sendable (UInt8, [UInt8]) -> Void)?
    private var configuration: UInt8 = 0

    let inFaults: (@Sendable ([UInt8]) -> INCompletionFault?)?

    public init(identity: USBDeviceIdentity, reportDescriptor: [UInt8], reportSize: Int = 64,
                inFaults: (@Sendable ([UInt8]) -> INCompletionFault?)? = nil,
                onOutputReport: @escaping @Sendable ([UInt8]) -> Void) {
        self.inFaults = inFaults
        self.identity = identity
        self.reportDescriptor = reportDescriptor
        self.reportSize = reportSize
        self.onOutputReport = onOutputReport
    }

    /// Sends an input report to the host, if one is attached; dropped otherwise, as a real
    /// device's reports are when nobody is listening.
    public func sendInputReport(_ report: [UInt8]) {
        lock.lock()
        let input = self.input
        lock.unlock()
        input?(1, report)
    }

    public var isAttached: Bool {
        lock.lock()
        defer { lock.unlock() }
        return input != nil
    }

    public func connect(input: @escaping @Sendable (UInt8, [UInt8]) -> Void) {
        lock.lock()
        self.input = input
        configuration = 0
        lock.unlock()
    }

    public func disconnect() {
        lock.lock()
        input = nil
        lock.unlock()
    }

    public func inFault(for data: [UInt8]) -> INCompletionFault? { inFaults?(data) }

    public func interruptOut(endpoint: UInt8, data: [UInt8]) {
        onOutputReport(data)
    }

    // MARK: - Descriptors (USB 2.0 §9.6, HID 1.11 §6.2)

    public var deviceDescriptor: [UInt8] {
        [18, 0x01, 0x00, 0x02, deviceClass.0, deviceClass.1, deviceClass.2, 64]
            + identity.vendorId.littleEndianBytes + identity.productId.littleEndianBytes + identity.bcdDevice.littleEndianBytes
            + [1, 2, 3, 1]
    }

    var hidDescriptor: [UInt8] {
        [9, 0x21, 0x11, 0x01, 0x00, 1, 0x22] + UInt16(reportDescriptor.count).littleEndianBytes
    }

    /// Configuration, interface, HID and the two endpoint descriptors, as GET_DESCRIPTOR returns them.
    public var configurationDescriptor: [UInt8] {
        let size = UInt16(reportSize)
        let interface: [UInt8] = [9, 0x04, 0, 0, 2, interfaces[0].0, interfaces[0].1, interfaces[0].2, 0]
        let endpointIn: [UInt8] = [7, 0x05, 0x81, 0x03] + size.littleEndianBytes + [5]
        let endpointOut: [UInt8] = [7, 0x05, 0x01, 0x03] + size.littleEndianBytes + [5]
        let body = interface + hidDescriptor + endpointIn + endpointOut
        let total = UInt16(9 + body.count)
        return [9, 0x02] + total.littleEndianBytes + [1, configurationValue, 0, 0x80, 50] + body
    }

    func stringDescriptor(_ index: UInt8) -> [UInt8]? {
        let text: String
        switch index {
        case 0: return [4, 0x03, 0x09, 0x04]  // English (US)
        case 1: text = identity.manufacturer
        case 2: text = identity.product
        case 3: text = identity.serialNumber
        default: return nil
        }
        let utf16 = Array(text.utf16.prefix(126))
        return [UInt8(2 + 2 * utf16.count), 0x03] + utf16.flatMap(\.littleEndianBytes)
    }

    // MARK: - Control requests

    public func control(_ setup: SetupPacket, data: [UInt8]) -> ControlOutcome {
        guard let outcome = answer(setup, data: data) else { return .stall }
        if case .data(let bytes) = outcome { return .data(Array(bytes.prefix(Int(setup.length)))) }
        return outcome
    }

    private func answer(_ setup: SetupPacket, data: [UInt8]) -> ControlOutcome? {
        switch (setup.requestType, setup.request) {
        // Standard, to the device.
        case (0x80, 0x06):  // GET_DESCRIPTOR
            switch setup.descriptorType {
            case 0x01: return .data(deviceDescriptor)
            case 0x02 where setup.descriptorIndex == 0: return .data(configurationDescriptor)
            case 0x03: return stringDescriptor(setup.descriptorIndex).map(ControlOutcome.data)
            default: return nil  // device qualifier, BOS, ...: a full-speed USB 2.0 device stalls them
            }
        case (0x80, 0x00): return .data([0x00, 0x00])  // GET_STATUS: bus powered, no remote wakeup
        case (0x80, 0x08):  // GET_CONFIGURATION
            lock.lock()
            defer { lock.unlock() }
            return .data([configuration])
        case (0x00, 0x09):  // SET_CONFIGURATION
            guard setup.value == 0 || setup.value == UInt16(configurationValue) else { return nil }
            lock.lock()
            configuration = UInt8(setup.value)
            lock.unlock()
            return .data([])
        case (0x00, 0x01), (0x00, 0x03): return .data([])  // CLEAR_FEATURE / SET_FEATURE (remote wakeup)
        // Standard, to the interface.
        case (0x81, 0x06):
            guard setup.index == 0 else { return nil }
            switch setup.descriptorType {
            case 0x22: return .data(reportDescriptor)
            case 0x21: return .data(hidDescriptor)
            default: return nil
            }
        case (0x81, 0x00): return .data([0x00, 0x00])
        case (0x81, 0x0A): return .data([0x00])  // GET_INTERFACE
        case (0x01, 0x0B): return setup.value == 0 ? .data([]) : nil  // SET_INTERFACE: only alternate setting 0
        // Standard, to an endpoint.
        case (0x82, 0x00): return .data([0x00, 0x00])
        case (0x02, 0x01), (0x02, 0x03): return .data([])  // CLEAR_FEATURE(ENDPOINT_HALT) / SET_FEATURE
        // HID class requests to the interface (HID 1.11 §7.2).
        case (0x21, 0x0A): return .data([])  // SET_IDLE
        case (0x21, 0x0B): return .data([])  // SET_PROTOCOL
        case (0x21, 0x09):  // SET_REPORT (output): the same path as an interrupt OUT transfer
            onOutputReport(data)
            return .data([])
        case (0xA1, 0x01): return .data([UInt8](repeating: 0, count: reportSize))  // GET_REPORT
        case (0xA1, 0x02): return .data([0x00])  // GET_IDLE: indefinite
        case (0xA1, 0x03): return .data([0x01])  // GET_PROTOCOL: report protocol
        default: return nil
        }
    }
}
