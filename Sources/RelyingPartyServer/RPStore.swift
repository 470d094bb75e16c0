import Foundation
import RelyingParty
import SQLite

/// A user of the test RP. `userHandle` is WebAuthn's user.id (random, 32 bytes).
public struct RPUser: Sendable, Equatable, Codable {
    public var id: String
    public var clientID: String
    public var username: String
    public var displayName: String
    public var externalUserID: String?
    public var userHandle: [UInt8]
    public var createdAt: Date
}

/// A registered credential as the RP keeps it.
public struct RPCredential: Sendable, Equatable {
    public var id: [UInt8]
    public var userID: String
    public var publicKey: [UInt8]
    public var algorithm: Int
    public var signCount: UInt32
    public var aaguid: [UInt8]
    public var backupEligible: Bool
    public var backedUp: Bool
    public var userVerified: Bool
    public var attestationFormat: String
    public var attestationType: String
    public var attestationTrusted: Bool
    public var transports: [String]
    /// credProps.rk as the client reported it; nil when the client said nothing.
    public var discoverable: Bool?
    public var extensions: [String]
    public var createdAt: Date
    public var lastUsed: Date?
}

/// The RP's durable data in SQLite: users, credentials and every short-lived ceremony record
/// (WebAuthn sessions, cross-device tickets, hosted-registration tokens, auth sessions,
/// authorization codes) as JSON with an expiry. `:memory:` for tests.
public final class RPStore: @unchecked Sendable {
    public static let schemaVersion = 1
    private let db: SQLiteDatabase
    private let lock = NSLock()

