#if canImport(Bytes)  // the fuzz targets compile Sources/Bytes into their own module
import Bytes
#endif

/// The device side of CTAPHID (CTAP 2.1 §11.2) as a value: reports and time in, actions out.
/// It owns channel allocation, message assembly, busy/lock arbitration and timeouts, and
/// passes complete CBOR and MSG requests up; it knows nothing of what they mean.
public struct CTAPHIDStateMachine: Sendable {
    public struct Configuration: Sendable {
        public var capabilities: CTAPHIDCapabilities
        public var deviceVersion: (major: UInt8, minor: UInt8, build: UInt8)
        /// A message whose next packet is this late is abandoned with ERR_MSG_TIMEOUT.
        public var transactionTimeout: Duration
        /// At most this many channels are remembered; the one unused for longest is forgotten first.
        public var maxChannels: Int

        public init(capabilities: CTAPHIDCapabilities = [.wink, .cbor],
                    deviceVersion: (major: UInt8, minor: UInt8, build: UInt8) = (1, 0, 0),
                    transactionTimeout: Duration = .milliseconds(500), maxChannels: Int = 256) {
            self.capabilities = capabilities
            self.deviceVersion = deviceVersion
            self.transactionTimeout = transactionTimeout
            self.maxChannels = maxChannels
        }
    }

    /// A complete request for the layer above.
    public struct Request: Equatable, Sendable {
        public var channel: UInt32
        public var command: CTAPHIDCommand
        public var payload: [UInt8]
    }

    public enum Action: Equatable, Sendable {
        /// Send this 64-byte report to the host.
        case send([UInt8])
        /// Run this CBOR or MSG request; answer with `complete(...)`.
        case execute(Request)
        /// The host cancelled (or resynchronised) the request running on this channel.
        case cancel(channel: UInt32)
        /// The host asked the device to identify itself (blink).
        case wink(channel: UInt32)
    }

    enum State: Sendable {
        case idle
        case assembling(Assembly)
        case processing(channel: UInt32, command: CTAPHIDCommand)
    }

    struct Assembly: Sendable {
        var channel: UInt32
        var command: CTAPHIDCommand
        var expectedLength: Int
        var data: [UInt8]
        var nextSequence: UInt8
        var lastPacketAt: ContinuousClock.Instant
    }

    public let configuration: Configuration
    var state: State = .idle
    var channels: [UInt32] = []
    var nextChannel: UInt32
    var lock: (channel: UInt32, until: ContinuousClock.Instant)?

    /// - Parameter firstChannel: where channel allocation starts (random in production, so a
    ///   restarted daemon does not hand out the channels of its previous life).
    public init(configuration: Configuration = Configuration(), firstChannel: UInt32 = 1) {
        self.configuration = configuration
        self.nextChannel = firstChannel
    }

    /// Whether `channel` is one the device allocated or adopted and still remembers.
    public func knows(_ channel: UInt32) -> Bool { channels.contains(channel) }

    /// The channel whose request is running, if any.
    public var processingChannel: UInt32? {
        if case .processing(let channel, _) = state { return channel }
        return nil
    }

    public mutating func receive(_ report: [UInt8], now: ContinuousClock.Instant) -> [Action] {
        receive(CTAPHIDPacket(report: report), now: now)
    }

    /// A report its transport already parsed (nil: not a report, ignored).
    public mutating func receive(_ packet: CTAPHIDPacket?, now: ContinuousClock.Instant) -> [Action] {
        var actions = expire(now: now)
        guard let packet else { return actions }
        switch packet {
        case .continuation(let channel, let sequence, let data):
            actions += receiveContinuation(channel: channel, sequence: sequence, data: data, now: now)
        case .initialization(let channel, let command, let length, let data):
            actions += receiveInitialization(channel: channel, command: command, length: length, data: data, now: now)
        }
        return actions
    }

    /// The device lost power: any transaction and lock are gone, and the channels too unless
    /// the transport keeps them (the UDP simulator's reboot does).
    public mutating func powerCycle(keepingChannels: Bool) {
        state = .idle
        lock = nil
        if !keepingChannels { channels = [] }
    }

    /// Call periodically: abandons stalled messages and expired locks.
    public mutating func poll(now: ContinuousClock.Instant) -> [Action] { expire(now: now) }

    /// The answer to an executed request. Dropped if the host cancelled it by resynchronising.
    public mutating func complete(channel: UInt32, command: CTAPHIDCommand, payload: [UInt8]) -> [Action] {
        guard case .processing(let busy, _) = state, busy == channel else { return [] }
        state = .idle
        return CTAPHIDPacket.frame(channel: channel, command: command, payload: payload).map(Action.send)
    }

    /// A KEEPALIVE for the running request, or nothing when idle.
    public func keepalive(_ status: KeepaliveStatus) -> [Action] {
        guard case .processing(let channel, _) = state else { return [] }
        return [.send(CTAPHIDPacket.frame(channel: channel, command: .keepalive, payload: [status.rawValue])[0])]
    }

    // MARK: - Packets

    mutating func receiveContinuation(channel: UInt32, sequence: UInt8, data: ArraySlice<UInt8>,
                                      now: ContinuousClock.Instant) -> [Action] {
        // Continuation packets outside the message being assembled are spurious: ignored.
        guard case .assembling(var assembly) = state, assembly.channel == channel else { return [] }
        guard sequence == assembly.nextSequence else {
            state = .idle
            return error(.invalidSequence, channel: channel)
        }
        let wanted = assembly.expectedLength - assembly.data.count
        assembly.data += data.prefix(wanted)
        assembly.nextSequence += 1
        assembly.lastPacketAt = now
        if assembly.data.count == assembly.expectedLength {
            state = .idle
            return dispatch(channel: channel, command: assembly.command, payload: assembly.data, now: now)
        }
        state = .assembling(assembly)
        return []
    }

