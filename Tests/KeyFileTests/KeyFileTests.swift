import Foundation
import Testing
@testable import KeyFile

@Suite struct KeyFileTests {
    let directory: URL
    let file: URL
    let key = (0..<32).map { UInt8($0) }
    let passphrase = KeyProtection.passphrase(Array("correct horse".utf8))

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("vfido-keyfile-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        file = directory.appendingPathComponent("storage.key")
    }

    func contents() -> [UInt8] { [UInt8](FileManager.default.contents(atPath: file.path) ?? Data()) }

    func refusal(_ protection: KeyProtection) -> KeyFileError? {
        do {
            _ = try KeyFile.load(file, protection: protection)
            return nil
        } catch {
            return error
        }
    }

    @Test func clearKeyIsTheRawBytesInA0600File() throws {
        #expect(try KeyFile.loadOrCreate(file, protection: .fileMode) { key } == key)
        #expect(contents() == key)
        let mode = try FileManager.default.attributesOfItem(atPath: file.path)[.posixPermissions] as? Int
        #expect(mode == 0o600)
        #expect(KeyFile.isSealed(file) == false)
        #expect(try KeyFile.loadOrCreate(file, protection: .fileMode) { [UInt8](repeating: 9, count: 32) } == key)
    }

    @Test func sealedKeyOpensOnlyWithItsPassphrase() throws {
        #expect(try KeyFile.loadOrCreate(file, protection: passphrase) { key } == key)
        let sealed = contents()
        #expect(sealed.count == KeyFile.sealedSize)
        #expect(KeyFile.isSealed(file) == true)
        #expect(!sealed.indices.dropLast(31).contains { Array(sealed[$0..<($0 + 32)]) == key }, "the key must not appear in clear")
        #expect(try KeyFile.load(file, protection: passphrase) == key)
        #expect(refusal(.passphrase(Array("wrong".utf8)))?.kind == .wrongPassphrase)
        #expect(refusal(.fileMode)?.kind == .needsPassphrase)
        #expect(contents() == sealed, "a refused opening leaves the file as it was")
        let mode = try FileManager.default.attributesOfItem(atPath: file.path)[.posixPermissions] as? Int
        #expect(mode == 0o600)
    }

    @Test func aClearKeyIsNotTakenAsSealedWhenAPassphraseIsGiven() throws {
        try KeyFile.write(key, to: file, protection: .fileMode)
        #expect(refusal(passphrase)?.kind == .clearButPassphraseGiven)
    }

    @Test func resealingChangesThePassphraseAndKeepsTheKey() throws {
        try KeyFile.write(key, to: file, protection: passphrase)
        let other = KeyProtection.passphrase(Array("battery staple".utf8))
        try KeyFile.write(try KeyFile.load(file, protection: passphrase), to: file, protection: other)
        #expect(try KeyFile.load(file, protection: other) == key)
        #expect(refusal(passphrase)?.kind == .wrongPassphrase)
        #expect(!FileManager.default.fileExists(atPath: file.path + ".tmp"))
        try KeyFile.write(key, to: file, protection: .fileMode)
        #expect(contents() == key)
    }

    @Test func damagedSealedFilesAreRefused() throws {
        try KeyFile.write(key, to: file, protection: passphrase)
        let sealed = contents()
        // Every byte after the magic is covered: the header by the associated data, the rest by the tag.
        for index in [8, 9, 12, KeyFile.headerSize, KeyFile.headerSize + 14, sealed.count - 1] {
            var damaged = sealed
            damaged[index] ^= 0x01
            try Data(damaged).write(to: file)
            let kind = refusal(passphrase)?.kind
            #expect(kind == .wrongPassphrase || kind == .malformed, "byte \(index)")
        }
        try Data(sealed.dropLast()).write(to: file)
        #expect(refusal(passphrase)?.kind == .malformed)
        var costly = sealed
        costly[8] = 30  // N = 2^30: 128 GiB of memory, refused before scrypt runs
        try Data(costly).write(to: file)
        #expect(refusal(passphrase)?.kind == .malformed)
        try Data(repeating: 7, count: 31).write(to: file)
        #expect(refusal(.fileMode)?.kind == .malformed)
    }
}
