import Testing
@testable import USBIP

func be32(_ b: [UInt8], _ at: Int) -> UInt32 { b[at..<at + 4].reduce(0) { $0 << 8 | UInt32($1) } }
func be16(_ b: [UInt8], _ at: Int) -> UInt16 { UInt16(b[at]) << 8 | UInt16(b[at + 1]) }
func u32(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8(v >> 16 & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v & 0xFF)] }

let record = USBIPDeviceRecord(
    path: "/sys/devices/platform/vfido/usb1/1-1", busid: "1-1", busnum: 1, devnum: 1, speed: 2, vendorId: 0x1209,
    productId: 0x0001, bcdDevice: 0x0100, deviceClass: 0, deviceSubClass: 0, deviceProtocol: 0, configurationValue: 1,
    numConfigurations: 1, interfaces: [(3, 0, 0)])

/// Builds a CMD_SUBMIT exactly as usbip_protocol.rst lays it out.
func cmdSubmit(seqnum: UInt32, direction: UInt32, ep: UInt32, length: UInt32, setup: [UInt8] = [0, 0, 0, 0, 0, 0, 0, 0],
               data: [UInt8] = [], packets: UInt32 = 0) -> [UInt8] {
    u32(1) + u32(seqnum) + u32(0x0001_0001) + u32(direction) + u32(ep)
        + u32(0) + u32(length) + u32(0) + u32(packets) + u32(0) + setup + data
}

func cmdUnlink(seqnum: UInt32, victim: UInt32) -> [UInt8] {
    u32(2) + u32(seqnum) + u32(0x0001_0001) + u32(0) + u32(1) + u32(victim) + [UInt8](repeating: 0, count: 24)
}

@Suite struct OperationMessages {
    @Test func devlistRequestIsEightBytes() throws {
        let bytes: [UInt8] = [0x01, 0x11, 0x80, 0x05, 0, 0, 0, 0]
        let (request, consumed) = try #require(try USBIPDecoder.decode(bytes[...], phase: .operation))
        #expect(request == .deviceList)
        #expect(consumed == 8)
    }

    @Test func devlistReplyHas312BytesPerDevicePlus4PerInterface() {
        let reply = USBIPReply.deviceList([record, record])
        #expect(reply.count == 12 + 2 * (312 + 4))
        #expect(Array(reply[0..<4]) == [0x01, 0x11, 0x00, 0x05])
        #expect(be32(reply, 4) == 0)  // status
        #expect(be32(reply, 8) == 2)  // number of devices
        let d = Array(reply[12...])
        #expect(String(decoding: d[0..<256].prefix { $0 != 0 }, as: UTF8.self) == record.path)
        #expect(String(decoding: d[256..<288].prefix { $0 != 0 }, as: UTF8.self) == "1-1")
        #expect(be32(d, 288) == 1)        // busnum
        #expect(be32(d, 292) == 1)        // devnum
        #expect(be32(d, 296) == 2)        // speed: full
        #expect(be16(d, 300) == 0x1209)   // idVendor
        #expect(be16(d, 302) == 0x0001)   // idProduct
        #expect(be16(d, 304) == 0x0100)   // bcdDevice
        #expect(Array(d[306..<312]) == [0, 0, 0, 1, 1, 1])  // class, subclass, protocol, bConfigurationValue >= 1, nconfigs, nifaces
        #expect(Array(d[312..<316]) == [3, 0, 0, 0])        // interface: HID, padding
    }

    @Test func importRequestCarriesA32ByteBusid() throws {
        let busid = Array("1-2".utf8) + [UInt8](repeating: 0, count: 29)
        let bytes: [UInt8] = [0x01, 0x11, 0x80, 0x03, 0, 0, 0, 0] + busid
        #expect(try USBIPDecoder.decode(bytes[...], phase: .operation)! == (.importDevice(busid: "1-2"), 40))
        for n in 0..<bytes.count { #expect(try USBIPDecoder.decode(bytes.prefix(n), phase: .operation) == nil) }
    }

    @Test func importReplyIsTheRecordWithoutInterfaces() {
        let ok = USBIPReply.importDevice(.ok, record)
        #expect(ok.count == 8 + 312)
        #expect(Array(ok[0..<8]) == [0x01, 0x11, 0x00, 0x03, 0, 0, 0, 0])
        #expect(Array(ok[8...]) == record.encoded(withInterfaces: false))
        #expect(USBIPReply.importDevice(.noSuchDevice, nil) == [0x01, 0x11, 0x00, 0x03, 0, 0, 0, 4])
        #expect(USBIPReply.importDevice(.deviceBusy, record) == [0x01, 0x11, 0x00, 0x03, 0, 0, 0, 2])
    }

    @Test func anotherProtocolVersionIsRefused() throws {
        // An OP_REQ_IMPORT for bus id 1-1, but announcing version 0x0999 (or 1.0.6).
        for version: [UInt8] in [[0x09, 0x99], [0x01, 0x06], [0x00, 0x00]] {
            let request = version + [0x80, 0x03, 0, 0, 0, 0] + Array("1-1".utf8) + [UInt8](repeating: 0, count: 29)
            #expect(throws: USBIPProtocolError.unsupportedVersion(UInt16(version[0]) << 8 | UInt16(version[1]))) {
                try USBIPDecoder.decode(request[...], phase: .operation)
            }
        }
        let good = [0x01, 0x11, 0x80, 0x03, 0, 0, 0, 0] + Array("1-1".utf8) + [UInt8](repeating: 0, count: 29)
        let decoded = try USBIPDecoder.decode(good[...], phase: .operation)
        #expect(decoded?.0 == .importDevice(busid: "1-1"))
    }