    mutating func receiveInitialization(channel: UInt32, command: CTAPHIDCommand, length: Int, data: ArraySlice<UInt8>,
                                        now: ContinuousClock.Instant) -> [Action] {
        if channel == 0 { return error(.invalidChannel, channel: channel) }
        if channel == CTAPHID.broadcastChannel && command != .`init` { return error(.invalidChannel, channel: channel) }
        if channel != CTAPHID.broadcastChannel {
            // INIT on a channel the device never allocated adopts it, as solokeys' firmware does
            // (CTAP 2.1 §11.2.9.1.3 only describes broadcast and own channels; docs/conformance.md).
            guard channels.contains(channel) || command == .`init` else { return error(.invalidChannel, channel: channel) }
            remember(channel)
        }
        if length > CTAPHID.maxMessageSize { return error(.invalidLength, channel: channel) }

        // INIT is answered at once, whatever else is going on; on an own channel it also
        // abandons that channel's transaction (resynchronisation).
        if command == .`init` {
            var actions: [Action] = []
            switch state {
            case .assembling(let a) where a.channel == channel: state = .idle
            case .processing(let busy, _) where busy == channel:
                state = .idle
                actions.append(.cancel(channel: channel))
            default: break
            }
            return actions + initialize(channel: channel, length: length, data: data)
        }
        // CANCEL never gets a reply (§11.2.9.1.5).
        if command == .cancel {
            switch state {
            case .processing(let busy, _) where busy == channel: return [.cancel(channel: channel)]
            case .assembling(let a) where a.channel == channel: state = .idle
            default: break
            }
            return []
        }
        if let lock, lock.channel != channel { return error(.channelBusy, channel: channel) }
        switch state {
        case .processing: return error(.channelBusy, channel: channel)
        case .assembling(let a):
            // A new message on the same channel before the last one finished is a sequencing error.
            if a.channel == channel {
                state = .idle
                return error(.invalidSequence, channel: channel)
            }
            return error(.channelBusy, channel: channel)
        case .idle: break
        }
        if length <= CTAPHID.initPayloadSize {
            return dispatch(channel: channel, command: command, payload: Array(data.prefix(length)), now: now)
        }
        state = .assembling(Assembly(channel: channel, command: command, expectedLength: length, data: Array(data),
                                     nextSequence: 0, lastPacketAt: now))
        return []
    }

    // MARK: - Complete messages

    mutating func dispatch(channel: UInt32, command: CTAPHIDCommand, payload: [UInt8], now: ContinuousClock.Instant) -> [Action] {
        switch command {
        case .ping:
            return reply(channel: channel, command: .ping, payload: payload)
        case .wink where configuration.capabilities.contains(.wink):
            return [.wink(channel: channel)] + reply(channel: channel, command: .wink, payload: [])
        case .lock:
            guard payload.count == 1 else { return error(.invalidLength, channel: channel) }
            guard payload[0] <= 10 else { return error(.invalidParameter, channel: channel) }
            lock = payload[0] == 0 ? nil : (channel, now + .seconds(Int(payload[0])))
            return reply(channel: channel, command: .lock, payload: [])
        case .cbor where configuration.capabilities.contains(.cbor),
             .msg where !configuration.capabilities.contains(.noMessage):
            guard !payload.isEmpty else { return error(.invalidLength, channel: channel) }
            state = .processing(channel: channel, command: command)
            return [.execute(Request(channel: channel, command: command, payload: payload))]
        default:
            return error(.invalidCommand, channel: channel)
        }
    }

    /// INIT (§11.2.9.1.3): 8-byte nonce in; nonce, channel, versions and capabilities out.
    mutating func initialize(channel: UInt32, length: Int, data: ArraySlice<UInt8>) -> [Action] {
        guard length == 8 else { return error(.invalidLength, channel: channel) }
        let assigned = channel == CTAPHID.broadcastChannel ? allocateChannel() : channel
        let v = configuration.deviceVersion
        var payload = Array(data.prefix(8))
        payload += assigned.bigEndianBytes
        payload += [CTAPHID.protocolVersion, v.major, v.minor, v.build, configuration.capabilities.rawValue]
        return reply(channel: channel, command: .`init`, payload: payload)
    }

    mutating func allocateChannel() -> UInt32 {
        repeat {
            nextChannel &+= 1
        } while nextChannel == 0 || nextChannel == CTAPHID.broadcastChannel || channels.contains(nextChannel)
        remember(nextChannel)
        return nextChannel
    }

    /// Marks a channel as just used. The table is bounded; the channel unused for longest is
    /// forgotten first, so a host that keeps talking never loses its channel to a flood of INITs.
    mutating func remember(_ channel: UInt32) {
        if let index = channels.lastIndex(of: channel) { channels.remove(at: index) }
        channels.append(channel)
        if channels.count > configuration.maxChannels { channels.removeFirst() }
    }

    mutating func expire(now: ContinuousClock.Instant) -> [Action] {
        if let lock, now >= lock.until { self.lock = nil }
        if case .assembling(let a) = state, now - a.lastPacketAt >= configuration.transactionTimeout {
            state = .idle
            return error(.messageTimeout, channel: a.channel)
        }
        return []
    }

    func reply(channel: UInt32, command: CTAPHIDCommand, payload: [UInt8]) -> [Action] {
        CTAPHIDPacket.frame(channel: channel, command: command, payload: payload).map(Action.send)
    }

    func error(_ code: CTAPHIDError, channel: UInt32) -> [Action] {
        reply(channel: channel, command: .error, payload: [code.rawValue])
    }
}
