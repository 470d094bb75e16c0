import Bytes
import CTAPWire

/// What the control API does to a key beyond CTAP: credentials added, changed and removed by a
/// test (WebDriver's virtual-authenticator commands, CDP's WebAuthn domain). Each checks
/// everything before it changes anything, so a refused request leaves the key as it was.

/// A credential handed to the key from outside (WebDriver Add Credential, CDP addCredential,
/// a Credential Exchange Format import).
public struct CredentialImport: Sendable {
    public var id: [UInt8]
    public var rpId: String
    public var discoverable: Bool
    public var privateKey: CredentialPrivateKey
    /// Required for a discoverable credential (it names the account).
    public var userId: [UInt8]?
    public var userName: String?
    public var userDisplayName: String?
    public var signCount: UInt32
    public var backupEligible: Bool
    public var backupState: Bool
    /// The credential's large blob (uncompressed), written into the large-blob array.
    public var largeBlob: [UInt8]?

    public init(id: [UInt8], rpId: String, discoverable: Bool, privateKey: CredentialPrivateKey, userId: [UInt8]? = nil,
                userName: String? = nil, userDisplayName: String? = nil, signCount: UInt32 = 0,
                backupEligible: Bool = false, backupState: Bool = false, largeBlob: [UInt8]? = nil) {
        self.largeBlob = largeBlob
        self.id = id
        self.rpId = rpId
        self.discoverable = discoverable
        self.privateKey = privateKey
        self.userId = userId
        self.userName = userName
        self.userDisplayName = userDisplayName
        self.signCount = signCount
        self.backupEligible = backupEligible
        self.backupState = backupState
    }
}

/// Why the control API refused a change: each case is one HTTP status.
public enum ManagementError: Error, Equatable, CustomStringConvertible {
    /// A value is out of range or inconsistent (400).
    case invalid(String)
    /// No such credential (404).
    case notFound(String)
    /// The change collides with what is stored (409).
    case conflict(String)
    /// No room (507).
    case full(String)
    /// The store failed (500).
    case storage(String)

    public var description: String {
        switch self {
        case .invalid(let s), .notFound(let s), .conflict(let s), .full(let s), .storage(let s): s
        }
    }
}

extension StoredCredential {
    /// WebAuthn L3 §5.1: a credential ID is at most 1023 bytes.
    public static let maxImportedIdLength = 1023
}

extension Authenticator {
    public func storedCredentials() throws(ManagementError) -> [StoredCredential] {
        try managed { try store.allStoredCredentials() }
    }

    public func storedCredential(id: [UInt8]) throws(ManagementError) -> StoredCredential {
        guard let credential = try managed({ try store.storedCredential(id: id) }) else {
            throw .notFound("no stored credential \(Base64URL.encode(id))")
        }
        return credential
    }

