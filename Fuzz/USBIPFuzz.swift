// libFuzzer target for what a USB/IP client controls (built with Sources/USBIP's protocol codec
// and USB HID function by `make fuzz`): the byte stream of one connection, decoded message by
// message as the server does (operations until an import, URBs after), with every control
// transfer handed to the HID function and every interrupt OUT delivered.
// Invariants: nothing traps; a decoded message consumes at least its header and no more than
// the bytes there; it decodes the same from exactly its own bytes and not from one byte fewer
// (no look-ahead, nothing consumed early); a control transfer never answers more than the
// host asked for; a decode error ends the stream (the server closes that connection).
let identity = USBDeviceIdentity(vendorId: 0x1209, productId: 0x0001, manufacturer: "vfido", product: "fuzz",
                                 serialNumber: "0123456789ABCDEF")
// The FIDO report descriptor's shape: usage page 0xF1D0, 64-byte input and output reports.
let descriptor: [UInt8] = [0x06, 0xD0, 0xF1, 0x09, 0x01, 0xA1, 0x01, 0x09, 0x20, 0x15, 0x00, 0x26, 0xFF, 0x00,
                           0x75, 0x08, 0x95, 0x40, 0x81, 0x02, 0x09, 0x21, 0x15, 0x00, 0x26, 0xFF, 0x00, 0x75,
                           0x08, 0x95, 0x40, 0x91, 0x02, 0xC0]

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzUSBIP(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let input = Array(UnsafeBufferPointer(start: data, count: size))
    guard let first = input.first else { return 0 }
    let device = USBHIDDevice(identity: identity, reportDescriptor: descriptor) { report in
        precondition(report.count <= Int(USBIP.maxTransferLength), "an output report longer than any transfer")
    }
    // The first byte picks where the connection starts: before or after an import.
    var phase: USBIPPhase = first & 1 == 0 ? .operation : .urb
    var stream = input.dropFirst()
    while !stream.isEmpty {
        let decoded: (USBIPRequest, consumed: Int)?
        do {
            decoded = try USBIPDecoder.decode(stream, phase: phase)
        } catch {
            return 0
        }
        guard let (request, consumed) = decoded else { return 0 }  // waits for more bytes
        precondition(consumed >= 8 && consumed <= stream.count, "consumed \(consumed) of \(stream.count)")
        let own = stream.prefix(consumed)
        guard let again = try? USBIPDecoder.decode(own, phase: phase), again.0 == request, again.consumed == consumed else {
            preconditionFailure("the message does not decode the same from its own bytes")
        }
        do {
            let early = try USBIPDecoder.decode(own.dropLast(), phase: phase)
            precondition(early == nil, "a message decoded from one byte fewer than it consumed")
        } catch {
            preconditionFailure("one byte fewer throws \(error), though the whole message decodes")
        }
        stream = stream.dropFirst(consumed)

        switch request {
        case .deviceList:
            break
        case .importDevice:
            phase = .urb
        case .submit(let submit):
            if submit.endpoint == 0, submit.setup.count == 8 {
                let setup = SetupPacket(submit.setup)
                if case .data(let reply) = device.control(setup, data: submit.data) {
                    precondition(reply.count <= Int(setup.length), "answered \(reply.count) bytes to a request for \(setup.length)")
                }
            } else if submit.direction == .out {
                device.interruptOut(endpoint: UInt8(truncatingIfNeeded: submit.endpoint), data: submit.data)
            }
        case .unlink:
            break
        }
    }
    return 0
}
