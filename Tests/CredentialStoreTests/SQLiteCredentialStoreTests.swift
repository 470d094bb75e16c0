import CSQLite
import CTAP
import Foundation
import SQLite
import Testing
@testable import CredentialStore

func temporaryDirectory() -> URL {
    FileManager.default.temporaryDirectory.appendingPathComponent("vfido-store-\(UUID())")
}

func sample(id: [UInt8] = [1, 2, 3], userId: [UInt8] = [9], rp: String = "example.com", key: [UInt8] = Array(repeating: 0x5A, count: 32),
            createdAt: Double = 1) -> StoredCredential {
    StoredCredential(id: id, rpId: rp, rpIdHash: Array(rp.utf8), rpName: "Example", userId: userId, userName: "alice",
                       userDisplayName: "Alice", algorithm: .es256, privateKey: key, credProtect: 1, createdAt: createdAt)
}

func mode(_ url: URL) throws -> Int {
    (try FileManager.default.attributesOfItem(atPath: url.path)[.posixPermissions] as! NSNumber).intValue
}

@Suite struct SQLiteCredentialStoreTests {
    @Test func filesArePrivate() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let store = try SQLiteCredentialStore(directory: dir)
        try store.saveCredential(sample())
        #expect(try mode(dir) == 0o700)
        for name in try FileManager.default.contentsOfDirectory(atPath: dir.path) {
            #expect(try mode(dir.appendingPathComponent(name)) == 0o600, "\(name)")
        }
    }

    /// A new database is built beside its place and renamed in whole: a crash's leftover is
    /// thrown away, and what is left is a complete store in WAL mode.
    @Test func aNewStoreIsMadeWholeAndALeftoverIsDiscarded() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let leftover = dir.appendingPathComponent(SQLiteCredentialStore.databaseName + ".new")
        try Data("half a database".utf8).write(to: leftover)
        do {
            let store = try SQLiteCredentialStore(directory: dir)
            try store.saveCredential(sample())
        }
        #expect(!FileManager.default.fileExists(atPath: leftover.path))
        let reopened = try SQLiteCredentialStore(directory: dir)
        #expect(try reopened.storedCredential(id: [1, 2, 3]) != nil)
        let db = try SQLiteDatabase(path: dir.appendingPathComponent(SQLiteCredentialStore.databaseName).path)
        #expect(try db.query("PRAGMA journal_mode").first?.first?.text == "wal")
        #expect(try db.query("PRAGMA user_version").first?.first?.int == Int64(SQLiteCredentialStore.schemaVersion))
    }

    @Test func privateKeysAndSecretsAreNotStoredInClear() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let key = Array("PRIVATE-KEY-MATERIAL-0123456789!".utf8)
        let secret = Array("MASTER-SECRET-MATERIAL-987654321".utf8)
        do {
            let store = try SQLiteCredentialStore(directory: dir)
            try store.saveCredential(sample(key: key))
            try store.saveSecret("device", secret)
        }
        var everything = Data()
        for name in try FileManager.default.contentsOfDirectory(atPath: dir.path) where name.hasPrefix("vfido") {
            everything += try Data(contentsOf: dir.appendingPathComponent(name))
        }
        #expect(everything.range(of: Data(key)) == nil)
        #expect(everything.range(of: Data(secret)) == nil)
        #expect(everything.range(of: Data("alice".utf8)) != nil)  // the check can find what is there
        let reopened = try SQLiteCredentialStore(directory: dir)
        #expect(try reopened.storedCredential(id: [1, 2, 3])?.privateKey == key)
        #expect(try reopened.loadSecret("device") == secret)
    }

    @Test func anotherStorageKeyCannotOpenTheSecrets() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        try SQLiteCredentialStore(directory: dir).saveSecret("device", [1, 2, 3])
        try Data(repeating: 7, count: 32).write(to: dir.appendingPathComponent("storage.key"))
        #expect(throws: CredentialStoreError.self) { try SQLiteCredentialStore(directory: dir).loadSecret("device") }
    }

    @Test func aNewerSchemaIsRefused() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        _ = try SQLiteCredentialStore(directory: dir)
        var db: OpaquePointer?
        sqlite3_open(dir.appendingPathComponent("vfido.sqlite3").path, &db)
        sqlite3_exec(db, "PRAGMA user_version = 99", nil, nil, nil)
        sqlite3_close(db)
        #expect(throws: CredentialStoreError.self) { try SQLiteCredentialStore(directory: dir) }
    }

    @Test func credentialsAreFoundByRPAndIdAndReplacedPerUser() throws {
        let store = try SQLiteCredentialStore.inMemory()
        try store.saveCredential(sample(id: [1], userId: [1], createdAt: 1))
        try store.saveCredential(sample(id: [2], userId: [2], createdAt: 2))
        try store.saveCredential(sample(id: [3], userId: [3], rp: "other.example"))
        #expect(try store.residentCredentials(rpIdHash: Array("example.com".utf8)).map(\.id) == [[2], [1]])
        try store.saveCredential(sample(id: [4], userId: [1], createdAt: 3))  // same user: replaces [1]
        #expect(try store.residentCredentials(rpIdHash: Array("example.com".utf8)).map(\.id) == [[4], [2]])
        #expect(try store.storedCredential(id: [1]) == nil)
        try store.deleteCredential(id: [2])
        #expect(try store.allResidentCredentials().map(\.id).sorted { $0[0] < $1[0] } == [[3], [4]])
        #expect(try store.residentCredentialCount() == 2)
    }

    /// Credential management's RP list, and the count and digest getInfo asks for, which are
    /// kept between writes: every write must show in them.
    @Test func theRPListCountAndDigestFollowEveryWrite() throws {
        let store = try SQLiteCredentialStore.inMemory()
        #expect(try store.residentRelyingParties().isEmpty && store.residentCredentialCount() == 0)
        var named = sample(id: [1], userId: [1], rp: "b.example", createdAt: 1)
        named.rpName = "Old name"
        try store.saveCredential(named)
        named = sample(id: [2], userId: [2], rp: "b.example", createdAt: 2)
        named.rpName = "New name"
        try store.saveCredential(named)
        try store.saveCredential(sample(id: [3], userId: [3], rp: "a.example"))
        #expect(try store.residentRelyingParties() == [
            ResidentRelyingParty(rpId: "a.example", rpName: "Example", rpIdHash: Array("a.example".utf8)),
            ResidentRelyingParty(rpId: "b.example", rpName: "New name", rpIdHash: Array("b.example".utf8)),  // the newest names it
        ])
        let digest = try store.residentCredentialsDigest()
        #expect(try store.residentCredentialCount() == 3 && store.residentCredentialsDigest() == digest)
        try store.deleteCredential(id: [3])
        #expect(try store.residentCredentialCount() == 2 && store.residentCredentialsDigest() != digest)
        try store.wipe()
        #expect(try store.residentCredentialCount() == 0 && store.residentRelyingParties().isEmpty)
    }

    @Test func signCountIncrementsAndWipeClearsEverything() throws {
        let store = try SQLiteCredentialStore.inMemory()
        #expect(try store.incrementSignCount() == 1)
        #expect(try store.incrementSignCount() == 2)
        try store.saveCredential(sample())
        try store.saveSecret("device", [1])
        try store.wipe()
        #expect(try store.allResidentCredentials().isEmpty)
        #expect(try store.loadSecret("device") == nil)
        #expect(try store.incrementSignCount() == 1)
    }

    /// Counter values are reserved on disk a block at a time: a store opened again (after a
    /// crash, say) goes on above every value handed out, and the file never holds less.
    @Test func signCountBlocksNeverLetTheCounterGoBack() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        var handedOut: [UInt32] = []
        for _ in 0..<3 {
            let store = try SQLiteCredentialStore(directory: dir)
            for _ in 0..<300 { handedOut.append(try store.incrementSignCount()) }  // more than a block
            let stored = try store.rowsWritten()  // two reservations in this store, not 300 commits
            #expect(stored == 2)
        }
        #expect(zip(handedOut, handedOut.dropFirst()).allSatisfy { $0 < $1 })
        let file = try SQLiteDatabase(path: dir.appendingPathComponent(SQLiteCredentialStore.databaseName).path)
        let onDisk = try #require(try file.query("SELECT value FROM counters WHERE name = 'signCount'").first?.first?.int)
        #expect(onDisk >= Int64(handedOut.last!))
    }
}
