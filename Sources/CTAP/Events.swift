/// What the authenticator tells an observer (the control API's event stream): the
/// credential lifecycle and the PIN, as CDP's WebAuthn domain reports them and a little more.
public enum AuthenticatorEvent: Sendable, Equatable {
    case credentialAdded(CredentialSummary)
    case credentialAsserted(CredentialSummary)
    case credentialUpdated(CredentialSummary)
    case credentialDeleted(CredentialSummary)
    case pinSet
    case pinChanged
    case reset
}

/// A credential as events name it: never its private key.
public struct CredentialSummary: Sendable, Equatable {
    public var id: [UInt8]
    public var rpId: String
    public var userId: [UInt8]?
    public var userName: String?
    public var discoverable: Bool
    public var signCount: UInt32?
    /// Where the change came from: CTAP (a host) or the control API.
    public var viaControl: Bool

    public init(id: [UInt8], rpId: String, userId: [UInt8]? = nil, userName: String? = nil, discoverable: Bool,
                signCount: UInt32? = nil, viaControl: Bool = false) {
        self.id = id
        self.rpId = rpId
        self.userId = userId
        self.userName = userName
        self.discoverable = discoverable
        self.signCount = signCount
        self.viaControl = viaControl
    }

    init(_ credential: StoredCredential, viaControl: Bool) {
        self.init(id: credential.id, rpId: credential.rpId, userId: credential.userId, userName: credential.userName,
                  discoverable: credential.discoverable, signCount: credential.signCount, viaControl: viaControl)
    }
}

/// Faults a test asks for in what the key answers, never in what it stores (CDP
/// WebAuthn.setResponseOverrideBits): an RP under test must refuse each.
public struct ResponseOverrides: Sendable, Equatable {
    /// The signature of assertions and self/batch attestations is all zero bytes.
    public var isBogusSignature = false
    /// The UV flag is cleared (before signing: the signature is valid over the lie).
    public var isBadUV = false
    /// The UP flag is cleared (before signing).
    public var isBadUP = false

    public init(isBogusSignature: Bool = false, isBadUV: Bool = false, isBadUP: Bool = false) {
        self.isBogusSignature = isBogusSignature
        self.isBadUV = isBadUV
        self.isBadUP = isBadUP
    }

    func apply(to flags: AuthenticatorData.Flags) -> AuthenticatorData.Flags {
        var flags = flags
        if isBadUV { flags.remove(.userVerified) }
        if isBadUP { flags.remove(.userPresent) }
        return flags
    }

    func apply(toSignature signature: [UInt8]) -> [UInt8] {
        isBogusSignature ? [UInt8](repeating: 0, count: signature.count) : signature
    }
}

extension Authenticator {
    func emit(_ event: AuthenticatorEvent) {
        eventObserver?(event)
    }

    /// Sets who hears about credential and PIN changes (one observer; the daemon fans out).
    public func observeEvents(_ observer: @escaping @Sendable (AuthenticatorEvent) -> Void) {
        eventObserver = observer
    }

    public func setResponseOverrides(_ overrides: ResponseOverrides) {
        responseOverrides = overrides
    }

    public var currentResponseOverrides: ResponseOverrides { responseOverrides }
}
