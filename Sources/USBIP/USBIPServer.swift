import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// One exported device and where it sits on the virtual bus.
public struct USBIPExport: Sendable {
    public var busid: String
    public var busnum: UInt32
    public var devnum: UInt32
    public var device: any USBDevice

    public init(busnum: UInt32 = 1, devnum: UInt32, device: any USBDevice) {
        self.busid = "\(busnum)-\(devnum)"
        self.busnum = busnum
        self.devnum = devnum
        self.device = device
    }

    var record: USBIPDeviceRecord {
        USBIPDeviceRecord(
            path: "/sys/devices/platform/vfido/usb\(busnum)/\(busid)", busid: busid, busnum: busnum, devnum: devnum,
            speed: device.speed.rawValue, vendorId: device.identity.vendorId, productId: device.identity.productId,
            bcdDevice: device.identity.bcdDevice, deviceClass: device.deviceClass.0, deviceSubClass: device.deviceClass.1,
            deviceProtocol: device.deviceClass.2, configurationValue: device.configurationValue, numConfigurations: 1,
            interfaces: device.interfaces)
    }
}

/// A USB/IP server on SwiftNIO: lists and exports devices, then carries their URBs. Several
/// connections may be open (a `usbip list` while a device is attached), up to a limit that keeps
/// a flood of idle connections from growing memory; each device is attached to at most one
/// connection at a time.
public final class USBIPServer: Sendable {
    /// The default limit of open connections: far more than hosts attaching keys need.
    public static let defaultMaxConnections = 64

    public let channel: Channel
    /// The devices, in bus-id order; keys added and removed at runtime change it.
    let exports: NIOLockedValueBox<[USBIPExport]>
    /// Attached devices and the connection that holds each.
    let attached = NIOLockedValueBox<[String: Channel]>([:])
    /// Devices unplugged by the control API: not listed, not importable.
    let unplugged = NIOLockedValueBox<Set<String>>([])
    let connections = NIOLockedValueBox(0)
    let refused = NIOLockedValueBox(0)

    /// Connections open now, and refused so far for the limit.
    public var openConnections: Int { connections.withLockedValue { $0 } }
    public var refusedConnections: Int { refused.withLockedValue { $0 } }

    public var localAddress: SocketAddress? { channel.localAddress }

    private init(channel: Channel, exports: [USBIPExport]) {
        self.channel = channel
        self.exports = NIOLockedValueBox(exports)
    }

    public static func start(host: String, port: Int, exports: [USBIPExport], group: EventLoopGroup,
                             maxConnections: Int = defaultMaxConnections, logger: Logger) async throws -> USBIPServer {
        let box = NIOLockedValueBox<USBIPServer?>(nil)
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    guard let server = box.withLockedValue({ $0 }) else { throw ChannelError.ioOnClosedChannel }
                    let accepted = server.connections.withLockedValue { count -> Bool in
                        guard count < maxConnections else { return false }
                        count += 1
                        return true
                    }
                    guard accepted else {
                        server.refused.withLockedValue { $0 += 1 }
                        logger.warning("USB/IP: refused a connection from \(channel.remoteAddress.map { "\($0)" } ?? "?"): \(maxConnections) are open, the limit")
                        throw ChannelError.ioOnClosedChannel
                    }
                    channel.closeFuture.whenComplete { _ in server.connections.withLockedValue { $0 -= 1 } }
                    try channel.pipeline.syncOperations.addHandler(USBIPConnectionHandler(server: server, logger: logger))
                }
            }
            .bind(host: host, port: port).get()
        let server = USBIPServer(channel: channel, exports: exports)
        box.withLockedValue { $0 = server }
        return server
    }

    public func close() async {
        try? await channel.close()
    }

    func export(busid: String) -> USBIPExport? {
        isPlugged(busid: busid) ? exports.withLockedValue { $0.first { $0.busid == busid } } : nil
    }

    /// The devices a host can see now.
    var pluggedExports: [USBIPExport] { exports.withLockedValue { $0 }.filter { isPlugged(busid: $0.busid) } }

    /// Marks a device attached; false if another connection has it.
    func claim(_ busid: String, by channel: Channel) -> Bool {
        attached.withLockedValue { attached in
            guard attached[busid] == nil else { return false }
            attached[busid] = channel
            return true
        }
    }

    func release(_ busid: String) {
        _ = attached.withLockedValue { $0.removeValue(forKey: busid) }
    }

    /// Whether a host has the device attached now.
    public func isAttached(busid: String) -> Bool { attached.withLockedValue { $0[busid] != nil } }

    public func isPlugged(busid: String) -> Bool { !unplugged.withLockedValue { $0.contains(busid) } }

    /// Pulls the device out: the attached host's connection is closed (its kernel sees the
    /// device disconnect) and the device is neither listed nor importable until `plug`.
    public func unplug(busid: String) {
        unplugged.withLockedValue { _ = $0.insert(busid) }
        if let channel = attached.withLockedValue({ $0[busid] }) { channel.close(promise: nil) }
    }

    /// Puts the device back: hosts list and attach it again (`usbip attach`).
    public func plug(busid: String) {
        _ = unplugged.withLockedValue { $0.remove(busid) }
    }

    /// A device added while the server runs (a key added through the control API).
    public func add(_ export: USBIPExport) {
        exports.withLockedValue { exports in
            exports.removeAll { $0.busid == export.busid }
            exports.append(export)
            exports.sort { $0.devnum < $1.devnum }
        }
    }

    /// Takes a device away for good: unplugged (the host sees it disconnect), then forgotten.
    public func remove(busid: String) {
        unplug(busid: busid)
        exports.withLockedValue { $0.removeAll { $0.busid == busid } }
        _ = unplugged.withLockedValue { $0.remove(busid) }
    }
}

