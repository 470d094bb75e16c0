import Bytes
import Crypto
import CTAP
import Foundation
import KeyFile
import SQLite

/// Errors of the durable store, with what to do about them.
public enum CredentialStoreError: Error, CustomStringConvertible {
    case unsupportedSchema(found: Int, supported: Int)
    case corrupt(String)
    case io(String)

    public var description: String {
        switch self {
        case .unsupportedSchema(let found, let supported):
            "state database has schema version \(found); this vfido understands up to \(supported) (use a newer vfido or another --state)"
        case .corrupt(let what): "state is corrupt: \(what)"
        case .io(let what): what
        }
    }
}

/// The credential store on SQLite: crash-safe (WAL, synchronous=FULL, one transaction per
/// change), private keys and secrets sealed with AES-256-GCM under a storage key kept in its
/// own 0600 file (in clear, or sealed under a passphrase: see KeyFile), every file 0600 in a
/// 0700 directory, schema versioned by `user_version`.
public final class SQLiteCredentialStore: CredentialStore, @unchecked Sendable {
    public static let schemaVersion = 3
    public static let databaseName = "vfido.sqlite3"
    public static let storageKeyName = "storage.key"

    private let db: SQLiteDatabase
    private let storageKey: SymmetricKey
    private let lock = NSLock()  // serialises use of the connection
    /// The global sign counter's values are reserved on disk a block at a time and handed out
    /// from memory: the stored value is never below a value handed out, so after a crash the
    /// counter resumes above every one of them (it may skip ahead, never go back), and an
    /// assertion costs no commit. `signCountNext` 0: nothing reserved since the store opened.
    static let signCountBlock: Int64 = 256
    private var signCountNext: Int64 = 0
    private var signCountReserved: Int64 = 0
    /// Answers only a write can change, with the connection's write count when they were
    /// computed: hosts ask getInfo (the count, and with a persistent token the digest) before
    /// most operations, and with 100k passkeys each was a scan.
    private var residentCountCache: (written: Int64, count: Int)?
    private var residentDigestCache: (written: Int64, digest: [UInt8])?

    /// Opens (creating if needed) the store in `directory`; its storage key is opened (or, for a
    /// new store, written) with `protection`.
    public convenience init(directory: URL, protection: KeyProtection = .fileMode) throws {
        try Self.prepareDirectory(directory)
        let keyURL = directory.appendingPathComponent(Self.storageKeyName)
        let key = SymmetricKey(data: try KeyFile.loadOrCreate(keyURL, protection: protection) {
            SymmetricKey(size: .bits256).withUnsafeBytes { Array($0) }
        })
        let dbURL = directory.appendingPathComponent(Self.databaseName)
        if !FileManager.default.fileExists(atPath: dbURL.path) { try Self.createDatabase(at: dbURL) }
        try Self.createPrivateFile(at: dbURL)
        try self.init(database: SQLiteDatabase(path: dbURL.path), storageKey: key, file: dbURL.path)
    }

    /// A new database is made beside its place, with its schema and WAL mode, unsynced, then
    /// synced once and renamed into place: a crash leaves either no database or a whole empty
    /// one, never a half-made one the integrity check would refuse. Made in place with every
    /// step synced, a new key cost about ten syncs (seconds for `vfido serve --keys 1000`).
    static func createDatabase(at url: URL) throws {
        let building = url.path + ".new"
        unlink(building)  // a crash's leftover
        try createPrivateFile(at: URL(fileURLWithPath: building))
        do {
            let db = try SQLiteDatabase(path: building)
            try db.execute("PRAGMA synchronous=OFF; PRAGMA journal_mode=WAL;")
            try migrate(db)
            try db.execute("PRAGMA wal_checkpoint(TRUNCATE);")
        }  // closed here: the WAL is folded in and removed
        try sync(building)
        guard rename(building, url.path) == 0 else { throw CredentialStoreError.io("cannot rename \(building): errno \(errno)") }
        try sync(url.deletingLastPathComponent().path)
    }

