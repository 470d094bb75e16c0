import CTAPHID

/// A CTAPHID failure seen by the client: the key's ERROR packet, or silence.
public enum CTAPHIDClientError: Error, CustomStringConvertible, Equatable {
    case deviceError(UInt8)
    case timeout(String)
    case malformed(String)

    public var description: String {
        switch self {
        case .deviceError(let code): "CTAPHID error 0x\(String(code, radix: 16))"
        case .timeout(let what): "no answer from the key (\(what))"
        case .malformed(let what): "malformed CTAPHID reply: \(what)"
        }
    }
}

/// The host side of CTAPHID (CTAP 2.1 §11.2): one channel allocated by INIT, requests framed
/// into reports, replies reassembled; KEEPALIVEs extend the wait and are reported to the caller.
public actor CTAPHIDClient {
    let transport: HIDReportTransport
    public private(set) var channel: UInt32 = CTAPHID.broadcastChannel
    public private(set) var capabilities: UInt8 = 0
    /// How long the key may stay silent (KEEPALIVEs every 100 ms reset it).
    let silence: Duration

    public init(transport: HIDReportTransport, silence: Duration = .seconds(5)) {
        self.transport = transport
        self.silence = silence
    }

    /// Allocates a channel (CTAPHID_INIT on the broadcast channel, matched by nonce).
    public func open() async throws {
        let nonce = (0..<8).map { _ in UInt8.random(in: 0...255) }
        let reply = try await transact(.`init`, nonce, on: CTAPHID.broadcastChannel, accept: { $0.prefix(8).elementsEqual(nonce) })
        guard reply.count >= 17 else { throw CTAPHIDClientError.malformed("INIT reply of \(reply.count) bytes") }
        channel = CTAPHIDPacket.channel(of: reply[8..<12])
        capabilities = reply[16]
    }

    /// One CTAPHID_CBOR exchange: the CTAP command byte and its CBOR in, status byte and CBOR out.
    /// Past `deadline` the request is cancelled (CTAPHID_CANCEL) as a browser does when the
    /// options' timeout runs out, and the key's answer to that (KEEPALIVE_CANCEL) is returned.
    public func cbor(_ request: [UInt8], deadline: ContinuousClock.Instant? = nil,
                     onKeepalive: @Sendable (UInt8) -> Void = { _ in }) async throws -> [UInt8] {
        if channel == CTAPHID.broadcastChannel { try await open() }
        return try await transact(.cbor, request, on: channel, deadline: deadline, onKeepalive: onKeepalive)
    }

    /// Asks the key to abandon the request in flight on our channel.
    public func cancel() async throws {
        for report in CTAPHIDPacket.frame(channel: channel, command: .cancel, payload: []) { try await transport.send(report) }
    }

    func transact(_ command: CTAPHIDCommand, _ payload: [UInt8], on channel: UInt32, deadline: ContinuousClock.Instant? = nil,
                  accept: ([UInt8]) -> Bool = { _ in true }, onKeepalive: @Sendable (UInt8) -> Void = { _ in }) async throws -> [UInt8] {
        for report in CTAPHIDPacket.frame(channel: channel, command: command, payload: payload) {
            try await transport.send(report)
        }
        var cancelAt = deadline
        while true {
            let message = try await receiveMessage(on: channel, cancelAt: &cancelAt, onKeepalive: onKeepalive)
            if message.command == .error { throw CTAPHIDClientError.deviceError(message.payload.first ?? 0) }
            // Replies to an earlier request on this channel (e.g. a stale INIT) are skipped.
            if message.command == command, accept(message.payload) { return message.payload }
        }
    }

    /// The next whole message on `channel`. Once `cancelAt` passes, a CANCEL is sent (once:
    /// `cancelAt` is cleared) and the wait goes on for the key's answer to it.
    func receiveMessage(on channel: UInt32, cancelAt: inout ContinuousClock.Instant?,
                        onKeepalive: @Sendable (UInt8) -> Void) async throws -> (command: CTAPHIDCommand, payload: [UInt8]) {
        while true {
            let wait = cancelAt.map { max(.zero, min(silence, $0 - .now)) } ?? silence
            guard let report = await transport.receive(timeout: wait) else {
                if let due = cancelAt, ContinuousClock.now >= due {
                    cancelAt = nil
                    try await cancel()
                    continue
                }
                throw CTAPHIDClientError.timeout("waiting for a reply")
            }
            guard let packet = CTAPHIDPacket(report: report), packet.channel == channel,
                  case .initialization(_, let command, let length, let data) = packet else { continue }
            if command == .keepalive {
                onKeepalive(data.first ?? 0)
                continue
            }
            guard length <= CTAPHID.maxMessageSize else { throw CTAPHIDClientError.malformed("length \(length)") }
            var payload = Array(data.prefix(length))
            var sequence: UInt8 = 0
            while payload.count < length {
                guard let next = await transport.receive(timeout: silence) else { throw CTAPHIDClientError.timeout("continuation \(sequence)") }
                guard let part = CTAPHIDPacket(report: next), part.channel == channel else { continue }
                guard case .continuation(_, let seq, let more) = part, seq == sequence else {
                    throw CTAPHIDClientError.malformed("expected continuation \(sequence)")
                }
                payload += more.prefix(length - payload.count)
                sequence += 1
            }
            return (command, payload)
        }
    }
}