/// One TCP connection: the operation phase, then URBs for the imported device. Lives on its
/// channel's event loop; the device's input reports hop onto that loop, so a RET_SUBMIT and a
/// RET_UNLINK for the same URB can never race.
final class USBIPConnectionHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// Input reports queued while no IN URB is pending. A host that stops polling its IN
    /// endpoint while the device keeps answering loses the oldest beyond this, with a log line.
    static let maxQueuedReports = 64

    let server: USBIPServer
    var logger: Logger
    var phase = USBIPPhase.operation
    var buffer: [UInt8] = []
    var export: USBIPExport?
    var pendingIn: [USBIPSubmit] = []
    var queuedIn: [[UInt8]] = []
    var context: ChannelHandlerContext?

    init(server: USBIPServer, logger: Logger) {
        self.server = server
        self.logger = logger
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        logger[metadataKey: "peer"] = "\(context.remoteAddress.map { "\($0)" } ?? "?")"
    }

    /// The context holds this handler: letting go of it here breaks the cycle, or every
    /// connection's handler, buffers and pipeline would outlive its close.
    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var incoming = unwrapInboundIn(data)
        buffer += incoming.readBytes(length: incoming.readableBytes) ?? []
        do {
            while let (request, consumed) = try USBIPDecoder.decode(buffer[...], phase: phase) {
                buffer.removeFirst(consumed)
                handle(request, context: context)
                if !context.channel.isActive { return }
            }
        } catch {
            logger.warning("USB/IP: closing connection: \(error)")
            buffer = []
            context.close(promise: nil)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        if let export {
            export.device.disconnect()
            server.release(export.busid)
            logger.info("USB/IP: \(export.busid) detached")
        }
        export = nil
        pendingIn = []
        queuedIn = []
        buffer = []
        self.context = nil
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        logger.warning("USB/IP: connection error: \(error)")
        context.close(promise: nil)
    }

    func write(_ bytes: [UInt8], context: ChannelHandlerContext) {
        context.writeAndFlush(wrapOutboundOut(ByteBuffer(bytes: bytes)), promise: nil)
    }

    func handle(_ request: USBIPRequest, context: ChannelHandlerContext) {
        switch request {
        case .deviceList:
            logger.info("USB/IP: device list requested")
            write(USBIPReply.deviceList(server.pluggedExports.map(\.record)), context: context)
        case .importDevice(let busid):
            guard let export = server.export(busid: busid) else {
                logger.warning("USB/IP: import of unknown busid \(busid)")
                write(USBIPReply.importDevice(.noSuchDevice, nil), context: context)
                return
            }
            guard server.claim(busid, by: context.channel) else {
                logger.warning("USB/IP: \(busid) is already attached elsewhere")
                write(USBIPReply.importDevice(.deviceBusy, nil), context: context)
                return
            }
            self.export = export
            phase = .urb
            let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
            let loop = context.eventLoop
            export.device.connect { endpoint, data in
                loop.execute { bound.value.deliver(endpoint: endpoint, data: data) }
            }
            logger.info("USB/IP: \(busid) attached")
            write(USBIPReply.importDevice(.ok, export.record), context: context)
        case .submit(let submit):
            self.submit(submit, context: context)
        case .unlink(let unlink):
            if let index = pendingIn.firstIndex(where: { $0.seqnum == unlink.unlinkSeqnum }) {
                pendingIn.remove(at: index)
                write(USBIPReply.unlink(seqnum: unlink.seqnum, status: -USBErrno.connectionReset), context: context)
            } else {
                // Already answered (or never seen): nothing to withdraw.
                write(USBIPReply.unlink(seqnum: unlink.seqnum, status: 0), context: context)
            }
        }
    }

    func submit(_ urb: USBIPSubmit, context: ChannelHandlerContext) {
        guard let device = export?.device else { return }
        let endpoint = UInt8(truncatingIfNeeded: urb.endpoint & 0x0F)
        func stall() { write(USBIPReply.submit(seqnum: urb.seqnum, status: -USBErrno.pipe, actualLength: 0), context: context) }

        if !urb.isoDescriptors.isEmpty { return stall() }  // no isochronous endpoints here
        if endpoint == 0 {
            switch device.control(SetupPacket(urb.setup), data: urb.data) {
            case .stall: stall()
            case .data(let bytes):
                if urb.direction == .in {
                    let reply = Array(bytes.prefix(Int(urb.transferBufferLength)))
                    write(USBIPReply.submit(seqnum: urb.seqnum, status: 0, actualLength: UInt32(reply.count), data: reply), context: context)
                } else {
                    write(USBIPReply.submit(seqnum: urb.seqnum, status: 0, actualLength: UInt32(urb.data.count)), context: context)
                }
            }
            return
        }
        switch urb.direction {
        case .out:
            guard device.interruptOutEndpoints.contains(endpoint) else { return stall() }
            device.interruptOut(endpoint: endpoint, data: urb.data)
            // An OUT reply reports how many bytes the device consumed: all of them.
            write(USBIPReply.submit(seqnum: urb.seqnum, status: 0, actualLength: UInt32(urb.data.count)), context: context)
        case .in:
            guard device.interruptInEndpoints.contains(endpoint) else { return stall() }
            if !queuedIn.isEmpty {
                complete(urb, with: queuedIn.removeFirst(), context: context)
            } else {
                pendingIn.append(urb)  // answered when the device has data
            }
        }
    }

    func deliver(endpoint: UInt8, data: [UInt8]) {
        guard let context, export != nil else { return }
        if let index = pendingIn.firstIndex(where: { UInt8(truncatingIfNeeded: $0.endpoint & 0x0F) == endpoint }) {
            complete(pendingIn.remove(at: index), with: data, context: context)
        } else {
            queuedIn.append(data)
            if queuedIn.count > Self.maxQueuedReports {
                queuedIn.removeFirst()
                logger.warning("USB/IP: the host has not polled its IN endpoint for \(Self.maxQueuedReports) reports: the oldest queued report is dropped")
            }
        }
    }

    /// IN data never exceeds the URB's buffer, unless a fault says it must.
    func complete(_ urb: USBIPSubmit, with data: [UInt8], context: ChannelHandlerContext) {
        var reply = Array(data.prefix(Int(urb.transferBufferLength)))
        switch export?.device.inFault(for: reply) {
        case .stall:
            return write(USBIPReply.submit(seqnum: urb.seqnum, status: -USBErrno.pipe, actualLength: 0), context: context)
        case .shortLength(let n): reply = Array(reply.prefix(n))
        case .longLength(let extra): reply += extra
        case nil: break
        }
        write(USBIPReply.submit(seqnum: urb.seqnum, status: 0, actualLength: UInt32(reply.count), data: reply), context: context)
    }
}