    private static func sync(_ path: String) throws {
        let fd = Foundation.open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw CredentialStoreError.io("cannot open \(path): errno \(errno)") }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw CredentialStoreError.io("cannot sync \(path): errno \(errno)") }
    }

    /// An in-memory store (tests, benchmarks, `--state :memory:`).
    public static func inMemory() throws -> SQLiteCredentialStore {
        try SQLiteCredentialStore(database: SQLiteDatabase(path: ":memory:"),
                                  storageKey: SymmetricKey(size: .bits256), file: nil)
    }

    /// `file`: the database's path when it is on disk (checked, then made durable); nil in memory.
    private init(database: SQLiteDatabase, storageKey: SymmetricKey, file path: String?) throws {
        db = database
        self.storageKey = storageKey
        if let path {
            try Self.checkIntegrity(db, path: path)
            try db.execute("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;")
        }
        try Self.migrate(db)
    }

    /// A damaged file is refused before anything writes to it: the daemon stops with what is
    /// wrong, and the file stays as it is for the person (or a backup) to recover.
    private static func checkIntegrity(_ db: SQLiteDatabase, path: String) throws {
        let verdict: String
        do {
            verdict = (try db.query("PRAGMA quick_check(1)").first?.first?.text ?? "no answer")
                .split(separator: "\n").filter { !$0.hasPrefix("***") }.joined(separator: "; ")
        } catch let error as SQLiteError {
            throw CredentialStoreError.corrupt("\(path) is not a readable SQLite database (\(error.message)); it was left untouched")
        }
        guard verdict == "ok" else {
            throw CredentialStoreError.corrupt("\(path) fails SQLite's integrity check (\(verdict)); it was left untouched")
        }
    }

    private static func migrate(_ db: SQLiteDatabase) throws {
        let version = Int(try db.query("PRAGMA user_version").first?.first?.int ?? 0)
        if version > Self.schemaVersion {
            throw CredentialStoreError.unsupportedSchema(found: version, supported: Self.schemaVersion)
        }
        if version == 0 {
            try db.transaction {
                try db.execute("""
                    CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
                    CREATE TABLE secrets (name TEXT PRIMARY KEY, sealed BLOB NOT NULL);
                    CREATE TABLE credentials (
                        id BLOB PRIMARY KEY,
                        rp_id TEXT NOT NULL,
                        rp_id_hash BLOB NOT NULL,
                        rp_name TEXT,
                        user_id BLOB NOT NULL,
                        user_name TEXT,
                        user_display_name TEXT,
                        algorithm INTEGER NOT NULL,
                        sealed_private_key BLOB NOT NULL,
                        cred_protect INTEGER NOT NULL,
                        created_at REAL NOT NULL,
                        UNIQUE (rp_id_hash, user_id)
                    );
                    CREATE INDEX credentials_by_rp ON credentials (rp_id_hash);
                    PRAGMA user_version = 1;
                    """)
            }
        }
        if version < 2 {
            // Version 2: private keys too large for a credential ID (RSA), by credential ID.
            try db.transaction {
                try db.execute("""
                    CREATE TABLE detached_keys (id BLOB PRIMARY KEY, sealed_private_key BLOB NOT NULL);
                    PRAGMA user_version = 2;
                    """)
            }
        }
        if version < 3 {
            // Version 3: credentials added through the control API. They may be non-discoverable
            // (so the unique account index covers discoverable rows only), carry their own
            // signature counter, and the backup flags. SQLite cannot drop a table constraint:
            // the table is rebuilt in one transaction.
            try db.transaction {
                try db.execute("""
                    CREATE TABLE credentials_v3 (
                        id BLOB PRIMARY KEY,
                        rp_id TEXT NOT NULL,
                        rp_id_hash BLOB NOT NULL,
                        rp_name TEXT,
                        user_id BLOB NOT NULL,
                        user_name TEXT,
                        user_display_name TEXT,
                        algorithm INTEGER NOT NULL,
                        sealed_private_key BLOB NOT NULL,
                        cred_protect INTEGER NOT NULL,
                        created_at REAL NOT NULL,
                        discoverable INTEGER NOT NULL DEFAULT 1,
                        sign_count INTEGER,
                        backup_eligible INTEGER NOT NULL DEFAULT 0,
                        backup_state INTEGER NOT NULL DEFAULT 0
                    );
                    INSERT INTO credentials_v3 (id, rp_id, rp_id_hash, rp_name, user_id, user_name, user_display_name,
                                                algorithm, sealed_private_key, cred_protect, created_at)
                        SELECT id, rp_id, rp_id_hash, rp_name, user_id, user_name, user_display_name,
                               algorithm, sealed_private_key, cred_protect, created_at FROM credentials;
                    DROP TABLE credentials;
                    ALTER TABLE credentials_v3 RENAME TO credentials;
                    CREATE UNIQUE INDEX credentials_account ON credentials (rp_id_hash, user_id) WHERE discoverable = 1;
                    CREATE INDEX credentials_by_rp ON credentials (rp_id_hash);
                    PRAGMA user_version = 3;
                    """)
            }
        }
    }

    // MARK: - Sealing

    /// AES-GCM with a context string as associated data, so a sealed value cannot be moved to
    /// another row or field.
    private func seal(_ plain: [UInt8], context: String) throws -> [UInt8] {
        guard let combined = try AES.GCM.seal(plain, using: storageKey, authenticating: Array(context.utf8)).combined else {
            throw CredentialStoreError.corrupt("sealing failed")
        }
        return Array(combined)
    }

    private func open(_ sealed: [UInt8], context: String) throws -> [UInt8] {
        do {
            return Array(try AES.GCM.open(AES.GCM.SealedBox(combined: sealed), using: storageKey,
                                          authenticating: Array(context.utf8)))
        } catch {
            throw CredentialStoreError.corrupt("\(context) does not decrypt with this storage key")
        }
    }

    /// Runs `body` alone on the connection. A write that finds the disk full (SQLite rolled it
    /// back) becomes CredentialStoreFull, which the key answers as KEY_STORE_FULL.
    private func locked<T>(_ body: () throws -> T) throws -> T {
        lock.lock()
        defer { lock.unlock() }
        do { return try body() } catch let error as SQLiteError where error.isDiskFull {
            throw CredentialStoreFull(error.message)
        }
    }

    // MARK: - CredentialStore

    public func loadSecret(_ name: String) throws -> [UInt8]? {
        try locked {
            guard let sealed = try db.query("SELECT sealed FROM secrets WHERE name = ?", [.text(name)]).first?.first?.blob else {
                return nil
            }
            return try open(sealed, context: "secret:" + name)
        }
    }

    public func saveSecret(_ name: String, _ value: [UInt8]) throws {
        try locked {
            _ = try db.query("INSERT OR REPLACE INTO secrets (name, sealed) VALUES (?, ?)",
                             [.text(name), .blob(try seal(value, context: "secret:" + name))])
        }
    }

    public func incrementSignCount() throws -> UInt32 {
        try locked {
            if signCountNext == 0 || signCountNext > signCountReserved {
                let block = Self.signCountBlock
                let rows = try db.query("""
                    INSERT INTO counters (name, value) VALUES ('signCount', ?)
                    ON CONFLICT (name) DO UPDATE SET value = value + ? RETURNING value
                    """, [.int(block), .int(block)])
                guard let reserved = rows.first?.first?.int else { throw CredentialStoreError.corrupt("sign counter") }
                signCountReserved = reserved
                signCountNext = reserved - block + 1
            }
            defer { signCountNext += 1 }
            return UInt32(truncatingIfNeeded: signCountNext)
        }
    }

    private static let credentialColumns = """
        id, rp_id, rp_id_hash, rp_name, user_id, user_name, user_display_name, algorithm, sealed_private_key, cred_protect, \
        created_at, discoverable, sign_count, backup_eligible, backup_state
        """

    private func credential(from row: [SQLiteDatabase.Value]) throws -> StoredCredential {
        guard row.count == 15, let id = row[0].blob, let rpId = row[1].text, let rpIdHash = row[2].blob,
              let userId = row[4].blob, let algValue = row[7].int, let sealed = row[8].blob,
              let credProtect = row[9].int, let createdAt = row[10].real,
              let algorithm = COSEAlgorithm(rawValue: Int(algValue)),
              let discoverable = row[11].int, let backupEligible = row[13].int, let backupState = row[14].int
        else { throw CredentialStoreError.corrupt("credential row") }
        var credential = StoredCredential(
            id: id, rpId: rpId, rpIdHash: rpIdHash, rpName: row[3].text, userId: userId, userName: row[5].text,
            userDisplayName: row[6].text, algorithm: algorithm,
            privateKey: try open(sealed, context: "credential:" + id.hex), credProtect: UInt8(clamping: credProtect),
            createdAt: createdAt)
        credential.discoverable = discoverable != 0
        credential.signCount = row[12].int.map { UInt32(truncatingIfNeeded: $0) }
        credential.backupEligible = backupEligible != 0
        credential.backupState = backupState != 0
        return credential
    }

    public func residentCredentials(rpIdHash: [UInt8]) throws -> [StoredCredential] {
        try locked {
            try db.query("""
                SELECT \(Self.credentialColumns) FROM credentials WHERE rp_id_hash = ? AND discoverable = 1
                ORDER BY created_at DESC
                """, [.blob(rpIdHash)]).map(credential(from:))
        }
    }

    public func storedCredential(id: [UInt8]) throws -> StoredCredential? {
        try locked {
            try db.query("SELECT \(Self.credentialColumns) FROM credentials WHERE id = ?", [.blob(id)]).first.map(credential(from:))
        }
    }

    public func allResidentCredentials() throws -> [StoredCredential] {
        try locked {
            try db.query("SELECT \(Self.credentialColumns) FROM credentials WHERE discoverable = 1 ORDER BY rp_id, created_at DESC")
                .map(credential(from:))
        }
    }

    public func allStoredCredentials() throws -> [StoredCredential] {
        try locked {
            try db.query("SELECT \(Self.credentialColumns) FROM credentials ORDER BY rp_id, created_at DESC").map(credential(from:))
        }
    }

    public func residentRelyingParties() throws -> [ResidentRelyingParty] {
        try locked {
            // With one max() aggregate, SQLite takes the bare columns from the row holding the maximum.
            try db.query("""
                SELECT rp_id, rp_name, rp_id_hash, max(created_at) FROM credentials WHERE discoverable = 1
                GROUP BY rp_id_hash ORDER BY rp_id
                """).map { row in
                ResidentRelyingParty(rpId: row[0].text ?? "", rpName: row[1].text, rpIdHash: row[2].blob ?? [])
            }
        }
    }

    public func residentCredentialsDigest() throws -> [UInt8] {
        try locked {
            if let cache = residentDigestCache, cache.written == db.totalChanges { return cache.digest }
            // The sealed key is part of the row: a rewritten row (a new user name, say) is sealed afresh.
            let rows = try db.query("""
                SELECT id, rp_id, rp_name, user_id, user_name, user_display_name, algorithm, sealed_private_key, cred_protect,
                       created_at, backup_eligible, backup_state FROM credentials WHERE discoverable = 1 ORDER BY id
                """)
            var hash = SHA256()
            func field(_ type: UInt8, _ bytes: [UInt8]) {  // type, length, bytes: no two rows hash alike
                hash.update(data: [type] + withUnsafeBytes(of: UInt32(bytes.count).littleEndian) { Array($0) } + bytes)
            }
            for value in rows.joined() {
                switch value {
                case .int(let v): field(1, withUnsafeBytes(of: v.littleEndian) { Array($0) })
                case .real(let v): field(2, withUnsafeBytes(of: v.bitPattern.littleEndian) { Array($0) })
                case .text(let v): field(3, Array(v.utf8))
                case .blob(let v): field(4, v)
                case .null: field(5, [])
                }
            }
            let digest = Array(hash.finalize())
            residentDigestCache = (db.totalChanges, digest)
            return digest
        }
    }

    public func storedCredentialCount() throws -> Int {
        try locked { Int(try db.query("SELECT count(*) FROM credentials").first?.first?.int ?? 0) }
    }

    public func incrementSignCount(credentialId: [UInt8]) throws -> UInt32 {
        try locked {
            let rows = try db.query("UPDATE credentials SET sign_count = coalesce(sign_count, 0) + 1 WHERE id = ? RETURNING sign_count",
                                    [.blob(credentialId)])
            guard let value = rows.first?.first?.int else { throw CredentialStoreError.corrupt("no credential to count for") }
            return UInt32(truncatingIfNeeded: value)
        }
    }

    public func detachedKeyCount() throws -> Int {
        try locked { Int(try db.query("SELECT count(*) FROM detached_keys").first?.first?.int ?? 0) }
    }

    public func residentCredentialCount() throws -> Int {
        try locked {
            if let cache = residentCountCache, cache.written == db.totalChanges { return cache.count }
            let count = Int(try db.query("SELECT count(*) FROM credentials WHERE discoverable = 1").first?.first?.int ?? 0)
            residentCountCache = (db.totalChanges, count)
            return count
        }
    }

    public func saveCredential(_ c: StoredCredential) throws {
        try locked {
            try db.transaction {
                if c.discoverable {
                    _ = try db.query("DELETE FROM credentials WHERE rp_id_hash = ? AND user_id = ? AND discoverable = 1",
                                     [.blob(c.rpIdHash), .blob(c.userId)])
                }
                _ = try db.query("INSERT OR REPLACE INTO credentials (\(Self.credentialColumns)) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", [
                    .blob(c.id), .text(c.rpId), .blob(c.rpIdHash), c.rpName.map { .text($0) } ?? .null, .blob(c.userId),
                    c.userName.map { .text($0) } ?? .null, c.userDisplayName.map { .text($0) } ?? .null,
                    .int(Int64(c.algorithm.rawValue)), .blob(try seal(c.privateKey, context: "credential:" + c.id.hex)),
                    .int(Int64(c.credProtect)), .real(c.createdAt), .int(c.discoverable ? 1 : 0),
                    c.signCount.map { .int(Int64($0)) } ?? .null, .int(c.backupEligible ? 1 : 0), .int(c.backupState ? 1 : 0),
                ])
            }
        }
    }

    public func deleteCredential(id: [UInt8]) throws {
        try locked { _ = try db.query("DELETE FROM credentials WHERE id = ?", [.blob(id)]) }
    }

    public func saveDetachedKey(id: [UInt8], privateKey: [UInt8]) throws {
        try locked {
            _ = try db.query("INSERT OR REPLACE INTO detached_keys (id, sealed_private_key) VALUES (?, ?)",
                             [.blob(id), .blob(try seal(privateKey, context: "detached:" + id.hex))])
        }
    }

    public func detachedKey(id: [UInt8]) throws -> [UInt8]? {
        try locked {
            guard let sealed = try db.query("SELECT sealed_private_key FROM detached_keys WHERE id = ?", [.blob(id)]).first?.first?.blob else {
                return nil
            }
            return try open(sealed, context: "detached:" + id.hex)
        }
    }

    /// How many rows each table holds (the CTAP fuzz target checks that its reset between inputs
    /// leaves exactly its template behind).
    public func rowCounts() throws -> [String: Int] {
        try locked {
            var counts: [String: Int] = [:]
            for table in ["counters", "secrets", "credentials", "detached_keys"] {
                counts[table] = Int(try db.query("SELECT count(*) FROM \(table)").first?.first?.int ?? -1)
            }
            return counts
        }
    }

    /// Rows written since the store opened: equal before and after some work means the work
    /// stored nothing (the CTAP fuzz target skips its reset after such an input).
    public func rowsWritten() throws -> Int64 {
        try locked { db.totalChanges }
    }

    /// The names of the secrets stored (the CTAP fuzz target copies them into its template).
    public func secretNames() throws -> [String] {
        try locked { try db.query("SELECT name FROM secrets ORDER BY name").compactMap { $0.first?.text } }
    }

    public func wipe() throws {
        try locked {
            try db.transaction {
                try db.execute("DELETE FROM credentials; DELETE FROM detached_keys; DELETE FROM secrets; DELETE FROM counters;")
            }
            signCountNext = 0  // the counter starts again from a new reservation
            signCountReserved = 0
        }
    }

    // MARK: - Files

    static func prepareDirectory(_ directory: URL) throws {
        let fm = FileManager.default
        if !fm.fileExists(atPath: directory.path) {
            do {
                try fm.createDirectory(at: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            } catch {
                throw CredentialStoreError.io("cannot create state directory \(directory.path): \(error.localizedDescription)")
            }
        }
    }

    /// Creates an empty file with mode 0600 if it does not exist (SQLite gives its WAL and
    /// shared-memory files the same mode as the database file).
    static func createPrivateFile(at url: URL) throws {
        let fd = Foundation.open(url.path, O_CREAT | O_WRONLY | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw CredentialStoreError.io("cannot create \(url.path): errno \(errno)") }
        fchmod(fd, 0o600)
        close(fd)
    }
}
