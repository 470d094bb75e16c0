import CTAPWire
import Foundation

/// Everything the authenticator core needs from the outside world, injected so that the core
/// stays a pure, testable state machine (see docs/architecture.md).

/// What the user is being asked to approve: shown by interactive prompt policies.
public struct UserPresenceRequest: Sendable, Equatable {
    public enum Operation: String, Sendable { case makeCredential, getAssertion, reset, selection, touchProbe, pinUvAuthToken, u2fRegister, u2fAuthenticate }
    public var operation: Operation
    public var rpId: String?
    public var userName: String?
    /// Built-in user verification ("is this the owner?") rather than presence ("touch").
    public var verification: Bool
    public init(operation: Operation, rpId: String? = nil, userName: String? = nil, verification: Bool = false) {
        self.operation = operation
        self.rpId = rpId
        self.userName = userName
        self.verification = verification
    }
}

public enum UserPresenceResult: Sendable, Equatable {
    case approved, denied, timedOut, cancelled

    /// The status a failed prompt answers with (CTAP 2.1 §6.1.2 step 12 and §11.2.9.1.5).
    var failureStatus: CTAPStatus? {
        switch self {
        case .approved: nil
        case .denied: .operationDenied
        case .timedOut: .userActionTimeout
        case .cancelled: .keepaliveCancel
        }
    }
}

/// Asks for a test of user presence ("touch"). Implementations: always approve, always deny,
/// ask on a terminal, wait for a control-API call.
public protocol UserPresence: Sendable {
    func confirm(_ request: UserPresenceRequest) async -> UserPresenceResult
}

/// A source of random bytes (the system's CSPRNG in production; seeded in tests).
public protocol RandomSource: Sendable {
    func bytes(_ count: Int) -> [UInt8]
    /// An RSA-2048 key (PKCS#1 DER) for a new RS256 credential, or nil: BoringSSL then generates
    /// one with its own randomness (it takes no external source). A fuzz target hands out keys
    /// it made once, since generating one costs tens of milliseconds.
    func rsaKey() -> [UInt8]?
}

extension RandomSource {
    public func rsaKey() -> [UInt8]? { nil }
}

/// The system's implementations live in VirtualKey (SystemEnvironment.swift): the core reads no
/// clock and no entropy of its own.

/// Time as the core sees it: monotonic for the reset window, token lifetimes and getNextAssertion's
/// timer; the calendar for the order of accounts (creation time) and certificate validity.
public protocol AuthenticatorClock: Sendable {
    var now: ContinuousClock.Instant { get }
    var date: Date { get }
}



/// What a store throws when its medium has no room for a write (the disk is full): the write
/// changed nothing, and the key answers CTAP2_ERR_KEY_STORE_FULL.
public struct CredentialStoreFull: Error, CustomStringConvertible {
    public var detail: String
    public init(_ detail: String) { self.detail = detail }
    public var description: String { "no room to store: \(detail)" }
}

/// An RP as credential management lists it.
public struct ResidentRelyingParty: Sendable, Equatable {
    public var rpId: String
    public var rpName: String?
    public var rpIdHash: [UInt8]
    public init(rpId: String, rpName: String?, rpIdHash: [UInt8]) {
        self.rpId = rpId
        self.rpName = rpName
        self.rpIdHash = rpIdHash
    }
}

/// Durable storage for one authenticator. Implementations encrypt secrets and private keys at
/// rest; the core hands them over in clear and never writes files itself.
public protocol CredentialStore: Sendable {
    /// A named secret blob (device secrets, PIN state), decrypted; nil if never saved.
    func loadSecret(_ name: String) throws -> [UInt8]?
    func saveSecret(_ name: String, _ value: [UInt8]) throws
    /// Increments the global signature counter and returns the new value.
    func incrementSignCount() throws -> UInt32
    /// The discoverable credentials of one RP, most recent first.
    func residentCredentials(rpIdHash: [UInt8]) throws -> [StoredCredential]
    /// Any stored credential, discoverable or not.
    func storedCredential(id: [UInt8]) throws -> StoredCredential?
    /// Every discoverable credential.
    func allResidentCredentials() throws -> [StoredCredential]
    /// The RPs that have discoverable credentials, by RP ID, each named as its newest
    /// credential names it, without decrypting any key (credential management's RP list).
    func residentRelyingParties() throws -> [ResidentRelyingParty]
    /// Every stored credential, discoverable or not (the control API).
    func allStoredCredentials() throws -> [StoredCredential]
    /// How many discoverable credentials there are, without decrypting any.
    func residentCredentialCount() throws -> Int
    /// A digest of every discoverable credential as stored, sign counts aside: it changes
    /// when one is added, removed or updated (CTAP 2.2's encCredStoreState).
    func residentCredentialsDigest() throws -> [UInt8]
    /// How many credentials are stored, discoverable or not.
    func storedCredentialCount() throws -> Int
    /// Saves a credential. A discoverable one replaces any other discoverable one for the same
    /// RP and user handle; any one replaces a stored credential with the same ID.
    func saveCredential(_ credential: StoredCredential) throws
    func deleteCredential(id: [UInt8]) throws
    /// Increments a credential's own signature counter (see `StoredCredential.signCount`) and
    /// returns the new value.
    func incrementSignCount(credentialId: [UInt8]) throws -> UInt32
    /// A non-resident credential's private key that does not fit in its ID (RSA), by ID.
    func saveDetachedKey(id: [UInt8], privateKey: [UInt8]) throws
    func detachedKey(id: [UInt8]) throws -> [UInt8]?
    /// How many detached keys there are (they are bounded: each non-resident RS256 credential is one).
    func detachedKeyCount() throws -> Int
    /// Removes every credential, every secret and the counter (authenticatorReset).
    func wipe() throws
}
