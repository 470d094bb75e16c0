import Bytes
import CTAP
import Foundation
import Logging
import Testing
@testable import VirtualKey

/// The reports a session sent back, collected as they come.
final class Replies: @unchecked Sendable {
    private let lock = NSLock()
    private var reports: [[UInt8]] = []
    var all: [[UInt8]] { lock.withLock { reports } }
    var sink: ReportSink { ReportSink { [self] report in lock.withLock { reports.append(report) } } }

    /// Waits (up to 10 s: a loaded CI machine) until some report matches.
    func first(where match: ([UInt8]) -> Bool) async throws -> [UInt8] {
        for _ in 0..<1000 {
            if let found = all.first(where: match) { return found }
            try await Task.sleep(for: .milliseconds(10))
        }
        throw CancellationError()
    }
}

@Suite(.serialized) struct HIDSessionTests {
    static func session(presence: UserPresence) throws -> HIDSession {
        let tracked = TrackedPresence(presence)
        let authenticator = try makeAuthenticator(configuration: DaemonConfiguration(stateDirectory: nil), presence: tracked)
        return HIDSession(authenticator: authenticator, presence: tracked, logger: Logger(label: "test") { _ in SwiftLogNoOpLogHandler() })
    }

    static func open(_ session: HIDSession, _ replies: Replies) async throws -> UInt32 {
        await session.receive(UDPClient.packet(0xFFFF_FFFF, 0x86, [1, 2, 3, 4, 5, 6, 7, 8]), reply: replies.sink)
        let reply = try await replies.first { $0[4] == 0x86 }
        return UInt32(bigEndianBytes: reply[15..<19])
    }

    /// A started session with a channel open and authenticatorSelection waiting for a touch
    /// that never comes.
    static func waitingForATouch() async throws -> (HIDSession, Replies, UInt32) {
        let session = try Self.session(presence: WaitForever())
        await session.start()
        let replies = Replies()
        let cid = try await Self.open(session, replies)
        await session.receive(UDPClient.packet(cid, 0x90, [0x0B]), reply: replies.sink)
        return (session, replies, cid)
    }

    @Test func aWaitingPromptSendsUpNeededAndCancelAnswersKeepaliveCancel() async throws {
        let (session, replies, cid) = try await Self.waitingForATouch()
        defer { Task { await session.stop() } }
        let keepalive = try await replies.first { $0[4] == 0xBB }
        #expect(Array(keepalive[0..<8]) == cid.bigEndianBytes + [0xBB, 0x00, 0x01, 0x02])  // KEEPALIVE UPNEEDED on our channel
        // INIT from another host is answered while the request runs; CANCEL gets no reply of its own.
        await session.receive(UDPClient.packet(cid &+ 1, 0x86, [9, 9, 9, 9, 9, 9, 9, 9]), reply: replies.sink)
        _ = try await replies.first { $0[4] == 0x86 && $0[7] == 9 }
        await session.receive(UDPClient.packet(cid, 0x91, []), reply: replies.sink)
        let answer = try await replies.first { $0[4] == 0x90 }
        #expect(Array(answer[0..<8]) == cid.bigEndianBytes + [0x90, 0x00, 0x01, 0x2D])  // CTAP2_ERR_KEEPALIVE_CANCEL
        #expect(!replies.all.contains { $0[4] == 0x91 })
        // The session is free again.
        await session.receive(UDPClient.packet(cid, 0x81, [0x42]), reply: replies.sink)
        #expect(Array(try await replies.first { $0[4] == 0x81 }[0..<8]) == cid.bigEndianBytes + [0x81, 0x00, 0x01, 0x42])
    }

    @Test func keepalivesRepeatWhileThePromptWaits() async throws {
        let (session, replies, cid) = try await Self.waitingForATouch()
        defer { Task { await session.stop() } }
        // At least three, one per 100 ms tick: the platform's wait never runs dry.
        _ = try await replies.first { _ in replies.all.filter { $0[4] == 0xBB }.count >= 3 }
        #expect(replies.all.filter { $0[4] == 0xBB }.allSatisfy { $0[7] == 0x02 })
        await session.receive(UDPClient.packet(cid, 0x91, []), reply: replies.sink)
        _ = try await replies.first { $0[4] == 0x90 }
    }

