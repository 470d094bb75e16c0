import CBOR
import Crypto
import CTAPWire
import Foundation

/// The PIN as the store keeps it (CTAP 2.1 §6.5.5): a hash, never the PIN, and the retries
/// counter, which survives power cycles.
struct StoredPin: Sendable, Equatable {
    static let storeName = "pin"
    static let maxRetries = 8
    /// The longest PIN in bytes: paddedPin is 64 bytes and ends in a zero (§6.5.5.5).
    static let maxLength = 63

    /// LEFT(SHA-256(PIN), 16).
    var hash: [UInt8]?
    var retries: Int = StoredPin.maxRetries
    var minLength: Int = 4
    var forceChange: Bool = false
    /// The PIN's length in code points, so setMinPINLength can tell whether it still complies.
    var length: Int?
    /// CTAP 2.2's persistentPinUvAuthToken (§6.5.5.7.2, pcmr): made when a platform first asks
    /// for it, it survives power cycles and lasts until the PIN changes or the key is reset.
    var persistentToken: [UInt8]?

    enum Key: Int { case hash = 1, retries = 2, minLength = 3, forceChange = 4, length = 5, persistentToken = 6 }

    var cbor: CBORValue {
        .keyed([(Key.hash, hash.map(CBORValue.bytes)), (.retries, .int(retries)), (.minLength, .int(minLength)),
                (.forceChange, .bool(forceChange)), (.length, length.map(CBORValue.int)),
                (.persistentToken, persistentToken.map(CBORValue.bytes))])
    }

    init() {}

    init(cbor: CBORValue) {
        hash = cbor[Key.hash]?.bytesValue
        retries = cbor[Key.retries]?.intValue ?? Self.maxRetries
        minLength = cbor[Key.minLength]?.intValue ?? 4
        forceChange = cbor[Key.forceChange]?.boolValue ?? false
        length = cbor[Key.length]?.intValue
        persistentToken = cbor[Key.persistentToken]?.bytesValue
    }
}

/// Permissions of a pinUvAuthToken (CTAP 2.1 §6.5.5.7).
public struct TokenPermissions: OptionSet, Sendable {
    public let rawValue: Int
    public init(rawValue: Int) { self.rawValue = rawValue }
    public static let makeCredential = TokenPermissions(rawValue: 0x01)
    public static let getAssertion = TokenPermissions(rawValue: 0x02)
    public static let credentialManagement = TokenPermissions(rawValue: 0x04)
    public static let bioEnrollment = TokenPermissions(rawValue: 0x08)
    public static let largeBlobWrite = TokenPermissions(rawValue: 0x10)
    public static let authenticatorConfig = TokenPermissions(rawValue: 0x20)
    /// CTAP 2.2's persistent read-only credential management (pcmr).
    public static let persistentCredentialManagementReadOnly = TokenPermissions(rawValue: 0x40)
    /// Every permission the specification defines; other bits are ignored.
    public static let defined: TokenPermissions = [
        .makeCredential, .getAssertion, .credentialManagement, .bioEnrollment, .largeBlobWrite, .authenticatorConfig,
        .persistentCredentialManagementReadOnly,
    ]
}

/// Per-power-cycle PIN/UV state (CTAP 2.1 §6.5.2): the key agreement key, the current token
/// and what it may do, and the consecutive-mismatch count that blocks PIN use until a power
/// cycle.
struct PinUvSession: Sendable {
    /// Tokens expire this long after they were handed out.
    static let tokenLifetime: Duration = .seconds(600)
    static let mismatchesBeforePowerCycle = 3

    var keyAgreementKey: P256.KeyAgreement.PrivateKey
    var token: [UInt8]
    var tokenInUse = false
    var permissions: TokenPermissions = []
    var permissionsRPID: String?
    var userVerified = false
    var tokenIssuedAt: ContinuousClock.Instant?
    var consecutiveMismatches = 0

    init(random: RandomSource) {
        keyAgreementKey = Self.newKeyAgreementKey(random)
        token = random.bytes(32)
    }

    static func newKeyAgreementKey(_ random: RandomSource) -> P256.KeyAgreement.PrivateKey {
        while true {
            if let key = try? P256.KeyAgreement.PrivateKey(rawRepresentation: random.bytes(32)) { return key }
        }
    }

    mutating func regenerateKeyAgreementKey(_ random: RandomSource) {
        keyAgreementKey = Self.newKeyAgreementKey(random)
    }

    /// resetPinUvAuthToken(): a new token, no permissions.
    mutating func resetToken(_ random: RandomSource) {
        token = random.bytes(32)
        tokenInUse = false
        permissions = []
        permissionsRPID = nil
        userVerified = false
        tokenIssuedAt = nil
    }

    var blockedUntilPowerCycle: Bool { consecutiveMismatches >= Self.mismatchesBeforePowerCycle }

    /// The COSE key the platform agrees a secret with.
    var publicKeyCOSE: CBORValue {
        let point = Array(keyAgreementKey.publicKey.x963Representation)
        return COSEKey.ec2(alg: .ecdhEsHkdf256, curve: .p256, x: Array(point[1...32]), y: Array(point[33...64]))
    }
}
