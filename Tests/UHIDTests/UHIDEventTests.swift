import Testing
@testable import UHID

func le16(_ v: UInt16) -> [UInt8] { [UInt8(v & 0xFF), UInt8(v >> 8)] }
func le32(_ v: UInt32) -> [UInt8] { [UInt8(v & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v >> 16 & 0xFF), UInt8(v >> 24)] }
func padded(_ b: [UInt8]) -> [UInt8] { b + [UInt8](repeating: 0, count: UHID.eventSize - b.count) }

/// Offsets from linux/uhid.h: struct uhid_event { __u32 type; union { ... } u; } __packed.
@Suite struct UHIDLayout {
    @Test func everyEventIsTheSizeOfTheUnion() {
        #expect(UHID.eventSize == 4376)
        #expect(UHIDOutgoingEvent.destroy.bytes.count == 4376)
        #expect(UHIDOutgoingEvent.input2(data: [1]).bytes.count == 4376)
    }

    @Test func create2Layout() {
        let rd: [UInt8] = [0x06, 0xD0, 0xF1, 0xC0]
        let b = UHIDOutgoingEvent.create2(name: "vfido key", phys: "vfido/key-1", uniq: "ABC123", bus: 3, vendor: 0x1209,
                                          product: 0x0001, version: 0x0100, country: 0, reportDescriptor: rd).bytes
        #expect(Array(b[0..<4]) == le32(11))                                     // UHID_CREATE2
        #expect(Array(b[4..<13]) == Array("vfido key".utf8) && b[13] == 0)      // name[128]
        #expect(Array(b[132..<143]) == Array("vfido/key-1".utf8))               // phys[64] at 4+128
        #expect(Array(b[196..<202]) == Array("ABC123".utf8))                    // uniq[64] at 4+192
        #expect(Array(b[260..<262]) == le16(4))                                  // rd_size
        #expect(Array(b[262..<264]) == le16(3))                                  // bus: BUS_USB
        #expect(Array(b[264..<268]) == le32(0x1209))                             // vendor
        #expect(Array(b[268..<272]) == le32(0x0001))                             // product
        #expect(Array(b[272..<276]) == le32(0x0100))                             // version
        #expect(Array(b[276..<280]) == le32(0))                                  // country
        #expect(Array(b[280..<284]) == rd)                                       // rd_data[4096]
    }

    @Test func input2Layout() {
        let b = UHIDOutgoingEvent.input2(data: [9, 8, 7]).bytes
        #expect(Array(b[0..<4]) == le32(12))
        #expect(Array(b[4..<6]) == le16(3))
        #expect(Array(b[6..<9]) == [9, 8, 7])
    }

    @Test func replies() {
        let get = UHIDOutgoingEvent.getReportReply(id: 7, error: 5, data: []).bytes
        #expect(Array(get[0..<12]) == le32(10) + le32(7) + le16(5) + le16(0))
        let set = UHIDOutgoingEvent.setReportReply(id: 8, error: 5).bytes
        #expect(Array(set[0..<10]) == le32(14) + le32(8) + le16(5))
    }

    @Test func outputEventKeepsTheReportIDByte() {
        // struct uhid_output_req { __u8 data[4096]; __u16 size; __u8 rtype; }
        let report = [0] + [UInt8](repeating: 0xAB, count: 64)
        var body = report + [UInt8](repeating: 0, count: 4096 - report.count)
        body += le16(65) + [1]
        #expect(UHIDIncomingEvent(padded(le32(6) + body)) == .output(data: report, reportType: 1))
    }

    @Test func controlEvents() {
        #expect(UHIDIncomingEvent(padded(le32(2))) == .start)
        #expect(UHIDIncomingEvent(padded(le32(3))) == .stop)
        #expect(UHIDIncomingEvent(padded(le32(4))) == .open)
        #expect(UHIDIncomingEvent(padded(le32(5))) == .close)
        #expect(UHIDIncomingEvent(padded(le32(9) + le32(77) + [2, 1])) == .getReport(id: 77, reportNumber: 2, reportType: 1))
        #expect(UHIDIncomingEvent(padded(le32(13) + le32(5) + [0, 2] + le16(2) + [7, 7])) ==
            .setReport(id: 5, reportNumber: 0, reportType: 2, data: [7, 7]))
        #expect(UHIDIncomingEvent(padded(le32(99))) == .unknown(type: 99))
        #expect(UHIDIncomingEvent([1, 2]) == nil)
    }

    @Test func oversizedLengthsAreClamped() {
        var body = [UInt8](repeating: 1, count: 4096) + le16(0xFFFF) + [0]
        if case .output(let data, _) = UHIDIncomingEvent(padded(le32(6) + body)) { #expect(data.count == 4096) } else {
            Issue.record("not an output event")
        }
        body = le32(1) + [0, 0] + le16(0xFFFF)
        if case .setReport(_, _, _, let data) = UHIDIncomingEvent(le32(13) + body + [1, 2, 3]) { #expect(data == [1, 2, 3]) } else {
            Issue.record("not a set-report event")
        }
    }

    @Test func uniqIsForcedToPrintableASCII() {
        let identity = UHIDDevice.Identity(name: "n", phys: "p", uniq: "AB\u{0}\u{7f}é12", vendor: 1, product: 2, version: 3)
        #expect(identity.uniq == "AB12")
    }
}
