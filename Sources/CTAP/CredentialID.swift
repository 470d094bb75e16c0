import Crypto
import Foundation

/// What a credential ID carries. Every credential ID this authenticator issues is the private
/// key AEAD-sealed under a key derived from the device master key, with the RP ID hash as
/// associated data: a non-resident credential needs no storage, a tampered ID or one presented
/// for another RP fails to open, and a reset (new master key) invalidates every old ID.
/// Resident credentials carry the same sealed key plus a flag that makes the ID valid only
/// while the store still holds it (so a deleted passkey cannot come back through an allowList).
public struct CredentialSource: Sendable, Equatable {
    public var key: [UInt8]
    public var algorithm: COSEAlgorithm
    public var isResident: Bool
    public var credProtect: UInt8
}

/// Layout: version (1) | nonce (12) | AES-256-GCM ciphertext of
/// [flags (1) | credProtect (1) | COSE alg (2, big endian, two's complement) | key (32)] | tag (16).
public struct CredentialIDSealer: Sendable {
    static let version: UInt8 = 1
    static let sealedLength = 1 + 12 + 4 + 32 + 16
    private let key: SymmetricKey

    public init(masterKey: [UInt8]) {
        key = HKDF<SHA256>.deriveKey(inputKeyMaterial: SymmetricKey(data: masterKey),
                                     info: Array("vfido credential id v1".utf8), outputByteCount: 32)
    }

    public func seal(_ source: CredentialSource, rpIdHash: [UInt8], nonce: [UInt8]) throws(CTAPError) -> [UInt8] {
        let alg = UInt16(bitPattern: Int16(source.algorithm.rawValue))
        var plain: [UInt8] = [source.isResident ? 1 : 0, source.credProtect, UInt8(alg >> 8), UInt8(alg & 0xFF)]
        plain += source.key
        do {
            let box = try AES.GCM.seal(plain, using: key, nonce: AES.GCM.Nonce(data: nonce), authenticating: rpIdHash)
            return [Self.version] + nonce + Array(box.ciphertext) + Array(box.tag)
        } catch {
            throw CTAPError(.other, "sealing credential failed")
        }
    }

    /// nil when the ID is not one of ours, was altered, or belongs to another RP.
    public func open(_ id: [UInt8], rpIdHash: [UInt8]) -> CredentialSource? {
        guard id.count == Self.sealedLength, id[0] == Self.version else { return nil }
        guard let nonce = try? AES.GCM.Nonce(data: id[1..<13]),
              let box = try? AES.GCM.SealedBox(nonce: nonce, ciphertext: id[13..<(id.count - 16)], tag: id[(id.count - 16)...]),
              let plain = try? Array(AES.GCM.open(box, using: key, authenticating: rpIdHash)),
              plain.count == 36
        else { return nil }
        let algValue = Int(Int16(bitPattern: UInt16(plain[2]) << 8 | UInt16(plain[3])))
        guard let algorithm = COSEAlgorithm(rawValue: algValue), plain[0] <= 1 else { return nil }
        return CredentialSource(key: Array(plain[4...]), algorithm: algorithm, isResident: plain[0] == 1, credProtect: plain[1])
    }
}
