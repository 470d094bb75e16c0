import Foundation
import Logging
import NIOPosix
import Testing
@testable import USBIP
#if canImport(Glibc)
import Glibc
#endif

/// A blocking TCP client speaking raw USB/IP bytes.
final class TCPClient {
    let fd: Int32
    /// Direction of every CMD_SUBMIT sent, by seqnum: only IN replies carry data.
    var directions: [UInt32: UInt32] = [:]

    init(port: Int) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let rc = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard rc == 0 else { throw POSIXError(.ECONNREFUSED) }
        var timeout = timeval(tv_sec: 0, tv_usec: 300_000)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    deinit { close(fd) }

    func send(_ bytes: [UInt8]) {
        if bytes.count >= 48, be32(bytes, 0) == 1 { directions[be32(bytes, 4)] = be32(bytes, 12) }
        _ = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    }

    /// Exactly `count` bytes, or nil on timeout or EOF.
    func read(_ count: Int, timeout: Double = 3) -> [UInt8]? {
        var out: [UInt8] = []
        let deadline = Date().addingTimeInterval(timeout)
        while out.count < count && Date() < deadline {
            var buffer = [UInt8](repeating: 0, count: count - out.count)
            let n = recv(fd, &buffer, buffer.count, 0)
            if n == 0 { return nil }
            if n > 0 { out += buffer.prefix(n) }
        }
        return out.count == count ? out : nil
    }

    /// True if the server closed the connection.
    func isClosed() -> Bool {
        var byte: UInt8 = 0
        for _ in 0..<10 {
            let n = recv(fd, &byte, 1, 0)
            if n == 0 { return true }
            if n < 0 && errno != EAGAIN && errno != EWOULDBLOCK { return true }
        }
        return false
    }

    func importDevice(_ busid: String) -> [UInt8]? {
        send([0x01, 0x11, 0x80, 0x03, 0, 0, 0, 0] + Array(busid.utf8) + [UInt8](repeating: 0, count: 32 - busid.utf8.count))
        guard let head = read(8) else { return nil }
        return be32(head, 4) == 0 ? head + (read(312) ?? []) : head
    }

    /// Reads one RET_SUBMIT or RET_UNLINK: (command, seqnum, status, data).
    func readReply(timeout: Double = 3) -> (UInt32, UInt32, Int32, [UInt8])? {
        guard let head = read(48, timeout: timeout) else { return nil }
        let command = be32(head, 0)
        let length = command == 3 && directions[be32(head, 4)] == 1 ? Int(be32(head, 24)) : 0
        let data = command == 3 && length > 0 ? (read(length) ?? []) : []
        return (command, be32(head, 4), Int32(bitPattern: be32(head, 20)), data)
    }
}

/// A HID device that answers every output report with the same report reversed.
func echoDevice(inFaults: (@Sendable ([UInt8]) -> INCompletionFault?)? = nil) -> USBHIDDevice {
    let box = DeviceBox()
    let device = USBHIDDevice(
        identity: USBDeviceIdentity(vendorId: 0x1209, productId: 0x0001, manufacturer: "t", product: "t", serialNumber: "1"),
        reportDescriptor: [0xC0], inFaults: inFaults, onOutputReport: { report in box.device?.sendInputReport(report.reversed()) })
    box.device = device
    return device
}

final class DeviceBox: @unchecked Sendable { weak var device: USBHIDDevice? }

struct ServerFixture {
    let server: USBIPServer
    let port: Int
    let devices: [USBHIDDevice]

    static func start(keys: Int = 2, maxConnections: Int = USBIPServer.defaultMaxConnections,
                      inFaults: (@Sendable ([UInt8]) -> INCompletionFault?)? = nil) async throws -> ServerFixture {
        let devices = (0..<keys).map { _ in echoDevice(inFaults: inFaults) }
        let server = try await USBIPServer.start(
            host: "127.0.0.1", port: 0, exports: devices.enumerated().map { USBIPExport(devnum: UInt32($0.offset + 1), device: $0.element) },
            group: MultiThreadedEventLoopGroup.singleton, maxConnections: maxConnections, logger: Logger(label: "usbip-test"))
        return ServerFixture(server: server, port: server.localAddress!.port!, devices: devices)
    }
}

@Suite(.serialized) struct ServerTests {
    @Test func connectionsBeyondTheLimitAreRefusedAndAClosedOneFreesItsPlace() async throws {
        let f = try await ServerFixture.start(maxConnections: 3)
        defer { Task { await f.server.close() } }
        func lists(_ client: TCPClient) -> Bool {
            client.send([0x01, 0x11, 0x80, 0x05, 0, 0, 0, 0])
            return client.read(12).map { be32($0, 8) == 2 } ?? false
        }
        func until(_ condition: () -> Bool) async throws {
            for _ in 0..<500 where !condition() { try await Task.sleep(for: .milliseconds(10)) }
        }
        // Four connect at once; the server takes them in any order and refuses one.
        var clients = try (0..<4).map { _ in try TCPClient(port: f.port) }
        try await until { f.server.openConnections == 3 && f.server.refusedConnections == 1 }
        #expect(f.server.openConnections == 3 && f.server.refusedConnections == 1)
        #expect(clients.map(lists).filter { $0 }.count == 3)
        // The clients hang up (as `usbip list` does after its list): their places are free again.
        clients = []
        try await until { f.server.openConnections == 0 }
        #expect(lists(try TCPClient(port: f.port)))
        #expect(f.server.refusedConnections == 1)
    }

