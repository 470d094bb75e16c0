import CBOR
import CTAPWire
import Testing
@testable import CTAP

/// Reduced keys (KeyFeatures): what a CTAP 2.0 key, a key without discoverable credentials or
/// one with fewer extensions shows and answers.
@Suite struct FeaturesTests {
    static func fixture(_ features: KeyFeatures) throws -> Fixture {
        var config = AuthenticatorConfig()
        config.features = features
        return try Fixture(config: config)
    }

    static func info(_ f: Fixture) async throws -> CBORValue {
        let (status, body) = try await f.call(0x04)
        #expect(status == .ok)
        return try #require(body)
    }

    @Test func aCTAP2_0KeyShowsOnlyWhat2_0Defines() async throws {
        let f = try Self.fixture(KeyFeatures(level: .ctap2_0))
        let info = try await Self.info(f)
        guard case .map(let members) = info else { Issue.record("getInfo is not a map"); return }
        #expect(members.map(\.key) == (1...6).map(CBORValue.int))
        #expect(info[int: 1] == .array(["U2F_V2", "FIDO_2_0"]))  // canonical order: shorter first
        #expect(info[int: 2] == .array(["credProtect", "hmac-secret"]))
        #expect(info[int: 6] == .array([.int(1)]))
        let options = try #require(info[int: 4])
        #expect(options[text: "rk"] == .bool(true))
        for absent in ["credMgmt", "authnrCfg", "largeBlobs", "pinUvAuthToken", "makeCredUvNotRqd", "ep"] {
            #expect(options[text: absent] == nil, "\(absent) on a 2.0 key")
        }
        // 2.1 commands, PIN protocol 2 and 2.1 clientPIN subcommands do not exist.
        for command: UInt8 in [0x0A, 0x0B, 0x0C, 0x0D, 0x41] {
            #expect(try await f.call(command, .intMap([(1, .int(1))])).0 == .invalidCommand, "command \(command)")
        }
        #expect(try await f.call(0x06, .intMap([(1, .int(2)), (2, .int(2))])).0 == .invalidParameter)
        #expect(try await f.call(0x06, .intMap([(1, .int(1)), (2, .int(2))])).0 == .ok)
        #expect(try await f.call(0x06, .intMap([(1, .int(1)), (2, .int(9)), (9, .int(1))])).0 == .invalidSubcommand)
        // It still registers and signs.
        #expect(try await f.call(0x01, .intMap(makeCredentialRequest(rk: true))).0 == .ok)
        #expect(try await f.call(0x02, .intMap(getAssertionRequest())).0 == .ok)
    }

    @Test func aPreviewKeyNamesItsCredentialManagementAsItsModelDoes() async throws {
        // YubiKey 5.2-5.4: credentialMgmtPreview, 0x41 only.
        let yubikey = try Self.fixture(KeyFeatures(level: .ctap2_1_pre))
        let yubikeyOptions = try #require(try await Self.info(yubikey)[int: 4])
        #expect(yubikeyOptions[text: "credentialMgmtPreview"] == .bool(true) && yubikeyOptions[text: "credMgmt"] == nil)
        #expect(try await yubikey.call(0x0A, .intMap([(1, .int(1))])).0 == .invalidCommand)
        #expect(try await yubikey.call(0x41, .intMap([(1, .int(1))])).0 == .puatRequired)
        // SoloKey 1: credMgmt, and 0x0A and 0x41 alike.
        var features = KeyFeatures(level: .ctap2_1_pre)
        features.previewCredentialManagement = .credMgmt
        let solo = try Self.fixture(features)
        let soloOptions = try #require(try await Self.info(solo)[int: 4])
        #expect(soloOptions[text: "credMgmt"] == .bool(true) && soloOptions[text: "credentialMgmtPreview"] == nil)
        for command: UInt8 in [0x0A, 0x41] {
            #expect(try await solo.call(command, .intMap([(1, .int(1))])).0 == .puatRequired, "command \(command)")
        }
        #expect(try await solo.call(0x0B).0 == .invalidCommand, "no selection on a preview key")
    }

    @Test func theGetInfoAs2_0QuirkHidesTheClaimsNotTheCommands() async throws {
        var config = AuthenticatorConfig()
        config.quirks.answerGetInfoAs2_0 = true
        let f = try Fixture(config: config)
        let info = try await Self.info(f)
        guard case .map(let members) = info else { Issue.record("getInfo is not a map"); return }
        #expect(members.map(\.key) == (1...6).map(CBORValue.int))
        #expect(info[int: 1] == .array(["U2F_V2", "FIDO_2_0"]) && info[int: 6] == .array([.int(1)]))
        #expect(info[int: 2] == .array(["credProtect", "hmac-secret"]))
        for absent in ["credMgmt", "authnrCfg", "largeBlobs", "pinUvAuthToken", "credentialMgmtPreview"] {
            #expect(info[int: 4]?[text: absent] == nil, "\(absent)")
        }
        // Underneath it is still a 2.1 key: selection and PIN protocol 2 answer.
        #expect(try await f.call(0x0B).0 == .ok)
        #expect(try await f.call(0x06, .intMap([(1, .int(2)), (2, .int(2))])).0 == .ok)
    }

