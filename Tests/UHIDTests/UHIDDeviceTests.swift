import Foundation
import Testing
@testable import UHID

/// destroy() with the reader blocked: it must wake the reader and wait for it before closing
/// the descriptor (a FIFO stands in for /dev/uhid: it takes the CREATE2 write and then blocks
/// the reader as the kernel would until an event comes).
@Suite struct UHIDDeviceLifecycle {
    @Test func destroyWakesTheBlockedReaderBeforeClosing() throws {
        let fifo = FileManager.default.temporaryDirectory.appendingPathComponent("uhid-\(UUID().uuidString)").path
        #expect(mkfifo(fifo, 0o600) == 0)
        defer { unlink(fifo) }
        let drain = open(fifo, O_RDWR | O_NONBLOCK)
        defer { close(drain) }
        let identity = UHIDDevice.Identity(name: "test", phys: "", uniq: "", vendor: 1, product: 2, version: 0)
        let device = try UHIDDevice(path: fifo, identity: identity, reportDescriptor: [0x06, 0xD0, 0xF1], reportSize: 64)
        var buffer = [UInt8](repeating: 0, count: UHID.eventSize)
        #expect(read(drain, &buffer, buffer.count) == UHID.eventSize)  // the CREATE2, so the reader finds nothing
        device.run(onOutputReport: { _ in }, onEvent: { _ in })
        let finished = DispatchSemaphore(value: 0)
        Thread { device.destroy(); finished.signal() }.start()
        #expect(finished.wait(timeout: .now() + 60) == .success, "destroy() returns")
        #expect(device.readerHasExited, "the reader left before the descriptor was closed")
    }
}