    @Test func listsEveryDeviceAndKeepsListingWhileOneIsAttached() async throws {
        let f = try await ServerFixture.start()
        defer { Task { await f.server.close() } }
        let attached = try TCPClient(port: f.port)
        #expect(attached.importDevice("1-1")?.count == 320)
        let lister = try TCPClient(port: f.port)
        lister.send([0x01, 0x11, 0x80, 0x05, 0, 0, 0, 0])
        let head = try #require(lister.read(12))
        #expect(be32(head, 8) == 2)
        let records = try #require(lister.read(2 * 316))
        #expect(String(decoding: records[256..<259], as: UTF8.self) == "1-1")
        #expect(String(decoding: records[316 + 256..<316 + 259], as: UTF8.self) == "1-2")
    }

    @Test func importIsExclusiveAndReleasedOnDisconnect() async throws {
        let f = try await ServerFixture.start()
        defer { Task { await f.server.close() } }
        var first: TCPClient? = try TCPClient(port: f.port)
        #expect(first!.importDevice("1-1")?.count == 320)
        let second = try TCPClient(port: f.port)
        #expect(second.importDevice("1-1") == [0x01, 0x11, 0x00, 0x03, 0, 0, 0, 2])  // busy
        #expect(try TCPClient(port: f.port).importDevice("9-9") == [0x01, 0x11, 0x00, 0x03, 0, 0, 0, 4])  // no such device
        #expect(try TCPClient(port: f.port).importDevice("1-2")?.count == 320)  // the other key is free
        first = nil  // detach
        try await Task.sleep(for: .milliseconds(100))
        #expect(f.devices[0].isAttached == false)
        #expect(try TCPClient(port: f.port).importDevice("1-1")?.count == 320)  // re-attach
    }

    @Test func controlTransfersAreTruncatedAndUnknownRequestsStall() async throws {
        let f = try await ServerFixture.start()
        defer { Task { await f.server.close() } }
        let c = try TCPClient(port: f.port)
        _ = c.importDevice("1-1")
        c.send(cmdSubmit(seqnum: 1, direction: 1, ep: 0, length: 8, setup: [0x80, 0x06, 0x00, 0x01, 0, 0, 0x40, 0]))
        let reply = try #require(c.readReply())
        #expect(reply.0 == 3 && reply.1 == 1 && reply.2 == 0)
        #expect(reply.3 == Array(f.devices[0].deviceDescriptor.prefix(8)))  // wLength 64 but the URB holds 8
        c.send(cmdSubmit(seqnum: 2, direction: 1, ep: 0, length: 64, setup: [0x80, 0x06, 0x00, 0x06, 0, 0, 0x0A, 0]))
        #expect(try #require(c.readReply()).2 == -32)  // device qualifier: STALL
        c.send(cmdSubmit(seqnum: 3, direction: 0, ep: 0, length: 0, setup: [0x00, 0x09, 0x01, 0x00, 0, 0, 0, 0]))
        let set = try #require(c.readReply())
        #expect(set.1 == 3 && set.2 == 0 && set.3.isEmpty)
    }

