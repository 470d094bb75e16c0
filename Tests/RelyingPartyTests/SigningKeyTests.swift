import Crypto
import Foundation
import KeyFile
import RelyingPartyServer
import Testing

/// The RP's token-signing key lives in `rp-signing.key` beside its database.
@Suite struct SigningKeyTests {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("vfido-rp-key-\(UUID().uuidString)")

    func configuration() throws -> RPConfiguration {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        return RPConfiguration(databasePath: directory.appendingPathComponent("rp.sqlite3").path)
    }

    static func x(_ key: P256.Signing.PrivateKey) -> String {
        Data(key.publicKey.rawRepresentation.prefix(32)).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }

    @Test func anEarlierDatabasesClearPEMMovesIntoTheKeyFile() async throws {
        let configuration = try configuration()
        let legacy = P256.Signing.PrivateKey()
        do {
            let store = try RPStore(path: configuration.databasePath)
            try store.put("signing_key", id: TokenIssuer.keyID, legacy.pemRepresentation, expires: .distantFuture)
        }
        let service = try await RPService(configuration: configuration)
        #expect(await service.tokens.publicJWK["x"] == Self.x(legacy), "tokens are still signed by the same key")
        let path = try #require(configuration.signingKeyPath)
        let file = try #require(FileManager.default.contents(atPath: path))
        #expect([UInt8](file) == Array(legacy.rawRepresentation))
        #expect(try RPStore(path: configuration.databasePath).get("signing_key", id: TokenIssuer.keyID, as: String.self) == nil)
        let again = try await RPService(configuration: configuration)
        #expect(await again.tokens.publicJWK["x"] == Self.x(legacy))
    }

    @Test func aNewRPSealsItsKeyUnderThePassphrase() async throws {
        var configuration = try configuration()
        configuration.signingKeyProtection = .passphrase(Array("rp passphrase".utf8))
        let first = try await RPService(configuration: configuration).tokens.publicJWK
        let path = try #require(configuration.signingKeyPath)
        let file = try #require(FileManager.default.contents(atPath: path))
        #expect(file.starts(with: Array("vfidoSK1".utf8)))
        #expect(try await RPService(configuration: configuration).tokens.publicJWK == first)
        configuration.signingKeyProtection = .fileMode
        await #expect(throws: (any Error).self) { _ = try await RPService(configuration: configuration) }
    }
}