    @Test func unknownOperationIsAnError() {
        #expect(throws: USBIPProtocolError.unknownOperation(code: 0x8099)) {
            try USBIPDecoder.decode([0x01, 0x11, 0x80, 0x99, 0, 0, 0, 0][...], phase: .operation)
        }
    }
}

@Suite struct URBMessages {
    @Test func submitOutCarriesItsData() throws {
        let data = (0..<64).map { UInt8($0) }
        let bytes = cmdSubmit(seqnum: 7, direction: 0, ep: 1, length: 64, data: data)
        #expect(bytes.count == 48 + 64)
        let (request, consumed) = try #require(try USBIPDecoder.decode(bytes[...], phase: .urb))
        #expect(consumed == 112)
        guard case .submit(let s) = request else { Issue.record("not a submit"); return }
        #expect(s.seqnum == 7 && s.devid == 0x0001_0001 && s.direction == .out && s.endpoint == 1)
        #expect(s.transferBufferLength == 64 && s.data == data)
    }

    @Test func submitInHasNoData() throws {
        let setup: [UInt8] = [0x80, 0x06, 0x00, 0x01, 0x00, 0x00, 0x12, 0x00]
        let bytes = cmdSubmit(seqnum: 1, direction: 1, ep: 0, length: 18, setup: setup)
        let (request, consumed) = try #require(try USBIPDecoder.decode(bytes[...], phase: .urb))
        #expect(consumed == 48)
        guard case .submit(let s) = request else { Issue.record("not a submit"); return }
        #expect(s.setup == setup && s.data.isEmpty)
        #expect(SetupPacket(s.setup) == SetupPacket(requestType: 0x80, request: 6, value: 0x0100, index: 0, length: 18))
    }

    @Test func dripFedAndBatched() throws {
        let one = cmdSubmit(seqnum: 1, direction: 0, ep: 1, length: 64, data: [UInt8](repeating: 9, count: 64))
        let two = cmdUnlink(seqnum: 2, victim: 1)
        for n in 0..<one.count { #expect(try USBIPDecoder.decode(one.prefix(n), phase: .urb) == nil) }
        let both = one + two
        let (_, first) = try #require(try USBIPDecoder.decode(both[...], phase: .urb))
        #expect(first == one.count)
        let (second, used) = try #require(try USBIPDecoder.decode(both[first...], phase: .urb))
        #expect(used == 48)
        #expect(second == .unlink(USBIPUnlink(seqnum: 2, devid: 0x0001_0001, direction: .out, endpoint: 1, unlinkSeqnum: 1)))
    }

    @Test func isoDescriptorsAreConsumed() throws {
        let bytes = cmdSubmit(seqnum: 1, direction: 1, ep: 2, length: 0, packets: 2) + [UInt8](repeating: 0, count: 32)
        let (_, consumed) = try #require(try USBIPDecoder.decode(bytes[...], phase: .urb))
        #expect(consumed == 80)
        // 0xFFFFFFFF means "not isochronous".
        let plain = cmdSubmit(seqnum: 1, direction: 1, ep: 1, length: 64, packets: 0xFFFF_FFFF)
        #expect(try USBIPDecoder.decode(plain[...], phase: .urb)?.consumed == 48)
    }

    @Test func garbageIsRefusedBeforeAnythingIsAllocated() {
        #expect(throws: USBIPProtocolError.unknownCommand(9)) {
            try USBIPDecoder.decode((u32(9) + [UInt8](repeating: 0, count: 44))[...], phase: .urb)
        }
        #expect(throws: USBIPProtocolError.invalidDirection(5)) {
            try USBIPDecoder.decode((u32(1) + u32(1) + u32(1) + u32(5) + u32(1) + [UInt8](repeating: 0, count: 28))[...], phase: .urb)
        }
        #expect(throws: USBIPProtocolError.transferTooLong(0xFFFF_FFF0)) {
            try USBIPDecoder.decode(cmdSubmit(seqnum: 1, direction: 0, ep: 1, length: 0xFFFF_FFF0)[...], phase: .urb)
        }
        #expect(throws: USBIPProtocolError.tooManyIsoPackets(100_000)) {
            try USBIPDecoder.decode(cmdSubmit(seqnum: 1, direction: 1, ep: 1, length: 0, packets: 100_000)[...], phase: .urb)
        }
    }

    @Test func retSubmitLayout() {
        let reply = USBIPReply.submit(seqnum: 0x0102_0304, status: -32, actualLength: 3, data: [7, 8, 9])
        #expect(reply.count == 48 + 3)
        #expect(be32(reply, 0) == 3)               // USBIP_RET_SUBMIT
        #expect(be32(reply, 4) == 0x0102_0304)     // seqnum
        #expect(Array(reply[8..<20]) == [UInt8](repeating: 0, count: 12))  // devid, direction, ep: 0
        #expect(be32(reply, 20) == UInt32(bitPattern: -32))  // status: -EPIPE
        #expect(be32(reply, 24) == 3)              // actual_length
        #expect(Array(reply[28..<48]) == [UInt8](repeating: 0, count: 20))  // start_frame, packets, errors, padding
        #expect(Array(reply[48...]) == [7, 8, 9])
    }

    @Test func retUnlinkLayout() {
        let reply = USBIPReply.unlink(seqnum: 5, status: -104)
        #expect(reply.count == 48)
        #expect(be32(reply, 0) == 4)
        #expect(be32(reply, 4) == 5)
        #expect(be32(reply, 20) == UInt32(bitPattern: -104))  // -ECONNRESET
        #expect(reply[24...].allSatisfy { $0 == 0 })
    }
}

