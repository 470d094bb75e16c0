import CBOR
import Crypto
import CTAPWire
import Foundation

/// A credential the store keeps: every discoverable credential (passkey), and the
/// non-discoverable ones added through the control API (their IDs are the caller's, so they
/// cannot carry a sealed key). Wire structs stay apart from this model.
public struct StoredCredential: Sendable, Equatable {
    public var id: [UInt8]
    public var rpId: String
    public var rpIdHash: [UInt8]
    public var rpName: String?
    public var userId: [UInt8]
    public var userName: String?
    public var userDisplayName: String?
    public var algorithm: COSEAlgorithm
    /// The private key in clear; the store encrypts it at rest.
    public var privateKey: [UInt8]
    public var credProtect: UInt8
    /// Seconds since 1970; orders accounts most-recent first in getAssertion.
    public var createdAt: Double
    /// false: found only by its ID (allowList), never listed by discovery or credential management.
    public var discoverable = true
    /// The credential's own signature counter; nil: the key's global counter (what credentials
    /// made over CTAP use until the control API gives them one).
    public var signCount: UInt32?
    /// The BE and BS flags its assertions carry (WebAuthn L3 §6.1 flags bits 3 and 4).
    public var backupEligible = false
    public var backupState = false

    public init(id: [UInt8], rpId: String, rpIdHash: [UInt8], rpName: String?, userId: [UInt8], userName: String?,
                userDisplayName: String?, algorithm: COSEAlgorithm, privateKey: [UInt8], credProtect: UInt8, createdAt: Double) {
        self.id = id
        self.rpId = rpId
        self.rpIdHash = rpIdHash
        self.rpName = rpName
        self.userId = userId
        self.userName = userName
        self.userDisplayName = userDisplayName
        self.algorithm = algorithm
        self.privateKey = privateKey
        self.credProtect = credProtect
        self.createdAt = createdAt
    }

    /// The PublicKeyCredentialUserEntity as getAssertion returns it. Identifying fields only
    /// when the user was verified (CTAP 2.1 §6.2.2, "user" member).
    func userEntity(includeIdentifyingFields: Bool) -> CBORValue {
        .textMap([
            ("id", .bytes(userId)),
            ("name", includeIdentifyingFields ? userName.map(CBORValue.text) : nil),
            ("displayName", includeIdentifyingFields ? userDisplayName.map(CBORValue.text) : nil),
        ])
    }
}

/// SHA-256 and friends, kept in one place.
enum Digest {
    static func sha256(_ data: some DataProtocol) -> [UInt8] { Array(SHA256.hash(data: data)) }
    static func sha256(_ text: String) -> [UInt8] { sha256(Array(text.utf8)) }
}

