import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Where a client's 64-byte HID reports go and come from: a key in this process, or one
/// reached over the UDP simulator convention (one report per datagram).
public protocol HIDReportTransport: Sendable {
    func send(_ report: [UInt8]) async throws
    /// The next report from the key, or nil when none came within `timeout`.
    func receive(timeout: Duration) async -> [UInt8]?
    func close() async
}

/// Reports from the key, kept in arrival order until the client asks for them. Delivery is
/// synchronous (no task per report), so order survives.
final class ReportQueue: @unchecked Sendable {
    private struct Waiter {
        var id: Int
        var continuation: CheckedContinuation<[UInt8]?, Never>
        var timer: Task<Void, Never>?
    }
    private let lock = NSLock()
    private var buffered: [[UInt8]] = []
    private var waiter: Waiter?
    private var nextWaiter = 0

    func deliver(_ report: [UInt8]) {
        let waiting: Waiter? = lock.withLock {
            if let waiter {
                self.waiter = nil
                return waiter
            }
            if buffered.count < 4096 { buffered.append(report) }
            return nil
        }
        waiting?.timer?.cancel()
        waiting?.continuation.resume(returning: report)
    }

    func next(timeout: Duration) async -> [UInt8]? {
        await withCheckedContinuation { continuation in
            let id: Int? = lock.withLock {
                if !buffered.isEmpty {
                    continuation.resume(returning: buffered.removeFirst())
                    return nil
                }
                nextWaiter += 1
                waiter = Waiter(id: nextWaiter, continuation: continuation)
                return nextWaiter
            }
            guard let id else { return }
            let timer = Task { [weak self] in
                try? await Task.sleep(for: timeout)
                if !Task.isCancelled { self?.expire(id) }
            }
            lock.withLock { if waiter?.id == id { waiter?.timer = timer } else { timer.cancel() } }
        }
    }

    private func expire(_ id: Int) {
        let expired: Waiter? = lock.withLock {
            guard let waiter, waiter.id == id else { return nil }
            self.waiter = nil
            return waiter
        }
        expired?.continuation.resume(returning: nil)
    }
}

/// A key in the same process: reports go to `send`, the key's replies come back by `deliver`.
public final class InProcessTransport: HIDReportTransport {
    private let sendReport: @Sendable ([UInt8]) async -> Void
    private let queue = ReportQueue()

    public init(send: @escaping @Sendable ([UInt8]) async -> Void) { self.sendReport = send }

    /// A report from the key.
    public func deliver(_ report: [UInt8]) { queue.deliver(report) }

    public func send(_ report: [UInt8]) async throws { await sendReport(report) }
    public func receive(timeout: Duration) async -> [UInt8]? { await queue.next(timeout: timeout) }
    public func close() async {}
}

public struct TransportError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}

/// A key speaking CTAPHID over UDP (vfido's `--udp`, the simulator convention of python-fido2
/// and libfido2 test setups): each datagram is one 64-byte report.
public final class UDPHIDTransport: HIDReportTransport, @unchecked Sendable {
    private let fd: Int32
    private let queue = ReportQueue()
    private let lock = NSLock()
    private var closed = false

    public init(host: String, port: Int) throws {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_DGRAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, String(port), &hints, &list) == 0, let first = list else {
            throw TransportError("cannot resolve \(host)")
        }
        defer { freeaddrinfo(list) }
        fd = socket(first.pointee.ai_family, Int32(SOCK_DGRAM.rawValue), 0)
        guard fd >= 0 else { throw TransportError("cannot open a UDP socket: errno \(errno)") }
        // connect(): the kernel fills in our address and drops datagrams from anyone but the key.
        guard connect(fd, first.pointee.ai_addr, first.pointee.ai_addrlen) == 0 else {
            Glibc.close(fd)
            throw TransportError("cannot reach \(host):\(port) over UDP: errno \(errno)")
        }
        var timeout = timeval(tv_sec: 0, tv_usec: 200_000)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let thread = Thread { [self] in readLoop() }
        thread.name = "vfido-udp-client"
        thread.start()
    }

    private var isClosed: Bool { lock.withLock { closed } }

    private func readLoop() {
        var buffer = [UInt8](repeating: 0, count: 2048)
        while !isClosed {
            let n = recv(fd, &buffer, buffer.count, 0)
            if n > 0 {
                queue.deliver(Array(buffer.prefix(n)))
            }
        }
        Glibc.close(fd)
    }

    public func send(_ report: [UInt8]) async throws {
        let sent = report.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, 0) }
        guard sent == report.count else { throw TransportError("UDP send failed: errno \(errno)") }
    }

    public func receive(timeout: Duration) async -> [UInt8]? { await queue.next(timeout: timeout) }

    public func close() async { lock.withLock { closed = true } }
}