    @Test func getInfoOmitsLeavesOutOnlyTheClaim() async throws {
        var config = AuthenticatorConfig()
        config.features = KeyFeatures(level: .ctap2_1_pre)
        config.getInfoOmits = [.transports, .algorithms, .minPINLength, .firmwareVersion]
        let f = try Fixture(config: config)
        guard case .map(let members) = try await Self.info(f) else { Issue.record("getInfo is not a map"); return }
        #expect(members.map(\.key) == (1...8).map(CBORValue.int))
        #expect(try await f.call(0x01, .intMap(makeCredentialRequest(algorithms: [-8]))).0 == .ok, "it still signs EdDSA")
        var full = AuthenticatorConfig()
        full.getInfoOmits = [.firmwareVersion]
        let all = try await Self.info(try Fixture(config: full))
        #expect(all[int: 0x0E] == nil && all[int: 0x0D] != nil && all[int: 0x14] != nil)
    }

    @Test func withoutDiscoverableCredentialsRkIsRefusedAndNothingIsStored() async throws {
        let f = try Self.fixture(KeyFeatures(residentKeys: false))
        let info = try await Self.info(f)
        #expect(info[int: 4]?[text: "rk"] == .bool(false))
        #expect(info[int: 0x14] == nil, "remainingDiscoverableCredentials")
        #expect(try await f.call(0x01, .intMap(makeCredentialRequest(rk: true))).0 == .unsupportedOption)
        #expect(try f.store.residentCredentialCount() == 0)
        #expect(try await f.call(0x01, .intMap(makeCredentialRequest())).0 == .ok)
        #expect(try await f.call(0x02, .intMap(getAssertionRequest())).0 == .noCredentials)
    }

    @Test func aDisabledExtensionIsIgnoredAsAnUnknownOne() async throws {
        let f = try Self.fixture(KeyFeatures(extensions: ["credProtect"], largeBlobs: false))
        let info = try await Self.info(f)
        #expect(info[int: 2] == .array(["credProtect"]))
        #expect(info[int: 4]?[text: "largeBlobs"] == nil)
        #expect(info[int: 0x0B] == nil, "maxSerializedLargeBlobArray")
        #expect(info[int: 0x0F] == nil, "maxCredBlobLength")
        #expect(try await f.call(0x0C, .intMap([(1, .int(32)), (3, .int(0))])).0 == .invalidCommand)
        let request = makeCredentialRequest(rk: true) + [(6, .textMap([("hmac-secret", true), ("credBlob", .bytes([1])), ("credProtect", .int(2))]))]
        let (status, body) = try await f.call(0x01, .intMap(request))
        #expect(status == .ok)
        let authData = try #require(body?[int: 2]?.bytesValue)
        // After the attested credential (AAGUID, ID length, ID, COSE key): only credProtect answers.
        let afterId = Array(authData.dropFirst(37 + 16 + 2 + (Int(authData[53]) << 8 | Int(authData[54]))))
        let (_, keyLength) = try CBORReader.decodePrefix(afterId)
        #expect(try CBORReader.decode(Array(afterId.dropFirst(keyLength))) == .textMap([("credProtect", .int(2))]))
    }
}

@Suite struct UserEntityTests {
    /// CTAP 2.1 §6.2.2 `user`: a single account gets "id" alone even with UV (platforms then
    /// need no account chooser); several accounts get their names with UV, for the chooser.
    @Test func namesOnlyWithUserVerificationAndSeveralAccounts() async throws {
        let f = try Fixture(builtInUV: true)
        #expect(try await f.call(0x01, .intMap(makeCredentialRequest(userId: [1], userName: "alice", rk: true, options: [("uv", true)]))).0 == .ok)
        let uv: [(String, CBORValue?)] = [("uv", true)]
        let (status, one) = try await f.call(0x02, .intMap(getAssertionRequest(options: uv)))
        #expect(status == .ok)
        #expect(one?[int: 4] == .textMap([("id", .bytes([1]))]))
        #expect(one?[int: 5] == nil)

        #expect(try await f.call(0x01, .intMap(makeCredentialRequest(userId: [2], userName: "bob", rk: true, options: [("uv", true)]))).0 == .ok)
        let (_, first) = try await f.call(0x02, .intMap(getAssertionRequest(options: uv)))
        #expect(first?[int: 5] == .int(2))
        let (_, next) = try await f.call(0x08)
        #expect(Set([first?[int: 4]?[text: "name"], next?[int: 4]?[text: "name"]]) == [.text("alice"), .text("bob")])
        // Without UV: ids only, however many accounts.
        let (_, silent) = try await f.call(0x02, .intMap(getAssertionRequest()))
        #expect(silent?[int: 4]?[text: "name"] == nil)
    }
}
