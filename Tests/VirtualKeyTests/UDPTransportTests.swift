import Bytes
import CBOR
import CTAP
import Foundation
import Logging
import Testing
import UDPSimulator
@testable import VirtualKey
#if canImport(Glibc)
import Glibc
#endif

/// A minimal CTAPHID-over-UDP client on a plain socket, independent of the transport under test.
final class UDPClient {
    let fd: Int32
    var peer = sockaddr_in()

    init(port: Int) throws {
        fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        var local = sockaddr_in()
        local.sin_family = sa_family_t(AF_INET)
        local.sin_addr.s_addr = inet_addr("127.0.0.1")
        _ = withUnsafePointer(to: &local) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        peer.sin_family = sa_family_t(AF_INET)
        peer.sin_port = in_port_t(UInt16(port).bigEndian)
        peer.sin_addr.s_addr = inet_addr("127.0.0.1")
        var timeout = timeval(tv_sec: 20, tv_usec: 0)  // generous: a loaded 2-core machine is slow, not silent
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    deinit { close(fd) }

    func send(_ report: [UInt8]) {
        _ = report.withUnsafeBytes { bytes in
            withUnsafePointer(to: &peer) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { sendto(fd, bytes.baseAddress, bytes.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
        }
    }

    func receive() -> [UInt8]? {
        var buffer = [UInt8](repeating: 0, count: 128)
        let n = recv(fd, &buffer, buffer.count, 0)
        return n < 0 ? nil : Array(buffer.prefix(n))
    }

    static func packet(_ cid: UInt32, _ cmd: UInt8, _ payload: [UInt8]) -> [UInt8] {
        let head: [UInt8] = cid.bigEndianBytes + [cmd, 0, UInt8(payload.count)]
        return head + payload + [UInt8](repeating: 0, count: 57 - payload.count)
    }

    /// One CTAP2 request that fits in a packet; the whole response (status byte first).
    func cbor(_ cid: UInt32, _ request: [UInt8]) throws -> [UInt8] {
        send(Self.packet(cid, 0x90, request))
        var first = try #require(receive())
        while first[4] == 0xBB { first = try #require(receive()) }
        let length = Int(first[5]) << 8 | Int(first[6])
        var body = Array(first[7...])
        while body.count < length { body += try #require(receive())[5...] }
        return Array(body.prefix(length))
    }

    func open() throws -> UInt32 {
        send(Self.packet(0xFFFF_FFFF, 0x86, [1, 2, 3, 4, 5, 6, 7, 8]))
        let reply = try #require(receive())
        return UInt32(bigEndianBytes: reply[15..<19])
    }
}

/// Blocks every prompt until the request is cancelled.
struct WaitForever: UserPresence {
    func confirm(_ request: UserPresenceRequest) async -> UserPresenceResult {
        while !Task.isCancelled { try? await Task.sleep(for: .milliseconds(10)) }
        return .cancelled
    }
}

func startDaemon(presence: UserPresence? = nil) async throws -> (Daemon, Int) {
    var configuration = DaemonConfiguration(stateDirectory: nil)
    configuration.udpPort = 0
    configuration.usbipPort = nil
    let daemon = try await Daemon.start(configuration, presence: presence, logger: Logger(label: "test"))
    return (daemon, try #require(daemon.keys[0].udp?.localAddress?.port))
}

@Suite(.serialized) struct UDPTransportTests {
    @Test func getInfoOverRealUDP() async throws {
        let (daemon, port) = try await startDaemon()
        defer { Task { await daemon.stop() } }
        let client = try UDPClient(port: port)
        let cid = try client.open()
        // (On a loaded machine a KEEPALIVE may come first: `cbor` skips those, as hosts do.)
        let body = try client.cbor(cid, [0x04])
        #expect(body[0] == 0x00)
        let info = try CBORReader.decode(Array(body[1...]))
        #expect(info[int: 1] == .array(["U2F_V2", "FIDO_2_0", "FIDO_2_1"]))
    }

    @Test func keepaliveSaysUserPresenceNeededAndCancelEndsTheWait() async throws {
        let (daemon, port) = try await startDaemon(presence: WaitForever())
        defer { Task { await daemon.stop() } }
        let client = try UDPClient(port: port)
        let cid = try client.open()
        client.send(UDPClient.packet(cid, 0x90, [0x0B]))  // authenticatorSelection waits for a touch
        // KEEPALIVE UPNEEDED while the touch is awaited; a PROCESSING one may come first if a tick
        // lands before the prompt starts (a loaded machine), so those are skipped.
        var upNeeded = 0
        for _ in 0..<100 where upNeeded < 2 {
            let keepalive = try #require(client.receive())
            #expect(Array(keepalive[4..<7]) == [0xBB, 0x00, 0x01])
            if keepalive[7] == 0x02 { upNeeded += 1 } else { #expect(keepalive[7] == 0x01) }
        }
        #expect(upNeeded == 2)
        client.send(UDPClient.packet(cid, 0x91, []))
        var reply = try #require(client.receive())
        while reply[4] == 0xBB { reply = try #require(client.receive()) }
        #expect(Array(reply[4..<8]) == [0x90, 0x00, 0x01, 0x2D])  // CTAP2_ERR_KEEPALIVE_CANCEL
        // The device keeps answering.
        client.send(UDPClient.packet(cid, 0x81, [0x42]))
        #expect(try #require(client.receive())[4..<8] == [0x81, 0x00, 0x01, 0x42])
    }

    @Test func theSoloRebootDatagramPowerCyclesAndKeepsTheChannel() async throws {
        let (daemon, port) = try await startDaemon()
        defer { Task { await daemon.stop() } }
        let client = try UDPClient(port: port)
        let cid = try client.open()
        // clientPIN getKeyAgreement: the key agreement key lives for one power cycle.
        let getKeyAgreement = [0x06] + CBORValue.intMap([(1, 2), (2, 2)]).encoded
        let before = try client.cbor(cid, getKeyAgreement)
        #expect(before[0] == 0x00)
        #expect(try client.cbor(cid, getKeyAgreement) == before)
        client.send(UDPTransport.rebootDatagram)
        // No answer to the reboot itself; the same channel works afterwards, on a new boot.
        let after = try client.cbor(cid, getKeyAgreement)
        #expect(after[0] == 0x00)
        #expect(after != before)
        client.send(UDPClient.packet(cid, 0x81, [0x42]))
        #expect(try #require(client.receive())[4..<8] == [0x81, 0x00, 0x01, 0x42])
    }

    @Test func repliesGoToTheClientThatOwnsTheChannel() async throws {
        let (daemon, port) = try await startDaemon()
        defer { Task { await daemon.stop() } }
        let a = try UDPClient(port: port), b = try UDPClient(port: port)
        let ca = try a.open(), cb = try b.open()
        #expect(ca != cb)
        a.send(UDPClient.packet(ca, 0x81, [0xAA]))
        b.send(UDPClient.packet(cb, 0x81, [0xBB]))
        #expect(try #require(a.receive())[7] == 0xAA)
        #expect(try #require(b.receive())[7] == 0xBB)
    }
}
