import Foundation
import Testing
import SQLite

@Suite struct SQLiteDatabaseTests {
    static func temporary() throws -> (SQLiteDatabase, URL) {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("vfido-sqlite-\(UUID()).sqlite3")
        return (try SQLiteDatabase(path: url.path), url)
    }

    @Test func everyValueTypeRoundTrips() throws {
        let (db, url) = try Self.temporary()
        defer { try? FileManager.default.removeItem(at: url) }
        try db.execute("CREATE TABLE t (i INTEGER, r REAL, s TEXT, b BLOB, n TEXT)")
        let blob: [UInt8] = [0, 1, 0xFF, 0]  // NULs inside survive
        try db.query("INSERT INTO t VALUES (?, ?, ?, ?, ?)", [.int(-1 << 40), .real(0.5), .text("ünïcode ✓"), .blob(blob), .null])
        try db.query("INSERT INTO t VALUES (?, ?, ?, ?, ?)", [.int(0), .real(0), .text(""), .blob([]), .null])
        let rows = try db.query("SELECT i, r, s, b, n FROM t ORDER BY rowid")
        #expect(rows.count == 2)
        #expect(rows[0][0].int == -1 << 40 && rows[0][1].real == 0.5 && rows[0][2].text == "ünïcode ✓" && rows[0][3].blob == blob)
        if case .null = rows[0][4] {} else { Issue.record("NULL came back as \(rows[0][4])") }
        #expect(rows[1][3].blob == [] || rows[1][3].blob == nil)  // SQLite stores an empty blob as a zero-length value
    }

    @Test func aFailedTransactionLeavesNothingBehind() throws {
        let (db, url) = try Self.temporary()
        defer { try? FileManager.default.removeItem(at: url) }
        try db.execute("CREATE TABLE t (k TEXT PRIMARY KEY)")
        try db.transaction { try db.query("INSERT INTO t VALUES ('a')") }
        struct Planned: Error {}
        #expect(throws: Planned.self) {
            try db.transaction {
                try db.query("INSERT INTO t VALUES ('b')")
                throw Planned()
            }
        }
        #expect(throws: SQLiteError.self) {
            try db.transaction { try db.query("INSERT INTO t VALUES ('c'), ('a')") }  // the duplicate fails the statement
        }
        #expect(try db.query("SELECT k FROM t").map { $0[0].text } == ["a"])
    }

    @Test func errorsNameWhatWentWrong() throws {
        let (db, url) = try Self.temporary()
        defer { try? FileManager.default.removeItem(at: url) }
        do {
            try db.query("SELECT * FROM missing")
            Issue.record("a query on a missing table succeeded")
        } catch let error as SQLiteError {
            #expect(error.description.contains("no such table"))
        }
        #expect(throws: SQLiteError.self) { try SQLiteDatabase(path: "/nonexistent-dir-\(UUID())/x.sqlite3") }
    }

    @Test func dataSurvivesReopening() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("vfido-sqlite-\(UUID()).sqlite3")
        defer { try? FileManager.default.removeItem(at: url) }
        do {
            let db = try SQLiteDatabase(path: url.path)
            try db.execute("CREATE TABLE t (v BLOB)")
            try db.query("INSERT INTO t VALUES (?)", [.blob([1, 2, 3])])
        }
        let again = try SQLiteDatabase(path: url.path)
        #expect(try again.query("SELECT v FROM t").first?.first?.blob == [1, 2, 3])
    }
}
