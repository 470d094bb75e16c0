import Logging
import NIOCore
import NIOPosix

/// The UDP simulator convention (DESIGN.md §5): each datagram is one 64-byte HID report with
/// no report-ID byte; replies go to the address that last spoke on the channel.
public final class UDPTransport: Sendable {
    public let channel: Channel
    public var localAddress: SocketAddress? { channel.localAddress }

    private init(channel: Channel) { self.channel = channel }

    public static func start(host: String, port: Int, session: HIDSession, group: EventLoopGroup, logger: Logger) async throws -> UDPTransport {
        let (stream, continuation) = AsyncStream.makeStream(of: AddressedEnvelope<ByteBuffer>.self, bufferingPolicy: .bufferingNewest(4096))
        // No SO_REUSEADDR: on UDP it would let a second daemon bind the same port and take
        // half of the reports.
        let channel = try await DatagramBootstrap(group: group)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(DatagramForwarder(continuation: continuation))
                }
            }
            .bind(host: host, port: port).get()
        let transport = UDPTransport(channel: channel)
        // One consumer keeps the reports in arrival order.
        Task {
            for await envelope in stream {
                let remote = envelope.remoteAddress
                let report = Array(envelope.data.readableBytesView)
                let sink = ReportSink { [channel] reply in
                    channel.writeAndFlush(AddressedEnvelope(remoteAddress: remote, data: ByteBuffer(bytes: reply)), promise: nil)
                }
                await session.receive(report, reply: sink)
            }
        }
        channel.closeFuture.whenComplete { _ in continuation.finish() }
        return transport
    }

    public func close() async {
        try? await channel.close()
    }
}

private final class DatagramForwarder: ChannelInboundHandler, Sendable {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    let continuation: AsyncStream<AddressedEnvelope<ByteBuffer>>.Continuation
    init(continuation: AsyncStream<AddressedEnvelope<ByteBuffer>>.Continuation) { self.continuation = continuation }
    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        continuation.yield(unwrapInboundIn(data))
    }
}
