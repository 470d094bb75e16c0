import Bytes
import CBOR
import Faults
import Testing

/// A getAssertion response as vfido sends it: credential, authData (rpIdHash, flags UP, counter 7), signature.
let assertion: [UInt8] = [0] + CBORValue.intMap([
    (1, .textMap([("id", .bytes([1, 2, 3])), ("type", .text("public-key"))])),
    (2, .bytes([UInt8](repeating: 0xAA, count: 32) + [0x01, 0, 0, 0, 7])),
    (3, .bytes([UInt8](repeating: 0x30, count: 70))),
]).encoded

func packets(_ count: Int) -> [[UInt8]] {
    let head: [UInt8] = [0, 0, 0, 9, 0x90, 0x01, 0x00] + [UInt8](repeating: 1, count: 57)
    return [head] + (0..<(count - 1)).map { [0, 0, 0, 9, UInt8($0)] + [UInt8](repeating: 2, count: 59) }
}

@Suite struct FaultRuleTests {
    @Test func parsesKindCommandAndRate() throws {
        #expect(try FaultRule(parsing: "ctap.truncated@getAssertion:0.5") == FaultRule(fault: .truncated, command: "getAssertion", rate: 0.5))
        #expect(try FaultRule(parsing: "usbip.stall") == FaultRule(fault: .stall))
        #expect(throws: FaultRule.Invalid.self) { try FaultRule(parsing: "ctap.nothing") }
        #expect(throws: FaultRule.Invalid.self) { try FaultRule(parsing: "ctap.truncated@makeCredentail") }
        #expect(throws: FaultRule.Invalid.self) { try FaultRule(parsing: "ctap.truncated:1.5") }
    }
}

@Suite struct FaultInjectorTests {
    @Test func theSameSeedMakesTheSameLies() {
        func run(_ seed: UInt64) -> ([[UInt8]], [Mutation]) {
            let injector = FaultInjector(rules: [FaultRule(fault: .badSignature, rate: 0.5), FaultRule(fault: .truncated, rate: 0.3)], seed: seed)
            let out = (0..<20).map { _ in injector.mutateResponse(assertion, command: "getAssertion", request: [2]) }
            return (out, injector.log)
        }
        let (a, logA) = run(7), (b, logB) = run(7), (c, _) = run(8)
        #expect(a == b && logA == logB)
        #expect(a != c)
        #expect(!logA.isEmpty && logA.count < 40, "a rate below 1 applies to some replies, not all")
    }

