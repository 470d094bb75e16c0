import CBOR
import Crypto
import CTAPWire

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
