import Testing
@testable import CTAPHID

/// A test harness: drives the state machine with raw 64-byte reports and a manual clock.
struct Harness {
    var machine = CTAPHIDStateMachine(firstChannel: 0x1000)
    var now = ContinuousClock.now

    static func report(_ bytes: [UInt8]) -> [UInt8] { bytes + [UInt8](repeating: 0, count: 64 - bytes.count) }
    static func cid(_ c: UInt32) -> [UInt8] { [UInt8(c >> 24), UInt8(c >> 16 & 0xFF), UInt8(c >> 8 & 0xFF), UInt8(c & 0xFF)] }
    static func initPacket(_ c: UInt32, _ cmd: UInt8, length: Int, _ data: [UInt8] = []) -> [UInt8] {
        report(cid(c) + [cmd | 0x80, UInt8(length >> 8), UInt8(length & 0xFF)] + data)
    }
    static func contPacket(_ c: UInt32, seq: UInt8, _ data: [UInt8] = []) -> [UInt8] { report(cid(c) + [seq] + data) }

    mutating func send(_ report: [UInt8]) -> [CTAPHIDStateMachine.Action] { machine.receive(report, now: now) }
    mutating func advance(_ d: Duration) -> [CTAPHIDStateMachine.Action] {
        now += d
        return machine.poll(now: now)
    }

    /// Allocates a channel through a broadcast INIT and returns it.
    mutating func open() -> UInt32 {
        let actions = send(Self.initPacket(CTAPHID.broadcastChannel, 0x06, length: 8, [1, 2, 3, 4, 5, 6, 7, 8]))
        guard case .send(let r) = actions.first else { fatalError("no INIT reply") }
        return UInt32(r[15]) << 24 | UInt32(r[16]) << 16 | UInt32(r[17]) << 8 | UInt32(r[18])
    }
}

func sent(_ actions: [CTAPHIDStateMachine.Action]) -> [[UInt8]] {
    actions.compactMap { if case .send(let r) = $0 { r } else { nil } }
}

func errorReport(_ c: UInt32, _ code: UInt8) -> [UInt8] { Harness.initPacket(c, 0x3F, length: 1, [code]) }

@Suite struct Initialization {
    @Test func broadcastInitAllocatesAFreshChannel() {
        var h = Harness()
        let nonce: [UInt8] = [9, 8, 7, 6, 5, 4, 3, 2]
        let out = sent(h.send(Harness.initPacket(0xFFFF_FFFF, 0x06, length: 8, nonce)))
        #expect(out.count == 1)
        let r = out[0]
        #expect(Array(r[0..<4]) == [0xFF, 0xFF, 0xFF, 0xFF])
        #expect(r[4] == 0x86)
        #expect(Array(r[5..<7]) == [0, 17])
        #expect(Array(r[7..<15]) == nonce)
        let cid = UInt32(r[15]) << 24 | UInt32(r[16]) << 16 | UInt32(r[17]) << 8 | UInt32(r[18])
        #expect(cid != 0 && cid != 0xFFFF_FFFF)
        #expect(r[19] == 2)                          // CTAPHID protocol version
        #expect(Array(r[20..<23]) == [1, 0, 0])      // device version
        #expect(r[23] == 0x01 | 0x04)                // WINK | CBOR (MSG implemented: no NMSG)
        #expect(r[24...].allSatisfy { $0 == 0 })
        #expect(h.open() != cid)                     // every INIT gets a new channel
    }

    @Test func initWithWrongNonceLengthIsInvalidLength() {
        var h = Harness()
        #expect(sent(h.send(Harness.initPacket(0xFFFF_FFFF, 0x06, length: 4, [1, 2, 3, 4]))) == [errorReport(0xFFFF_FFFF, 0x03)])
    }

    @Test func initOnOwnChannelResynchronises() {
        var h = Harness()
        let c = h.open()
        _ = h.send(Harness.initPacket(c, 0x01, length: 100, Array(repeating: 1, count: 57)))  // half a PING
        let out = sent(h.send(Harness.initPacket(c, 0x06, length: 8, [1, 1, 1, 1, 1, 1, 1, 1])))
        #expect(out.count == 1)
        #expect(Array(out[0][0..<4]) == Harness.cid(c))
        #expect(Array(out[0][15..<19]) == Harness.cid(c))  // same channel kept
        // The abandoned PING's continuation is now spurious and ignored.
        #expect(h.send(Harness.contPacket(c, seq: 0, Array(repeating: 1, count: 43))).isEmpty)
    }

