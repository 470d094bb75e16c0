// libFuzzer target for the CTAPHID state machine (built with the CTAPHID sources by `make fuzz`).
// The input is cut into reports of 1..64 bytes (the first byte of each chunk picks its length and
// a time step). Invariants: every report the device sends is 64 bytes, executed requests are
// non-empty and at most 7609 bytes, and after any input a fresh INIT + PING still works.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzCTAPHID(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let input = Array(UnsafeBufferPointer(start: data, count: size))
    var machine = CTAPHIDStateMachine(firstChannel: 1)
    var now = ContinuousClock.now
    var channels: [UInt32] = [0xFFFF_FFFF, 0, 2, 3]
    var offset = 0

    func check(_ actions: [CTAPHIDStateMachine.Action]) {
        for action in actions {
            switch action {
            case .send(let report):
                precondition(report.count == 64, "sent a \(report.count)-byte report")
                if report[4] == 0x86, report.count >= 19 {
                    channels.append(UInt32(report[15]) << 24 | UInt32(report[16]) << 16 | UInt32(report[17]) << 8 | UInt32(report[18]))
                }
            case .execute(let request):
                precondition(!request.payload.isEmpty && request.payload.count <= CTAPHID.maxMessageSize)
                check(machine.complete(channel: request.channel, command: request.command, payload: [0]))
            case .cancel, .wink:
                break
            }
        }
    }

    while offset < input.count {
        let control = input[offset]
        offset += 1
        let length = min(Int(control & 0x3F) + 1, input.count - offset)
        var report = Array(input[offset..<(offset + length)])
        offset += length
        // Half of the time, aim the report at a channel the device knows, so deep states are reached.
        if control & 0x40 != 0, report.count >= 4 {
            let channel = channels[Int(report[0]) % channels.count]
            report[0] = UInt8(channel >> 24); report[1] = UInt8(channel >> 16 & 0xFF)
            report[2] = UInt8(channel >> 8 & 0xFF); report[3] = UInt8(channel & 0xFF)
        }
        if control & 0x80 != 0 { now += .milliseconds(Int(control & 0x3F) * 20) }
        check(machine.receive(report, now: now))
        check(machine.poll(now: now))
    }

    // Whatever happened, the device must still answer a new client (after any lock expires).
    now += .seconds(11)
    check(machine.poll(now: now))
    let initReply = machine.receive(CTAPHIDPacket.frame(channel: 0xFFFF_FFFF, command: .`init`, payload: [1, 2, 3, 4, 5, 6, 7, 8])[0], now: now)
    guard case .send(let reply)? = initReply.last, reply[4] == 0x86 else { fatalError("INIT not answered: \(initReply)") }
    let channel = UInt32(reply[15]) << 24 | UInt32(reply[16]) << 16 | UInt32(reply[17]) << 8 | UInt32(reply[18])
    let ping = CTAPHIDPacket.frame(channel: channel, command: .ping, payload: [42])[0]
    var answer = machine.receive(ping, now: now)
    if answer.isEmpty || answer == [] {
        fatalError("PING not answered")
    }
    if case .send(let r) = answer.removeLast(), r[4] == 0x81 || (r[4] == 0xBF && r[7] == 0x06) {
        return 0  // answered, or busy because a request is still running
    }
    fatalError("unexpected answer to PING: \(answer)")
}
