import Foundation
import NIOCore
import NIOPosix

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
/// and libfido2 test setups): each datagram is one 64-byte report. A connected SwiftNIO
/// datagram channel: the kernel drops datagrams from anyone but the key.
public final class UDPHIDTransport: HIDReportTransport {
    private let channel: Channel
    private let peer: SocketAddress
    private let queue: ReportQueue

    private init(channel: Channel, peer: SocketAddress, queue: ReportQueue) {
        self.channel = channel
        self.peer = peer
        self.queue = queue
    }

    public static func connect(host: String, port: Int) async throws -> UDPHIDTransport {
        let peer: SocketAddress
        do { peer = try SocketAddress.makeAddressResolvingHost(host, port: port) } catch {
            throw TransportError("cannot resolve \(host): \(error)")
        }
        let queue = ReportQueue()
        do {
            let channel = try await DatagramBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(ReportReceiver(queue: queue))
                    }
                }
                .connect(to: peer).get()
            return UDPHIDTransport(channel: channel, peer: peer, queue: queue)
        } catch {
            throw TransportError("cannot reach \(host):\(port) over UDP: \(error)")
        }
    }

    public func send(_ report: [UInt8]) async throws {
        do {
            try await channel.writeAndFlush(AddressedEnvelope(remoteAddress: peer, data: ByteBuffer(bytes: report))).get()
        } catch {
            throw TransportError("UDP send failed: \(error)")
        }
    }

    public func receive(timeout: Duration) async -> [UInt8]? { await queue.next(timeout: timeout) }

    public func close() async { try? await channel.close() }
}

/// Hands each datagram from the key to the queue, in arrival order.
private final class ReportReceiver: ChannelInboundHandler, Sendable {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    let queue: ReportQueue
    init(queue: ReportQueue) { self.queue = queue }
    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        queue.deliver(Array(unwrapInboundIn(data).data.readableBytesView))
    }
}
