/// PublicKeyCredentialCreationOptionsJSON (L3 §5.4) as a relying party sends it: binary fields
/// base64url. Everything a browser treats as optional is optional here.
public struct CreationOptions: Decodable, Sendable {
    public struct RP: Decodable, Sendable { public var id: String?; public var name: String }
    public struct User: Decodable, Sendable { public var id: String; public var name: String; public var displayName: String? }
    public struct Parameter: Decodable, Sendable { public var type: String; public var alg: Int }
    public struct Selection: Decodable, Sendable {
        public var authenticatorAttachment: String?
        public var residentKey: String?
        public var requireResidentKey: Bool?
        public var userVerification: String?
        public init(authenticatorAttachment: String? = nil, residentKey: String? = nil, requireResidentKey: Bool? = nil,
                    userVerification: String? = nil) {
            self.authenticatorAttachment = authenticatorAttachment
            self.residentKey = residentKey
            self.requireResidentKey = requireResidentKey
            self.userVerification = userVerification
        }
    }
    public struct Extensions: Decodable, Sendable {
        public var credProps: Bool?
        public var prf: PRFInputs?
        public var credentialProtectionPolicy: String?
        public var enforceCredentialProtectionPolicy: Bool?
    }

    public var rp: RP
    public var user: User
    public var challenge: String
    public var pubKeyCredParams: [Parameter]
    public var timeout: Int?
    public var excludeCredentials: [CredentialDescriptor]?
    public var authenticatorSelection: Selection?
    public var attestation: String?
    public var extensions: Extensions?
}

/// PublicKeyCredentialRequestOptionsJSON (L3 §5.5).
public struct RequestOptions: Decodable, Sendable {
    public struct Extensions: Decodable, Sendable { public var prf: PRFInputs? }

    public var challenge: String
    public var timeout: Int?
    public var rpId: String?
    public var allowCredentials: [CredentialDescriptor]?
    public var userVerification: String?
    public var extensions: Extensions?
}

public struct CredentialDescriptor: Decodable, Sendable {
    public var type: String
    public var id: String
    public var transports: [String]?
}

/// The prf extension's inputs (L3 §10.1.4), base64url.
public struct PRFInputs: Decodable, Sendable {
    public struct Values: Decodable, Sendable { public var first: String; public var second: String? }
    public var eval: Values?
    public var evalByCredential: [String: Values]?
}