@Suite struct HIDFunction {
    let device = USBHIDDevice(
        identity: USBDeviceIdentity(vendorId: 0x1209, productId: 0x0001, manufacturer: "vfido", product: "Key", serialNumber: "AB12"),
        reportDescriptor: [0x06, 0xD0, 0xF1, 0xC0], onOutputReport: { _ in })

    @Test func descriptorsAreTruncatedToWLength() {
        #expect(device.control(SetupPacket(requestType: 0x80, request: 6, value: 0x0100, index: 0, length: 8), data: []) ==
            .data(Array(device.deviceDescriptor.prefix(8))))
        let config = device.control(SetupPacket(requestType: 0x80, request: 6, value: 0x0200, index: 0, length: 9), data: [])
        #expect(config == .data(Array(device.configurationDescriptor.prefix(9))))
        #expect(device.configurationDescriptor.count == 41)
        #expect(device.configurationDescriptor[2] == 41)   // wTotalLength
        #expect(device.configurationDescriptor[5] == 1)    // bConfigurationValue
    }

    @Test func deviceDescriptorCarriesTheIdentity() {
        let d = device.deviceDescriptor
        #expect(d.count == 18 && d[0] == 18 && d[1] == 1)
        #expect(Array(d[8..<12]) == [0x09, 0x12, 0x01, 0x00])  // VID 1209, PID 0001, little endian
        #expect(Array(d[14..<18]) == [1, 2, 3, 1])             // strings and one configuration
    }

    @Test func stringsAreUTF16LE() {
        #expect(device.control(SetupPacket(requestType: 0x80, request: 6, value: 0x0300, index: 0, length: 255), data: []) == .data([4, 3, 0x09, 0x04]))
        #expect(device.control(SetupPacket(requestType: 0x80, request: 6, value: 0x0303, index: 0x0409, length: 255), data: []) ==
            .data([10, 3, 0x41, 0, 0x42, 0, 0x31, 0, 0x32, 0]))
        #expect(device.control(SetupPacket(requestType: 0x80, request: 6, value: 0x0309, index: 0x0409, length: 255), data: []) == .stall)
    }

    @Test func hidRequests() {
        #expect(device.control(SetupPacket(requestType: 0x81, request: 6, value: 0x2200, index: 0, length: 100), data: []) ==
            .data([0x06, 0xD0, 0xF1, 0xC0]))
        #expect(device.control(SetupPacket(requestType: 0x81, request: 6, value: 0x2100, index: 0, length: 9), data: []) ==
            .data([9, 0x21, 0x11, 0x01, 0, 1, 0x22, 4, 0]))
        #expect(device.control(SetupPacket(requestType: 0x21, request: 0x0A, value: 0, index: 0, length: 0), data: []) == .data([]))
        #expect(device.control(SetupPacket(requestType: 0x00, request: 9, value: 1, index: 0, length: 0), data: []) == .data([]))
        #expect(device.control(SetupPacket(requestType: 0x80, request: 8, value: 0, index: 0, length: 1), data: []) == .data([1]))
        #expect(device.control(SetupPacket(requestType: 0x80, request: 6, value: 0x0600, index: 0, length: 10), data: []) == .stall)
        #expect(device.control(SetupPacket(requestType: 0x40, request: 0x55, value: 0, index: 0, length: 0), data: []) == .stall)
    }
}
