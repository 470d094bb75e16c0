import RelyingParty

/// PublicKeyCredentialCreationOptionsJSON (L3 §5.4), binary fields base64url: what
/// `PublicKeyCredential.parseCreationOptionsFromJSON()` takes.
public struct CreationOptions: Codable, Sendable {
    public struct RP: Codable, Sendable { public var id: String; public var name: String }
    public struct User: Codable, Sendable { public var id: String; public var name: String; public var displayName: String }
    public struct Parameter: Codable, Sendable { public var type = "public-key"; public var alg: Int }
    public struct Selection: Codable, Sendable {
        public var authenticatorAttachment: String?
        public var residentKey: String
        public var requireResidentKey: Bool
        public var userVerification: String
    }
    public struct Extensions: Codable, Sendable { public var credProps = true }

    public var rp: RP
    public var user: User
    public var challenge: String
    public var pubKeyCredParams: [Parameter]
    public var timeout: Int
    public var attestation: String
    public var authenticatorSelection: Selection
    public var excludeCredentials: [CredentialDescriptor]
    public var extensions = Extensions()
}

/// PublicKeyCredentialRequestOptionsJSON (L3 §5.5).
public struct RequestOptions: Codable, Sendable {
    public var challenge: String
    public var timeout: Int
    public var rpId: String
    public var userVerification: String
    public var allowCredentials: [CredentialDescriptor]
    /// Only in approval flows: the random part the challenge was derived from.
    public var rawChallenge: String?
}

public struct CredentialDescriptor: Codable, Sendable {
    public var type = "public-key"
    public var id: String
    public var transports: [String]?
}