    /// Stores a credential under the caller's ID; assertions then find it like any other.
    @discardableResult
    public func importCredential(_ new: CredentialImport) throws(ManagementError) -> StoredCredential {
        guard (1...StoredCredential.maxImportedIdLength).contains(new.id.count) else {
            throw .invalid("credentialId must be 1 to \(StoredCredential.maxImportedIdLength) bytes, not \(new.id.count)")
        }
        guard !new.rpId.isEmpty, new.rpId.utf8.count <= 253 else { throw .invalid("rpId must be 1 to 253 bytes") }
        let userId = new.userId ?? []
        if new.discoverable && userId.isEmpty { throw .invalid("a resident credential needs a userHandle") }
        if new.discoverable && !config.features.residentKeys { throw .invalid("this key has no discoverable credentials (hasResidentKey false)") }
        guard userId.count <= 64 else { throw .invalid("userHandle must be at most 64 bytes") }
        if new.backupState && !new.backupEligible { throw .invalid("backupState needs backupEligibility") }
        if new.largeBlob != nil {
            guard config.features.largeBlobs && config.features.isCTAP2_1 else { throw .invalid("this key has no large blobs (hasLargeBlob false)") }
            guard new.discoverable else { throw .invalid("a large blob needs a resident credential (largeBlobKey is for discoverable ones)") }
        }
        let rpIdHash = Digest.sha256(new.rpId)
        if try managed({ try store.storedCredential(id: new.id) }) != nil {
            throw .conflict("a credential with this ID is stored already; remove it first")
        }
        if sealer.open(new.id, rpIdHash: rpIdHash) != nil { throw .conflict("the ID is one this key issued") }
        let residents = try managed { try store.residentCredentialCount() }
        if new.discoverable {
            let replaces = try managed { try store.residentCredentials(rpIdHash: rpIdHash) }.contains { $0.userId == userId }
            if residents >= config.maxResidentCredentials && !replaces {
                throw .full("\(residents) discoverable credentials: no room (the key holds \(config.maxResidentCredentials))")
            }
        } else {
            let others = try managed { try store.storedCredentialCount() } - residents
            if others >= config.maxDetachedKeys { throw .full("\(others) non-discoverable credentials stored: no room") }
        }
        var credential = StoredCredential(
            id: new.id, rpId: new.rpId, rpIdHash: rpIdHash, rpName: nil, userId: userId, userName: new.userName,
            userDisplayName: new.userDisplayName, algorithm: new.privateKey.algorithm, privateKey: new.privateKey.raw,
            credProtect: 1, createdAt: clock.date.timeIntervalSince1970)
        credential.discoverable = new.discoverable
        credential.signCount = new.signCount
        credential.backupEligible = new.backupEligible
        credential.backupState = new.backupState
        try managed { try store.saveCredential(credential) }
        if let blob = new.largeBlob {
            do { try setLargeBlob(blob, credentialId: new.id) } catch {
                try? store.deleteCredential(id: new.id)  // refused as a whole: nothing stays behind
                throw error
            }
        }
        emit(.credentialAdded(CredentialSummary(credential, viaControl: true)))
        return credential
    }

    /// Changes what CDP's setCredentialProperties and WebDriver's Set Credential Properties
    /// change; nil leaves a property as it is. Giving a signCount gives the credential its own counter.
    @discardableResult
    public func updateStoredCredential(id: [UInt8], backupEligible: Bool? = nil, backupState: Bool? = nil,
                                       signCount: UInt32? = nil) throws(ManagementError) -> StoredCredential {
        var credential = try storedCredential(id: id)
        credential.backupEligible = backupEligible ?? credential.backupEligible
        credential.backupState = backupState ?? credential.backupState
        if credential.backupState && !credential.backupEligible { throw .invalid("backupState needs backupEligibility") }
        if let signCount { credential.signCount = signCount }
        try managed { try store.saveCredential(credential) }
        emit(.credentialUpdated(CredentialSummary(credential, viaControl: true)))
        return credential
    }

    public func removeStoredCredential(id: [UInt8]) throws(ManagementError) {
        let credential = try storedCredential(id: id)
        try managed { try store.deleteCredential(id: id) }
        // Its large blob would be unreadable garbage in the array from now on.
        if credential.discoverable && config.features.largeBlobs, (try? largeBlob(credentialId: id)) != nil {
            try setLargeBlob(nil, credentialId: id)
        }
        emit(.credentialDeleted(CredentialSummary(credential, viaControl: true)))
    }

    /// Removes every stored credential (CDP clearCredentials) and answers how many. Non-discoverable
    /// credentials this key made over CTAP live in their IDs only: a factory reset ends those.
    public func removeAllStoredCredentials() throws(ManagementError) -> Int {
        let all = try storedCredentials()
        for credential in all {
            try managed { try store.deleteCredential(id: credential.id) }
            emit(.credentialDeleted(CredentialSummary(credential, viaControl: true)))
        }
        return all.count
    }

    func managed<T>(_ body: () throws -> T) throws(ManagementError) -> T {
        do { return try body() } catch {
            throw .storage("credential store: \(error)")
        }
    }
}