    @Test func inURBsWaitForDataAndOutRepliesReportBytesConsumed() async throws {
        let f = try await ServerFixture.start()
        defer { Task { await f.server.close() } }
        let c = try TCPClient(port: f.port)
        _ = c.importDevice("1-1")
        c.send(cmdSubmit(seqnum: 10, direction: 1, ep: 1, length: 64))
        #expect(c.readReply(timeout: 0.3) == nil)  // nothing to say yet: the URB stays pending
        let report = (0..<64).map { UInt8($0) }
        c.send(cmdSubmit(seqnum: 11, direction: 0, ep: 1, length: 64, data: report))
        var replies = [try #require(c.readReply()), try #require(c.readReply())].sorted { $0.1 < $1.1 }
        #expect(replies[0].1 == 10 && replies[0].3 == report.reversed())
        #expect(replies[1].1 == 11 && replies[1].2 == 0 && replies[1].3.isEmpty)
        // IN data is truncated to the URB's buffer.
        c.send(cmdSubmit(seqnum: 12, direction: 1, ep: 1, length: 16))
        c.send(cmdSubmit(seqnum: 13, direction: 0, ep: 1, length: 64, data: report))
        replies = [try #require(c.readReply()), try #require(c.readReply())].sorted { $0.1 < $1.1 }
        #expect(replies[0].1 == 12 && replies[0].3 == Array(report.reversed().prefix(16)))
    }

    @Test func inCompletionFaultsReachTheWire() async throws {
        // Fault injection (docs/fault-injection.md): a stall, a short and a long completion, then the truth.
        final class Faults: @unchecked Sendable {
            var next: [INCompletionFault?] = [.stall, .shortLength(10), .longLength(extra: [1, 2, 3]), nil]
            let lock = NSLock()
            func take() -> INCompletionFault? { lock.withLock { next.isEmpty ? nil : next.removeFirst() } }
        }
        let faults = Faults()
        let f = try await ServerFixture.start(keys: 1, inFaults: { _ in faults.take() })
        defer { Task { await f.server.close() } }
        let c = try TCPClient(port: f.port)
        _ = c.importDevice("1-1")
        let report = (0..<64).map { UInt8($0) }
        var seen: [(Int32, [UInt8])] = []
        for n in 0..<4 as Range<UInt32> {
            c.send(cmdSubmit(seqnum: 100 + n, direction: 1, ep: 1, length: 64))
            c.send(cmdSubmit(seqnum: 200 + n, direction: 0, ep: 1, length: 64, data: report))
            let replies = [try #require(c.readReply()), try #require(c.readReply())]
            let inReply = try #require(replies.first { $0.1 == 100 + n })
            seen.append((inReply.2, inReply.3))
        }
        #expect(seen[0].0 == -32 && seen[0].1.isEmpty)
        #expect(seen[1].0 == 0 && seen[1].1 == Array(report.reversed().prefix(10)))
        #expect(seen[2].0 == 0 && seen[2].1 == report.reversed() + [1, 2, 3])
        #expect(seen[3].0 == 0 && seen[3].1 == report.reversed())
    }

    @Test func unlinkedURBsAreNeverAnswered() async throws {
        let f = try await ServerFixture.start()
        defer { Task { await f.server.close() } }
        let c = try TCPClient(port: f.port)
        _ = c.importDevice("1-1")
        c.send(cmdSubmit(seqnum: 20, direction: 1, ep: 1, length: 64))
        c.send(cmdUnlink(seqnum: 21, victim: 20))
        let unlink = try #require(c.readReply())
        #expect(unlink.0 == 4 && unlink.1 == 21 && unlink.2 == -104)
        // Data arriving now goes to the next IN URB, never to seqnum 20.
        c.send(cmdSubmit(seqnum: 22, direction: 0, ep: 1, length: 64, data: [UInt8](repeating: 1, count: 64)))
        #expect(try #require(c.readReply()).1 == 22)
        c.send(cmdSubmit(seqnum: 23, direction: 1, ep: 1, length: 64))
        let delivered = try #require(c.readReply())
        #expect(delivered.1 == 23 && delivered.3 == [UInt8](repeating: 1, count: 64))
        // Unlinking something already answered: status 0.
        c.send(cmdUnlink(seqnum: 24, victim: 23))
        let late = try #require(c.readReply())
        #expect(late.0 == 4 && late.1 == 24 && late.2 == 0)
        #expect(c.readReply(timeout: 0.3) == nil)
    }

    @Test(arguments: [
        [UInt8](repeating: 0xAB, count: 100),                                                   // random bytes
        [0x01, 0x11, 0x80, 0x99, 0, 0, 0, 0],                                                   // unknown operation
        [0x00, 0x00, 0x00, 0x07] + [UInt8](repeating: 0, count: 44),                            // unknown URB command
        cmdSubmit(seqnum: 1, direction: 0, ep: 1, length: 0x7FFF_FFFF),                          // absurd length
    ])
    func garbageClosesOnlyThatConnection(garbage: [UInt8]) async throws {
        let f = try await ServerFixture.start()
        defer { Task { await f.server.close() } }
        let good = try TCPClient(port: f.port)
        _ = good.importDevice("1-1")
        let bad = try TCPClient(port: f.port)
        if garbage.count == 48 + 0 || garbage[3] == 0x07 || garbage.first == 0 {
            _ = bad.importDevice("1-2")  // URB-phase garbage needs an imported device
        }
        bad.send(garbage)
        #expect(bad.isClosed())
        good.send(cmdSubmit(seqnum: 1, direction: 1, ep: 0, length: 18, setup: [0x80, 0x06, 0x00, 0x01, 0, 0, 0x12, 0]))
        #expect(try #require(good.readReply()).3.count == 18)
    }

    @Test func truncatedHeaderThenCloseLeavesTheServerUsable() async throws {
        let f = try await ServerFixture.start()
        defer { Task { await f.server.close() } }
        do {
            let c = try TCPClient(port: f.port)
            _ = c.importDevice("1-1")
            c.send(Array(cmdSubmit(seqnum: 1, direction: 1, ep: 1, length: 64).prefix(20)))
        }
        try await Task.sleep(for: .milliseconds(100))
        #expect(try TCPClient(port: f.port).importDevice("1-1")?.count == 320)
    }
}
