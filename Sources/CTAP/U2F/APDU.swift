/// FIDO U2F raw messages (CTAP1, "FIDO U2F Raw Message Formats" v1.2) as CTAPHID_MSG carries
/// them: an ISO 7816-4 command APDU in, response data and a status word out. No dependencies:
/// the APDU fuzz target builds this file alone.
struct U2FCommand {
    enum Instruction: UInt8 { case register = 0x01, authenticate = 0x02, version = 0x03 }
    enum ControlByte: UInt8 { case enforcePresence = 0x03, checkOnly = 0x07, dontEnforcePresence = 0x08 }

    var instruction: UInt8
    var p1: UInt8
    var data: [UInt8]

    /// Short (Lc one byte) and extended (0x00, Lc two bytes) encodings, each with an optional Le.
    init(apdu: [UInt8]) throws(U2FStatus) {
        guard apdu.count >= 4 else { throw .wrongLength }
        guard apdu[0] == 0x00 else { throw .claNotSupported }
        instruction = apdu[1]
        p1 = apdu[2]
        let body = Array(apdu[4...])
        switch body.count {
        case 0:
            data = []
        case 1:
            data = []  // Le only
        default:
            if body[0] == 0 {
                guard body.count >= 3 else { throw .wrongLength }
                let lc = Int(body[1]) << 8 | Int(body[2])
                let rest = body.count - 3 - lc
                guard rest == 0 || rest == 2 || (lc == 0 && body.count == 3) else { throw .wrongLength }
                data = lc == 0 ? [] : Array(body[3..<(3 + lc)])
            } else {
                let lc = Int(body[0])
                let rest = body.count - 1 - lc
                guard rest == 0 || rest == 1 else { throw .wrongLength }
                data = Array(body[1..<(1 + lc)])
            }
        }
    }
}

/// ISO 7816 status words U2F uses.
struct U2FStatus: Error, Equatable {
    let word: UInt16
    static let noError = U2FStatus(word: 0x9000)
    static let conditionsNotSatisfied = U2FStatus(word: 0x6985)  // test of user presence required
    static let wrongData = U2FStatus(word: 0x6A80)  // bad key handle
    static let wrongLength = U2FStatus(word: 0x6700)
    static let claNotSupported = U2FStatus(word: 0x6E00)
    static let insNotSupported = U2FStatus(word: 0x6D00)
    var bytes: [UInt8] { [UInt8(word >> 8), UInt8(word & 0xFF)] }
}