    @Test func resynchronisingAbandonsTheRunningRequestWithoutAnAnswer() async throws {
        let (session, replies, cid) = try await Self.waitingForATouch()
        defer { Task { await session.stop() } }
        _ = try await replies.first { $0[4] == 0xBB }
        await session.receive(UDPClient.packet(cid, 0x86, [7, 7, 7, 7, 7, 7, 7, 7]), reply: replies.sink)  // INIT on our channel
        let resync = try await replies.first { $0[4] == 0x86 && $0[7] == 7 }
        #expect(Array(resync[15..<19]) == cid.bigEndianBytes)  // the same channel
        await session.receive(UDPClient.packet(cid, 0x81, [1]), reply: replies.sink)
        _ = try await replies.first { $0[4] == 0x81 }
        #expect(!replies.all.contains { $0[4] == 0x90 })  // the abandoned selection never answered
    }
}

@Suite(.serialized) struct BoundedState {
    @Test func reportsOnStrangeChannelsLeaveNothingBehind() async throws {
        let session = try HIDSessionTests.session(presence: FixedPresence(approve: true))
        let replies = Replies()
        let mine = try await HIDSessionTests.open(session, replies)
        for n in 0..<2_000 {
            let stranger = UInt32(0x5000_0000 + n)
            // Every other one INITs (and is adopted), the rest PING a channel never allocated.
            let report = n % 2 == 0 ? UDPClient.packet(stranger, 0x86, [1, 2, 3, 4, 5, 6, 7, 8]) : UDPClient.packet(stranger, 0x81, [1])
            await session.receive(report, reply: replies.sink)
            // The host that keeps talking keeps its channel.
            if n % 100 == 0 { await session.receive(UDPClient.packet(mine, 0x81, [0x77]), reply: replies.sink) }
        }
        #expect(await session.sinks.count <= 258)
        let answered = replies.all.filter { (0x5000_0000..<0x5000_0000 + 2_000).contains(UInt32(bigEndianBytes: $0[0..<4])) }
        #expect(answered.count == 2_000)  // each got its answer: INIT or ERR_INVALID_CHANNEL
        #expect(answered.filter { $0[4] == 0xBF && $0[7] == 0x0B }.count == 1_000)
        await session.receive(UDPClient.packet(mine, 0x81, [0x42]), reply: replies.sink)
        #expect(Array(try await replies.first { $0[4] == 0x81 && $0[7] == 0x42 }[0..<4]) == mine.bigEndianBytes)
    }

    @Test func aFullQueueRefusesWithChannelBusyInsteadOfDropping() async throws {
        let gate = Gate()
        let delivered = Replies()
        let feed = ReportFeed(buffering: 4, logger: Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }) { input in
            await gate.wait()
            if case .report(let report, _) = input { delivered.sink.send(report) }
        }
        let answers = Replies()
        for n in 0..<50 { feed.yield(UDPClient.packet(0x0100_0000 + UInt32(n), 0x81, [UInt8(n)]), reply: answers.sink) }
        // The consumer holds the first report; four wait in the queue; the other 45 are refused,
        // each with CHANNEL_BUSY on its own channel.
        let refused = feed.refused
        #expect(refused >= 44 && refused <= 46)
        #expect(answers.all.count == refused)
        #expect(answers.all.allSatisfy { $0[4] == 0xBF && $0[5] == 0 && $0[6] == 1 && $0[7] == 0x06 })
        await gate.open()
        _ = try await delivered.first { _ in delivered.all.count == 50 - refused }
        #expect(delivered.all.count + refused == 50)  // every report delivered or answered
        feed.finish()
    }
}

/// Holds callers until opened.
actor Gate {
    private var isOpen = false
    private var waiting: [CheckedContinuation<Void, Never>] = []
    func wait() async {
        if isOpen { return }
        await withCheckedContinuation { waiting.append($0) }
    }
    func open() {
        isOpen = true
        waiting.forEach { $0.resume() }
        waiting = []
    }
}