    @Test func aReplayAppliesExactlyTheLoggedMutations() {
        let drawn = FaultInjector(rules: Fault.allCases.filter { $0.stage == .response }.map { FaultRule(fault: $0, rate: 0.2) }, seed: 99)
        let original = (0..<30).map { _ in drawn.mutateResponse(assertion, command: "getAssertion", request: [2]) }
        let replayed = FaultInjector(replaying: drawn.log)
        #expect((0..<30).map { _ in replayed.mutateResponse(assertion, command: "getAssertion", request: [2]) } == original)
        #expect(replayed.log == drawn.log)
        // Without one mutation (what minimising tries), every other reply stays as it was.
        let dropped = drawn.log[0]
        let fewer = FaultInjector(replaying: Array(drawn.log.dropFirst()))
        let minus = (0..<30).map { _ in fewer.mutateResponse(assertion, command: "getAssertion", request: [2]) }
        for event in 0..<30 where event != dropped.event { #expect(minus[event] == original[event], "reply \(event)") }
        if !drawn.log.dropFirst().contains(where: { $0.event == dropped.event }) { #expect(minus[dropped.event] == assertion) }
    }

    @Test func aCommandFilterLeavesOtherRepliesAlone() {
        let injector = FaultInjector(rules: [FaultRule(fault: .wrongStatus, command: "makeCredential")], seed: 1)
        #expect(injector.mutateResponse(assertion, command: "getAssertion", request: [2]) == assertion)
        #expect(injector.mutateResponse([0x00], command: "makeCredential", request: [1]) != [0x00])
    }

    @Test func signatureAndFlagFaultsChangeWhatTheyName() throws {
        func once(_ fault: Fault) -> CBORValue {
            let out = FaultInjector(rules: [FaultRule(fault: fault)], seed: 3).mutateResponse(assertion, command: "getAssertion", request: [2])
            return try! CBORReader.decode(Array(out.dropFirst()))
        }
        let original = try CBORReader.decode(Array(assertion.dropFirst()))
        let authData = original[int: 2]!.bytesValue!
        #expect(once(.badSignature)[int: 3] != original[int: 3])
        #expect(once(.badSignature)[int: 2] == original[int: 2])
        #expect(once(.upLie)[int: 2]!.bytesValue![32] == authData[32] ^ 0x01)
        #expect(once(.uvLie)[int: 2]!.bytesValue![32] == authData[32] ^ 0x04)
        #expect(once(.wrongRpIdHash)[int: 2]!.bytesValue![0..<32] != authData[0..<32])
        #expect(UInt32(bigEndianBytes: once(.counterBackwards)[int: 2]!.bytesValue![33..<37]) < 7)
    }

    @Test func cborFaultsBreakWhatAStrictReaderAccepts() {
        for fault in [Fault.nonCanonical, .hugeLength] {
            for seed in 0..<6 as Range<UInt64> {
                let out = FaultInjector(rules: [FaultRule(fault: fault)], seed: seed).mutateResponse(assertion, command: "getAssertion", request: [2])
                #expect(out != assertion)
                #expect((try? CBORReader.decode(Array(out.dropFirst()))) == nil, "\(fault) seed \(seed): \(out.hex)")
            }
        }
        let typed = FaultInjector(rules: [FaultRule(fault: .wrongType)], seed: 5).mutateResponse(assertion, command: "getAssertion", request: [2])
        #expect(typed != assertion)
        let keyed = try! CBORReader.decode(Array(FaultInjector(rules: [FaultRule(fault: .unknownKey)], seed: 5)
            .mutateResponse(assertion, command: "getAssertion", request: [2]).dropFirst()))
        #expect(keyed.mapValue!.count == 4)
    }

    @Test func aBareStatusGetsNoCBORFaultAndNothingIsLogged() {
        let injector = FaultInjector(rules: [FaultRule(fault: .nonCanonical), FaultRule(fault: .badSignature)], seed: 2)
        #expect(injector.mutateResponse([0x2E], command: "getAssertion", request: [2]) == [0x2E])
        #expect(injector.log.isEmpty)
    }

    @Test func frameFaults() {
        func once(_ fault: Fault, seed: UInt64 = 4) -> [TimedReport] {
            FaultInjector(rules: [FaultRule(fault: fault)], seed: seed).mutateFrames(packets(3), command: "cbor")
        }
        #expect(once(.dropPacket).count == 2)
        #expect(once(.duplicatePacket).count == 4)
        #expect(once(.keepaliveStorm).count >= 53 && once(.keepaliveStorm).first!.report[4] == 0xBB)
        #expect(once(.lateReply).allSatisfy { $0.delay >= .seconds(3) })
        let short = once(.shortLength)[0].report, long = once(.longLength)[0].report
        #expect(UInt16(bigEndianBytes: short[5..<7]) < 256 && UInt16(bigEndianBytes: long[5..<7]) > 256)
        #expect(once(.wrongSequence).map(\.report) != packets(3))
        #expect(once(.wrongChannel).contains { $0.report[0..<4] != [0, 0, 0, 9] })
        // A KEEPALIVE is not a reply: it passes untouched and is not counted.
        let keepalive: [UInt8] = [0, 0, 0, 9, 0xBB, 0, 1, 1] + [UInt8](repeating: 0, count: 56)
        let injector = FaultInjector(rules: [FaultRule(fault: .dropPacket)], seed: 4)
        #expect(injector.mutateFrames([keepalive], command: "keepalive").count == 1)
        #expect(injector.log.isEmpty)
    }

    @Test func configureStartsOverAndNoRulesMeansNoLies() {
        let injector = FaultInjector(rules: [FaultRule(fault: .truncated)], seed: 1)
        let first = injector.mutateResponse(assertion, command: "getAssertion", request: [2])
        #expect(first != assertion && injector.count == 1)
        injector.configure(rules: [], seed: 0)
        #expect(injector.mutateResponse(assertion, command: "getAssertion", request: [2]) == assertion)
        #expect(injector.count == 0 && injector.log.isEmpty && injector.rules.isEmpty)
        injector.configure(rules: [FaultRule(fault: .truncated)], seed: 1)
        #expect(injector.mutateResponse(assertion, command: "getAssertion", request: [2]) == first, "the same seed, the same first lie")
        #expect(injector.log.first?.event == 0)
    }

    @Test func urbFaults() {
        let data = [UInt8](repeating: 7, count: 64)
        #expect(FaultInjector(rules: [FaultRule(fault: .stall)], seed: 1).urbFault(for: data) == .stall)
        if case .shortLength(let n) = FaultInjector(rules: [FaultRule(fault: .shortActualLength)], seed: 1).urbFault(for: data) {
            #expect(n < 64)
        } else { Issue.record("no short completion") }
        #expect(FaultInjector(rules: [], seed: 1).urbFault(for: data) == nil)
    }
}
