import Foundation
import KeyFile
import RelyingParty

/// An application registered with the RP: what `client_id` / `client_secret` name, and where
/// its hosted pages may send the browser back to.
public struct RPClient: Sendable {
    public var id: String
    public var secret: String
    /// Prefixes a redirect_uri must start with.
    public var redirectURIPrefixes: [String]

    public init(id: String, secret: String, redirectURIPrefixes: [String]) {
        self.id = id
        self.secret = secret
        self.redirectURIPrefixes = redirectURIPrefixes
    }
}

/// Everything the test RP is configured with. The defaults are the embedded ones `make run`
/// uses: RP ID `localhost`, origin `http://localhost:8080`, one demo client.
/// WebAuthn's ResidentKeyRequirement (L3 §5.4.6).
public enum ResidentKeyRequirement: String, Sendable, CaseIterable { case required, preferred, discouraged }

public struct RPConfiguration: Sendable {
    public var host: String = "127.0.0.1"
    public var port: Int = 8080
    public var identity: RelyingPartyIdentity
    public var clients: [RPClient]
    /// SQLite file, or ":memory:".
    public var databasePath: String
    /// The database's name in a state directory.
    public static let databaseName = "rp.sqlite3"
    /// What protects the token-signing key, kept beside the database (see `signingKeyPath`).
    public var signingKeyProtection: KeyProtection = .fileMode
    public var attestation: AttestationPolicy = .init()
    /// The attestation conveyance the options ask for ("none" unless trust roots are configured).
    public var attestationConveyance: String = "none"
    /// What the options ask of authenticators (the Mosaic tenant settings).
    public var residentKey: ResidentKeyRequirement = .preferred
    public var userVerification: UserVerificationRequirement = .preferred
    /// Default and bounds (seconds) for a ceremony's `timeout`; the Mosaic API allows 30-600.
    public var ceremonyTimeout: TimeInterval = 300
    public var minimumTimeout: TimeInterval = 30
    public var crossDeviceTimeout: TimeInterval = 300
    public var tokenLifetime: TimeInterval = 3600
    /// The issuer in tokens: this server's base URL.
    public var issuer: String

    public static let demoClient = RPClient(id: "vfido-demo", secret: "vfido-demo-secret",
                                            redirectURIPrefixes: ["http://localhost", "http://127.0.0.1", "/"])

    public init(host: String = "127.0.0.1", port: Int = 8080, rpID: String = "localhost", origins: [String]? = nil,
                clients: [RPClient] = [RPConfiguration.demoClient], databasePath: String = ":memory:") {
        self.host = host
        self.port = port
        let defaultOrigin = port == 80 ? "http://\(rpID)" : "http://\(rpID):\(port)"
        self.identity = RelyingPartyIdentity(id: rpID, name: "vfido test RP", origins: Set(origins ?? [defaultOrigin]))
        self.clients = clients
        self.databasePath = databasePath
        self.issuer = defaultOrigin + "/cis"
    }

    func client(_ id: String) -> RPClient? { clients.first { $0.id == id } }

    /// The token-signing key's file: `rp.sqlite3` keeps it in `rp-signing.key` beside it (nil
    /// for an in-memory RP, whose key lives as long as the process).
    public var signingKeyPath: String? {
        guard databasePath != ":memory:" else { return nil }
        let database = URL(fileURLWithPath: databasePath)
        return database.deletingLastPathComponent()
            .appendingPathComponent(database.deletingPathExtension().lastPathComponent + "-signing.key").path
    }
}
