import CBOR
import Crypto

/// FIDO U2F raw messages (CTAP1, "FIDO U2F Raw Message Formats" v1.2) as CTAPHID_MSG carries
/// them: an ISO 7816-4 command APDU in, response data and a status word out.
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

extension Authenticator {
    /// Handles one CTAPHID_MSG: a U2F APDU in, response data and status word out.
    public func handleU2F(_ apdu: [UInt8]) async -> (response: [UInt8], reason: String) {
        do {
            let command = try U2FCommand(apdu: apdu)
            // With alwaysUv on, CTAP1 is switched off: it cannot verify the user (CTAP 2.1 §7.2.2).
            guard !settings.alwaysUv else { throw U2FStatus.insNotSupported }
            let body: [UInt8]
            switch U2FCommand.Instruction(rawValue: command.instruction) {
            case .version:
                guard command.data.isEmpty else { throw U2FStatus.wrongLength }
                body = Array("U2F_V2".utf8)
            case .register:
                body = try await u2fRegister(command.data)
            case .authenticate:
                body = try await u2fAuthenticate(command.data, control: command.p1)
            case nil:
                throw U2FStatus.insNotSupported
            }
            return (body + U2FStatus.noError.bytes, "ok")
        } catch let status as U2FStatus {
            return (status.bytes, String(format: "status %04X", status.word))
        } catch {
            return (U2FStatus(word: 0x6F00).bytes, "\(error)")
        }
    }

    /// REGISTER: challenge (32) | application (32) -> 0x05 | public key (65) | key handle length |
    /// key handle | attestation certificate | signature (fido-u2f attestation, batch key).
    func u2fRegister(_ data: [UInt8]) async throws -> [UInt8] {
        guard data.count == 64 else { throw U2FStatus.wrongLength }
        let challenge = Array(data[0..<32]), application = Array(data[32..<64])
        guard await presence.confirm(UserPresenceRequest(operation: .u2fRegister)) == .approved else {
            throw U2FStatus.conditionsNotSatisfied
        }
        let key = CredentialPrivateKey.generate(.es256, random: random)
        let source = CredentialSource(key: key.raw, algorithm: .es256, isResident: false, credProtect: 1)
        let keyHandle = try sealer.seal(source, rpIdHash: application, nonce: random.bytes(12))
        let publicKey = Array(try P256.Signing.PrivateKey(rawRepresentation: key.raw).publicKey.x963Representation)
        let signed: [UInt8] = [0x00] + application + challenge + keyHandle + publicKey
        let batchKey = try CredentialPrivateKey(algorithm: .es256, raw: secrets.batchKey)
        return [0x05] + publicKey + [UInt8(keyHandle.count)] + keyHandle + secrets.batchCertificate + (try batchKey.sign(signed))
    }

    /// AUTHENTICATE: challenge (32) | application (32) | key handle length | key handle ->
    /// user presence (1) | counter (4) | signature over application | flags | counter | challenge.
    func u2fAuthenticate(_ data: [UInt8], control: UInt8) async throws -> [UInt8] {
        guard data.count >= 65, data.count == 65 + Int(data[64]) else { throw U2FStatus.wrongLength }
        let challenge = Array(data[0..<32]), application = Array(data[32..<64]), keyHandle = Array(data[65...])
        // Only ES256 keys the RP could use without user verification (credProtect 3 needs UV).
        guard let candidate = try locate(keyHandle, rpIdHash: application), candidate.source.algorithm == .es256,
              candidate.source.credProtect < 3 else { throw U2FStatus.wrongData }
        var flags: UInt8 = 0
        switch U2FCommand.ControlByte(rawValue: control) {
        case .checkOnly:
            throw U2FStatus.conditionsNotSatisfied  // "this key handle is mine"
        case .enforcePresence:
            guard await presence.confirm(UserPresenceRequest(operation: .u2fAuthenticate)) == .approved else {
                throw U2FStatus.conditionsNotSatisfied
            }
            flags = 0x01
        case .dontEnforcePresence:
            flags = 0x00
        case nil:
            throw U2FStatus.wrongData
        }
        let counter = try nextSignCount()
        let counterBytes = [24, 16, 8, 0].map { UInt8(truncatingIfNeeded: counter >> $0) }
        let signature = try candidate.key.sign(application + [flags] + counterBytes + challenge)
        return [flags] + counterBytes + signature
    }
}
