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
        let feed = ReportFeed(session: session, buffering: 4096)
        // No SO_REUSEADDR: on UDP it would let a second daemon bind the same port and take
        // half of the reports.
        let channel: Channel
        do {
            channel = try await DatagramBootstrap(group: group)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(DatagramForwarder(feed: feed))
                    }
                }
                .bind(host: host, port: port).get()
        } catch {
            feed.finish()
            throw error
        }
        let transport = UDPTransport(channel: channel)
        channel.closeFuture.whenComplete { _ in feed.finish() }
        return transport
    }

    public func close() async {
        try? await channel.close()
    }
}

/// Hands each datagram to the feed with a sink that answers its sender.
private final class DatagramForwarder: ChannelInboundHandler, Sendable {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    let feed: ReportFeed
    init(feed: ReportFeed) { self.feed = feed }
    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        let remote = envelope.remoteAddress
        let channel = context.channel
        let sink = ReportSink { reply in
            channel.writeAndFlush(AddressedEnvelope(remoteAddress: remote, data: ByteBuffer(bytes: reply)), promise: nil)
        }
        feed.yield(Array(envelope.data.readableBytesView), reply: sink)
    }
}