    @Test func initOnOwnChannelCancelsRunningRequest() {
        var h = Harness()
        let c = h.open()
        #expect(h.send(Harness.initPacket(c, 0x10, length: 1, [0x04])).count == 1)
        let actions = h.send(Harness.initPacket(c, 0x06, length: 8, [1, 1, 1, 1, 1, 1, 1, 1]))
        #expect(actions.first == .cancel(channel: c))
        // The late answer of the cancelled request is dropped.
        #expect(h.machine.complete(channel: c, command: .cbor, payload: [0]).isEmpty)
    }
}

@Suite struct Channels {
    @Test func nonInitOnBroadcastIsInvalidChannel() {
        var h = Harness()
        #expect(sent(h.send(Harness.initPacket(0xFFFF_FFFF, 0x01, length: 1, [0]))) == [errorReport(0xFFFF_FFFF, 0x0B)])
    }
    @Test func channelZeroIsInvalid() {
        var h = Harness()
        #expect(sent(h.send(Harness.initPacket(0, 0x06, length: 8, Array(repeating: 0, count: 8)))) == [errorReport(0, 0x0B)])
    }
    @Test func unallocatedChannelIsInvalid() {
        var h = Harness()
        _ = h.open()
        #expect(sent(h.send(Harness.initPacket(0xDEAD_BEEF, 0x01, length: 1, [0]))) == [errorReport(0xDEAD_BEEF, 0x0B)])
    }
    @Test func otherChannelMidMessageIsBusyAtOnce() {
        var h = Harness()
        let a = h.open(), b = h.open()
        #expect(h.send(Harness.initPacket(a, 0x01, length: 100, Array(repeating: 0xAA, count: 57))).isEmpty)
        #expect(sent(h.send(Harness.initPacket(b, 0x01, length: 1, [0]))) == [errorReport(b, 0x06)])
        // A's message still completes.
        let out = sent(h.send(Harness.contPacket(a, seq: 0, Array(repeating: 0xAA, count: 43))))
        #expect(out.count == 2)
        #expect(out[0][4] == 0x81)
    }
    @Test func otherChannelWhileProcessingIsBusy() {
        var h = Harness()
        let a = h.open(), b = h.open()
        _ = h.send(Harness.initPacket(a, 0x10, length: 1, [0x04]))
        #expect(sent(h.send(Harness.initPacket(b, 0x10, length: 1, [0x04]))) == [errorReport(b, 0x06)])
        #expect(sent(h.send(Harness.initPacket(a, 0x01, length: 1, [0]))) == [errorReport(a, 0x06)])
    }
    @Test func initFromAnotherClientIsAnsweredWhileBusy() {
        var h = Harness()
        let a = h.open()
        _ = h.send(Harness.initPacket(a, 0x10, length: 1, [0x04]))
        #expect(h.open() != a)
        #expect(h.machine.processingChannel == a)
    }
    @Test func spuriousContinuationIsIgnored() {
        var h = Harness()
        let a = h.open()
        #expect(h.send(Harness.contPacket(a, seq: 0, [1, 2, 3])).isEmpty)
    }
    @Test func channelTableIsBoundedAndForgetsTheLeastRecentlyUsed() {
        var h = Harness()
        h.machine = CTAPHIDStateMachine(configuration: .init(maxChannels: 4), firstChannel: 1)
        let first = h.open(), second = h.open()
        for _ in 0..<3 {
            _ = h.open()
            // The first host keeps using its channel, so floods of INITs never take it away.
            #expect(sent(h.send(Harness.initPacket(first, 0x01, length: 1, [7]))) == [Harness.initPacket(first, 0x01, length: 1, [7])])
        }
        #expect(sent(h.send(Harness.initPacket(second, 0x01, length: 0))) == [errorReport(second, 0x0B)])
        #expect(sent(h.send(Harness.initPacket(first, 0x01, length: 0))) == [Harness.initPacket(first, 0x01, length: 0)])
    }
    @Test func initOnANeverAllocatedChannelAdoptsIt() {
        var h = Harness()
        let nonce: [UInt8] = [9, 8, 7, 6, 5, 4, 3, 2]
        let reply = sent(h.send(Harness.initPacket(0x1234_5678, 0x06, length: 8, nonce)))
        // Answered on that channel, naming that channel (solokeys' firmware does the same).
        #expect(reply.count == 1)
        #expect(Array(reply[0][0..<7]) == Harness.cid(0x1234_5678) + [0x86, 0x00, 17])
        #expect(Array(reply[0][7..<15]) == nonce)
        #expect(Array(reply[0][15..<19]) == Harness.cid(0x1234_5678))
        // The channel now works like an allocated one.
        #expect(sent(h.send(Harness.initPacket(0x1234_5678, 0x01, length: 1, [0x42]))) == [Harness.initPacket(0x1234_5678, 0x01, length: 1, [0x42])])
        // Any other command on a channel never seen is still refused.
        #expect(sent(h.send(Harness.initPacket(0x0BAD_0BAD, 0x01, length: 1, [0]))) == [errorReport(0x0BAD_0BAD, 0x0B)])
    }
}

