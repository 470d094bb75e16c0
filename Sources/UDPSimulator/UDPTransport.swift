import NIOCore
import NIOPosix

/// The UDP simulator convention (DESIGN.md §5): each datagram is one 64-byte HID report with
/// no report-ID byte; replies go to the datagram's sender. As in solokeys' simulator, one fixed
/// 64-byte datagram power-cycles the key; suites written for it send it to "reboot" and keep
/// using their channel afterwards. Knows nothing of CTAPHID or FIDO: it hands reports on.
public final class UDPTransport: Sendable {
    /// solokeys' simulator reboot datagram (its fido2-tests `send_magic_reboot`).
    public static let rebootDatagram: [UInt8] = [
        0xAC, 0x10, 0x52, 0xCA, 0x95, 0xE5, 0x69, 0xDE, 0x69, 0xE0, 0x2E, 0xBF, 0xF3, 0x33, 0x48, 0x5F,
        0x13, 0xF9, 0xB2, 0xDA, 0x34, 0xC5, 0xA8, 0xA3, 0x40, 0x52, 0x66, 0x97, 0xA9, 0xAB, 0x2E, 0x0B,
        0x39, 0x4D, 0x8D, 0x04, 0x97, 0x3C, 0x13, 0x40, 0x05, 0xBE, 0x1A, 0x01, 0x40, 0xBF, 0xF6, 0x04,
        0x5B, 0xB2, 0x6E, 0xB7, 0x7A, 0x73, 0xEA, 0xA4, 0x78, 0x13, 0xF6, 0xB4, 0x9A, 0x72, 0x50, 0xDC,
    ]

    /// What arrives: a report with the function that answers its sender, or the reboot datagram.
    public enum Datagram: Sendable {
        case report([UInt8], reply: @Sendable ([UInt8]) -> Void)
        case reboot
    }

    public let channel: Channel
    public var localAddress: SocketAddress? { channel.localAddress }

    private init(channel: Channel) { self.channel = channel }

    /// Listens on host:port; `receive` is called on the event loop for each datagram, in
    /// arrival order, and `closed` once the socket is closed.
    public static func start(host: String, port: Int, group: EventLoopGroup, receive: @escaping @Sendable (Datagram) -> Void,
                             closed: @escaping @Sendable () -> Void) async throws -> UDPTransport {
        // No SO_REUSEADDR: on UDP it would let a second daemon bind the same port and take
        // half of the reports.
        let channel: Channel
        do {
            channel = try await DatagramBootstrap(group: group)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(DatagramForwarder(receive: receive))
                    }
                }
                .bind(host: host, port: port).get()
        } catch {
            closed()
            throw error
        }
        channel.closeFuture.whenComplete { _ in closed() }
        return UDPTransport(channel: channel)
    }

    public func close() async {
        try? await channel.close()
    }
}

/// Hands each datagram on with a reply function that answers its sender.
private final class DatagramForwarder: ChannelInboundHandler, Sendable {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    let receive: @Sendable (UDPTransport.Datagram) -> Void
    init(receive: @escaping @Sendable (UDPTransport.Datagram) -> Void) { self.receive = receive }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        let bytes = Array(envelope.data.readableBytesView)
        if bytes == UDPTransport.rebootDatagram {
            receive(.reboot)
            return
        }
        let remote = envelope.remoteAddress
        let channel = context.channel
        receive(.report(bytes) { reply in
            channel.writeAndFlush(AddressedEnvelope(remoteAddress: remote, data: ByteBuffer(bytes: reply)), promise: nil)
        })
    }
}