    public init(path: String) throws {
        if path != ":memory:" {
            let url = URL(fileURLWithPath: path)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true,
                                                    attributes: [.posixPermissions: 0o700])
            if !FileManager.default.fileExists(atPath: path) {
                FileManager.default.createFile(atPath: path, contents: nil, attributes: [.posixPermissions: 0o600])
            }
        }
        db = try SQLiteDatabase(path: path)
        if path != ":memory:" { try db.execute("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;") }
        try db.execute("""
            CREATE TABLE IF NOT EXISTS users (
              id TEXT PRIMARY KEY, client_id TEXT NOT NULL, username TEXT NOT NULL, display_name TEXT NOT NULL,
              external_user_id TEXT, user_handle BLOB NOT NULL UNIQUE, created_at REAL NOT NULL,
              UNIQUE (client_id, username));
            CREATE TABLE IF NOT EXISTS credentials (
              id BLOB PRIMARY KEY, user_id TEXT NOT NULL REFERENCES users(id), public_key BLOB NOT NULL,
              algorithm INTEGER NOT NULL, sign_count INTEGER NOT NULL, aaguid BLOB NOT NULL,
              backup_eligible INTEGER NOT NULL, backed_up INTEGER NOT NULL, user_verified INTEGER NOT NULL,
              attestation_format TEXT NOT NULL, attestation_type TEXT NOT NULL, attestation_trusted INTEGER NOT NULL,
              transports TEXT NOT NULL, discoverable INTEGER, extensions TEXT NOT NULL,
              created_at REAL NOT NULL, last_used REAL);
            CREATE INDEX IF NOT EXISTS credentials_user ON credentials(user_id);
            CREATE TABLE IF NOT EXISTS records (
              kind TEXT NOT NULL, id TEXT NOT NULL, body BLOB NOT NULL, expires_at REAL NOT NULL,
              PRIMARY KEY (kind, id));
            PRAGMA user_version = \(Self.schemaVersion);
            """)
    }

    private func locked<T>(_ body: () throws -> T) throws -> T {
        lock.lock()
        defer { lock.unlock() }
        return try body()
    }

    /// Runs `body` in one SQLite transaction, so a ceremony's checks and writes land together.
    public func transaction<T>(_ body: () throws -> T) throws -> T {
        try locked { try db.transaction(body) }
    }

    // MARK: users

    public func insertUser(_ user: RPUser) throws {
        try db.query("INSERT INTO users VALUES (?,?,?,?,?,?,?)", [
            .text(user.id), .text(user.clientID), .text(user.username), .text(user.displayName),
            user.externalUserID.map { .text($0) } ?? .null, .blob(user.userHandle), .real(user.createdAt.timeIntervalSince1970),
        ])
    }

    public func updateExternalUserID(userID: String, externalUserID: String) throws {
        try db.query("UPDATE users SET external_user_id = ? WHERE id = ?", [.text(externalUserID), .text(userID)])
    }

    private static func user(_ row: [SQLiteDatabase.Value]) -> RPUser {
        RPUser(id: row[0].text ?? "", clientID: row[1].text ?? "", username: row[2].text ?? "", displayName: row[3].text ?? "",
               externalUserID: row[4].text, userHandle: row[5].blob ?? [], createdAt: Date(timeIntervalSince1970: row[6].real ?? 0))
    }

    public func user(id: String) throws -> RPUser? {
        try db.query("SELECT * FROM users WHERE id = ?", [.text(id)]).first.map(Self.user)
    }

    public func user(clientID: String, username: String) throws -> RPUser? {
        try db.query("SELECT * FROM users WHERE client_id = ? AND username = ?", [.text(clientID), .text(username)]).first.map(Self.user)
    }

    public func user(clientID: String, externalUserID: String) throws -> RPUser? {
        try db.query("SELECT * FROM users WHERE client_id = ? AND external_user_id = ?", [.text(clientID), .text(externalUserID)]).first.map(Self.user)
    }

    public func user(userHandle: [UInt8]) throws -> RPUser? {
        try db.query("SELECT * FROM users WHERE user_handle = ?", [.blob(userHandle)]).first.map(Self.user)
    }

    public func users(clientID: String) throws -> [RPUser] {
        try db.query("SELECT * FROM users WHERE client_id = ? ORDER BY created_at", [.text(clientID)]).map(Self.user)
    }

    // MARK: credentials

    public func insertCredential(_ c: RPCredential) throws {
        try db.query("INSERT INTO credentials VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", [
            .blob(c.id), .text(c.userID), .blob(c.publicKey), .int(Int64(c.algorithm)), .int(Int64(c.signCount)), .blob(c.aaguid),
            .int(c.backupEligible ? 1 : 0), .int(c.backedUp ? 1 : 0), .int(c.userVerified ? 1 : 0),
            .text(c.attestationFormat), .text(c.attestationType), .int(c.attestationTrusted ? 1 : 0),
            .text(c.transports.joined(separator: ",")), c.discoverable.map { .int($0 ? 1 : 0) } ?? .null,
            .text(c.extensions.joined(separator: ",")), .real(c.createdAt.timeIntervalSince1970),
            c.lastUsed.map { .real($0.timeIntervalSince1970) } ?? .null,
        ])
    }

    private static func credential(_ row: [SQLiteDatabase.Value]) -> RPCredential {
        func list(_ v: SQLiteDatabase.Value) -> [String] { (v.text ?? "").split(separator: ",").map(String.init) }
        return RPCredential(
            id: row[0].blob ?? [], userID: row[1].text ?? "", publicKey: row[2].blob ?? [], algorithm: Int(row[3].int ?? 0),
            signCount: UInt32(truncatingIfNeeded: row[4].int ?? 0), aaguid: row[5].blob ?? [],
            backupEligible: row[6].int == 1, backedUp: row[7].int == 1, userVerified: row[8].int == 1,
            attestationFormat: row[9].text ?? "", attestationType: row[10].text ?? "", attestationTrusted: row[11].int == 1,
            transports: list(row[12]), discoverable: row[13].int.map { $0 == 1 }, extensions: list(row[14]),
            createdAt: Date(timeIntervalSince1970: row[15].real ?? 0), lastUsed: row[16].real.map { Date(timeIntervalSince1970: $0) })
    }

    public func credential(id: [UInt8]) throws -> RPCredential? {
        try db.query("SELECT * FROM credentials WHERE id = ?", [.blob(id)]).first.map(Self.credential)
    }

    public func credentials(userID: String) throws -> [RPCredential] {
        try db.query("SELECT * FROM credentials WHERE user_id = ? ORDER BY created_at", [.text(userID)]).map(Self.credential)
    }

    public func credentialCount() throws -> Int {
        Int(try db.query("SELECT COUNT(*) FROM credentials").first?.first?.int ?? 0)
    }

    public func recordUse(credentialID: [UInt8], signCount: UInt32, backedUp: Bool, at date: Date) throws {
        try db.query("UPDATE credentials SET sign_count = ?, backed_up = ?, last_used = ? WHERE id = ?",
                     [.int(Int64(signCount)), .int(backedUp ? 1 : 0), .real(date.timeIntervalSince1970), .blob(credentialID)])
    }

    // MARK: short-lived records

    public func put<T: Encodable>(_ kind: String, id: String, _ value: T, expires: Date) throws {
        let body = try JSONEncoder().encode(value)
        try db.query("INSERT OR REPLACE INTO records VALUES (?,?,?,?)",
                     [.text(kind), .text(id), .blob([UInt8](body)), .real(expires.timeIntervalSince1970)])
    }

    /// The record and its expiry, expired or not (callers tell "expired" from "unknown").
    public func get<T: Decodable>(_ kind: String, id: String, as type: T.Type) throws -> (T, Date)? {
        guard let row = try db.query("SELECT body, expires_at FROM records WHERE kind = ? AND id = ?", [.text(kind), .text(id)]).first,
              let body = row[0].blob else { return nil }
        return (try JSONDecoder().decode(T.self, from: Data(body)), Date(timeIntervalSince1970: row[1].real ?? 0))
    }

    public func delete(_ kind: String, id: String) throws {
        try db.query("DELETE FROM records WHERE kind = ? AND id = ?", [.text(kind), .text(id)])
    }

    /// Drops records that expired more than `grace` ago (kept that long so "expired" and
    /// "already used" stay distinguishable from "unknown").
    public func purge(before date: Date) throws {
        try db.query("DELETE FROM records WHERE expires_at < ?", [.real(date.timeIntervalSince1970)])
    }
}