@Suite struct Assembly {
    @Test func sequenceGapIsInvalidSeq() {
        var h = Harness()
        let a = h.open()
        _ = h.send(Harness.initPacket(a, 0x01, length: 200, Array(repeating: 1, count: 57)))
        #expect(sent(h.send(Harness.contPacket(a, seq: 1, Array(repeating: 1, count: 59)))) == [errorReport(a, 0x04)])
        // The device is usable again.
        #expect(sent(h.send(Harness.initPacket(a, 0x01, length: 1, [7]))) == [Harness.initPacket(a, 0x01, length: 1, [7])])
    }
    @Test func newMessageOnSameChannelMidMessageIsInvalidSeq() {
        var h = Harness()
        let a = h.open()
        _ = h.send(Harness.initPacket(a, 0x01, length: 200, Array(repeating: 1, count: 57)))
        #expect(sent(h.send(Harness.initPacket(a, 0x01, length: 1, [1]))) == [errorReport(a, 0x04)])
    }
    @Test func stallIsMessageTimeout() {
        var h = Harness()
        let a = h.open()
        _ = h.send(Harness.initPacket(a, 0x01, length: 200, Array(repeating: 1, count: 57)))
        #expect(sent(h.advance(.milliseconds(400))).isEmpty)
        #expect(sent(h.advance(.milliseconds(100))) == [errorReport(a, 0x05)])
        #expect(h.send(Harness.contPacket(a, seq: 0, Array(repeating: 1, count: 59))).isEmpty)  // too late: ignored
    }
    @Test func eachPacketRestartsTheTimer() {
        var h = Harness()
        let a = h.open()
        _ = h.send(Harness.initPacket(a, 0x01, length: 200, Array(repeating: 1, count: 57)))
        _ = h.advance(.milliseconds(400))
        _ = h.send(Harness.contPacket(a, seq: 0, Array(repeating: 1, count: 59)))
        #expect(sent(h.advance(.milliseconds(400))).isEmpty)
    }
    @Test func tooLongIsInvalidLength() {
        var h = Harness()
        let a = h.open()
        #expect(sent(h.send(Harness.initPacket(a, 0x01, length: 7610))) == [errorReport(a, 0x03)])
    }
    @Test func maximumLengthPingRoundTrips() {
        var h = Harness()
        let a = h.open()
        let payload = (0..<7609).map { UInt8(truncatingIfNeeded: $0 * 7) }
        let reports = CTAPHIDPacket.frame(channel: a, command: .ping, payload: payload)
        #expect(reports.count == 129)
        var out: [[UInt8]] = []
        for r in reports { out += sent(h.send(r)) }
        #expect(out == reports)
    }
    @Test func dripFedAndBatchedAreTheSame() {
        var h = Harness()
        let a = h.open()
        let payload = (0..<300).map { UInt8($0 & 0xFF) }
        let reports = CTAPHIDPacket.frame(channel: a, command: .ping, payload: payload)
        var out: [[UInt8]] = []
        for r in reports {
            out += sent(h.send(r))
            _ = h.advance(.milliseconds(100))
        }
        #expect(out == reports)
    }
    @Test func shortReportsArePaddedLongOnesDropped() {
        var h = Harness()
        let a = h.open()
        let short = Harness.cid(a) + [0x81, 0, 2, 5, 6]
        #expect(sent(h.send(short)) == [Harness.initPacket(a, 0x01, length: 2, [5, 6])])
        #expect(h.send(Harness.initPacket(a, 0x01, length: 1, [1]) + [0]).isEmpty)
    }
}

