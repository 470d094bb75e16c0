// libFuzzer target for the U2F APDU parser (built with Sources/CTAP/U2F/APDU.swift by `make fuzz`).
// Invariants: parsing never traps; a parsed command's data is a contiguous slice of the input
// that fits in it, and re-encoding it in the extended form parses back to the same command.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzAPDU(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let input = Array(UnsafeBufferPointer(start: data, count: size))
    guard let command = try? U2FCommand(apdu: input) else { return 0 }
    precondition(command.data.count <= max(0, input.count - 5), "data longer than the APDU allows")
    if !command.data.isEmpty {
        let n = command.data.count
        let extended: [UInt8] = [0, command.instruction, command.p1, 0, 0, UInt8(n >> 8), UInt8(n & 0xFF)] + command.data
        guard let again = try? U2FCommand(apdu: extended) else { preconditionFailure("extended re-encoding does not parse") }
        precondition(again.data == command.data && again.instruction == command.instruction && again.p1 == command.p1)
    }
    return 0
}
