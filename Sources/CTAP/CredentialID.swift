import Crypto
import CTAPWire
import Foundation

/// What a credential ID carries. Every credential ID this authenticator issues is the private
/// key AEAD-sealed under a key derived from the device master key, with the RP ID hash as
/// associated data: a non-resident credential needs no storage, a tampered ID or one presented
/// for another RP fails to open, and a reset (new master key) invalidates every old ID.
/// Resident credentials carry the same sealed key plus a flag that makes the ID valid only
/// while the store still holds it (so a deleted passkey cannot come back through an allowList).
/// An RSA key does not fit: its ID carries no key and the store keeps it ("detached").
public struct CredentialSource: Sendable, Equatable {
    /// The private key, or empty when the store keeps it (see `COSEAlgorithm.keyFitsInCredentialID`).
    public var key: [UInt8]
    public var algorithm: COSEAlgorithm
    public var isResident: Bool
    public var credProtect: UInt8
    /// Created with the hmac-secret extension (CTAP 2.1 §12.5).
    public var hmacSecret: Bool = false
    /// The credBlob extension's value (CTAP 2.1 §12.2), at most `maxCredBlobLength` bytes.
    public var credBlob: [UInt8] = []
    /// Created as a payment credential (CTAP 2.2 thirdPartyPayment).
    public var thirdPartyPayment = false

    var keyIsDetached: Bool { key.isEmpty }

    public init(key: [UInt8], algorithm: COSEAlgorithm, isResident: Bool, credProtect: UInt8,
                hmacSecret: Bool = false, credBlob: [UInt8] = []) {
        self.key = key
        self.algorithm = algorithm
        self.isResident = isResident
        self.credProtect = credProtect
        self.hmacSecret = hmacSecret
        self.credBlob = credBlob
    }
}

/// Layout (version 2): version (1) | nonce (12) | AES-256-GCM ciphertext of
/// [flags (1) | credProtect (1) | COSE alg (2, big endian, two's complement) | key length (1) |
///  key | credBlob length (1) | credBlob] | tag (16). flags: 1 resident, 2 hmac-secret,
///  4 thirdPartyPayment.
/// Version 1 IDs (flags | credProtect | alg | 32-byte key) still open.
public struct CredentialIDSealer: Sendable {
    static let version: UInt8 = 2
    static let overhead = 1 + 12 + 16
    static let maxKeyLength = 48
    public static let maxCredBlobLength = 32
    /// The longest ID this sealer makes: an ES384 key and a full credBlob.
    public static let maxLength = overhead + 5 + maxKeyLength + 1 + maxCredBlobLength

    enum Flag: UInt8 { case resident = 1, hmacSecret = 2, thirdPartyPayment = 4 }

    private let key: SymmetricKey

    public init(masterKey: [UInt8]) {
        key = HKDF<SHA256>.deriveKey(inputKeyMaterial: SymmetricKey(data: masterKey),
                                     info: Array("vfido credential id v1".utf8), outputByteCount: 32)
    }

    public func seal(_ source: CredentialSource, rpIdHash: [UInt8], nonce: [UInt8]) throws(CTAPError) -> [UInt8] {
        guard source.key.count <= Self.maxKeyLength, source.credBlob.count <= Self.maxCredBlobLength else {
            throw CTAPError(.other, "credential too large to seal")
        }
        let alg = UInt16(bitPattern: Int16(source.algorithm.rawValue))
        let flags = (source.isResident ? Flag.resident.rawValue : 0) | (source.hmacSecret ? Flag.hmacSecret.rawValue : 0)
            | (source.thirdPartyPayment ? Flag.thirdPartyPayment.rawValue : 0)
        var plain: [UInt8] = [flags, source.credProtect, UInt8(alg >> 8), UInt8(alg & 0xFF), UInt8(source.key.count)]
        plain += source.key
        plain.append(UInt8(source.credBlob.count))
        plain += source.credBlob
        do {
            let box = try AES.GCM.seal(plain, using: key, nonce: AES.GCM.Nonce(data: nonce), authenticating: rpIdHash)
            return [Self.version] + nonce + Array(box.ciphertext) + Array(box.tag)
        } catch {
            throw CTAPError(.other, "sealing credential failed")
        }
    }

    /// nil when the ID is not one of ours, was altered, or belongs to another RP.
    public func open(_ id: [UInt8], rpIdHash: [UInt8]) -> CredentialSource? {
        guard id.count > Self.overhead + 4, id.count <= Self.maxLength, id[0] == 1 || id[0] == Self.version else { return nil }
        guard let nonce = try? AES.GCM.Nonce(data: id[1..<13]),
              let box = try? AES.GCM.SealedBox(nonce: nonce, ciphertext: id[13..<(id.count - 16)], tag: id[(id.count - 16)...]),
              let plain = try? Array(AES.GCM.open(box, using: key, authenticating: rpIdHash))
        else { return nil }
        let algValue = Int(Int16(bitPattern: UInt16(plain[2]) << 8 | UInt16(plain[3])))
        guard let algorithm = COSEAlgorithm(rawValue: algValue), plain[0] <= (id[0] == 1 ? 3 : 7) else { return nil }
        var source = CredentialSource(key: [], algorithm: algorithm, isResident: plain[0] & Flag.resident.rawValue != 0,
                                      credProtect: plain[1], hmacSecret: plain[0] & Flag.hmacSecret.rawValue != 0)
        source.thirdPartyPayment = plain[0] & Flag.thirdPartyPayment.rawValue != 0
        if id[0] == 1 {
            guard plain.count == 36 else { return nil }
            source.key = Array(plain[4...])
            return source
        }
        let keyLength = Int(plain[4])
        guard plain.count >= 6 + keyLength else { return nil }
        source.key = Array(plain[5..<(5 + keyLength)])
        let blobLength = Int(plain[5 + keyLength])
        guard plain.count == 6 + keyLength + blobLength else { return nil }
        source.credBlob = Array(plain[(6 + keyLength)...])
        return source
    }
}