@Suite struct Commands {
    @Test func unknownCommandIsInvalidCommand() {
        var h = Harness()
        let a = h.open()
        #expect(sent(h.send(Harness.initPacket(a, 0x55, length: 0))) == [errorReport(a, 0x01)])
        #expect(sent(h.send(Harness.initPacket(a, 0x3B, length: 0))) == [errorReport(a, 0x01)])  // KEEPALIVE is device-to-host
    }
    @Test func msgIsPassedUpUnlessNMSGIsConfigured() {
        var h = Harness()
        let a = h.open()
        let actions = h.send(Harness.initPacket(a, 0x03, length: 4, [0, 3, 0, 0]))
        guard case .execute(let request)? = actions.first else { Issue.record("MSG not executed: \(actions)"); return }
        #expect(request.command == .msg && request.payload == [0, 3, 0, 0])

        var without = Harness()
        without.machine = CTAPHIDStateMachine(configuration: .init(capabilities: [.wink, .cbor, .noMessage]), firstChannel: 0x1000)
        let b = without.open()
        #expect(sent(without.send(Harness.initPacket(b, 0x03, length: 1, [0]))) == [errorReport(b, 0x01)])
    }
    @Test func emptyCBORIsInvalidLength() {
        var h = Harness()
        let a = h.open()
        #expect(sent(h.send(Harness.initPacket(a, 0x10, length: 0))) == [errorReport(a, 0x03)])
    }
    @Test func cborIsExecutedAndAnswered() {
        var h = Harness()
        let a = h.open()
        #expect(h.send(Harness.initPacket(a, 0x10, length: 1, [0x04])) ==
            [.execute(.init(channel: a, command: .cbor, payload: [0x04]))])
        let out = sent(h.machine.complete(channel: a, command: .cbor, payload: [0x00, 0xA0]))
        #expect(out == [Harness.initPacket(a, 0x10, length: 2, [0x00, 0xA0])])
        #expect(h.machine.processingChannel == nil)
    }
    @Test func keepaliveWhileProcessingOnly() {
        var h = Harness()
        let a = h.open()
        #expect(h.machine.keepalive(.processing).isEmpty)
        _ = h.send(Harness.initPacket(a, 0x10, length: 1, [0x04]))
        #expect(sent(h.machine.keepalive(.userPresenceNeeded)) == [Harness.initPacket(a, 0x3B, length: 1, [2])])
        #expect(sent(h.machine.keepalive(.processing)) == [Harness.initPacket(a, 0x3B, length: 1, [1])])
    }
    @Test func cancelGetsNoReplyAndCancelsTheRequest() {
        var h = Harness()
        let a = h.open(), b = h.open()
        _ = h.send(Harness.initPacket(a, 0x10, length: 1, [0x02]))
        #expect(h.send(Harness.initPacket(b, 0x11, length: 0)).isEmpty)  // another channel's cancel: nothing
        #expect(h.send(Harness.initPacket(a, 0x11, length: 0)) == [.cancel(channel: a)])
        // The request then answers (with CTAP2_ERR_KEEPALIVE_CANCEL from the layer above).
        #expect(sent(h.machine.complete(channel: a, command: .cbor, payload: [0x2D])) == [Harness.initPacket(a, 0x10, length: 1, [0x2D])])
    }
    @Test func cancelWhenIdleIsIgnored() {
        var h = Harness()
        let a = h.open()
        #expect(h.send(Harness.initPacket(a, 0x11, length: 0)).isEmpty)
    }
    @Test func winkAnswersWithOneEmptyPacket() {
        var h = Harness()
        let a = h.open()
        let actions = h.send(Harness.initPacket(a, 0x08, length: 0))
        #expect(actions.first == .wink(channel: a))
        #expect(sent(actions) == [Harness.initPacket(a, 0x08, length: 0)])
    }
    @Test func emptyPingStillSendsOnePacket() {
        var h = Harness()
        let a = h.open()
        #expect(sent(h.send(Harness.initPacket(a, 0x01, length: 0))) == [Harness.initPacket(a, 0x01, length: 0)])
    }
    @Test func lockKeepsOtherChannelsOutUntilItExpires() {
        var h = Harness()
        let a = h.open(), b = h.open()
        #expect(sent(h.send(Harness.initPacket(a, 0x04, length: 1, [2]))) == [Harness.initPacket(a, 0x04, length: 0)])
        #expect(sent(h.send(Harness.initPacket(b, 0x01, length: 1, [1]))) == [errorReport(b, 0x06)])
        #expect(sent(h.send(Harness.initPacket(a, 0x01, length: 1, [1]))) == [Harness.initPacket(a, 0x01, length: 1, [1])])
        _ = h.advance(.seconds(2))
        #expect(sent(h.send(Harness.initPacket(b, 0x01, length: 1, [1]))) == [Harness.initPacket(b, 0x01, length: 1, [1])])
    }
    @Test func lockReleaseAndBadParameters() {
        var h = Harness()
        let a = h.open(), b = h.open()
        _ = h.send(Harness.initPacket(a, 0x04, length: 1, [10]))
        _ = h.send(Harness.initPacket(a, 0x04, length: 1, [0]))
        #expect(sent(h.send(Harness.initPacket(b, 0x01, length: 0))) == [Harness.initPacket(b, 0x01, length: 0)])
        #expect(sent(h.send(Harness.initPacket(a, 0x04, length: 1, [11]))) == [errorReport(a, 0x02)])
        #expect(sent(h.send(Harness.initPacket(a, 0x04, length: 0))) == [errorReport(a, 0x03)])
    }
}
