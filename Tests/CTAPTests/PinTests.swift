import CBOR
import CTAPWire
import Crypto
import CryptoExtras
import Foundation
import Testing
@testable import CTAP

/// The platform's half of PIN/UV auth protocols one and two (CTAP 2.1 §6.5.6, §6.5.7), written
/// here from the specification with swift-crypto, independent of the core's PinUvAuthProtocol.
struct PlatformPin {
    let version: Int
    let platformKey: CBORValue
    let hmacKey: [UInt8]
    let aesKey: [UInt8]

    /// getKeyAgreement, then ECDH with a fresh platform key.
    static func agree(_ f: Fixture, version: Int) async throws -> PlatformPin {
        let (status, reply) = try await f.call(0x06, .intMap([(1, .int(version)), (2, 2)]))
        try #require(status == .ok)
        let key = try #require(reply?[int: 1])
        #expect(key[int: 1] == 2 && key[int: 3] == -25 && key[int: -1] == 1)  // EC2, ECDH-ES+HKDF-256, P-256
        let peer = try P256.KeyAgreement.PublicKey(x963Representation: [0x04] + key[int: -2]!.bytesValue! + key[int: -3]!.bytesValue!)
        let ours = P256.KeyAgreement.PrivateKey()
        let z = try ours.sharedSecretFromKeyAgreement(with: peer).withUnsafeBytes { Array($0) }
        let point = Array(ours.publicKey.x963Representation)
        let cose = CBORValue.intMap([(1, 2), (3, -25), (-1, 1), (-2, .bytes(Array(point[1...32]))), (-3, .bytes(Array(point[33...64])))])
        if version == 1 {
            let secret = Array(SHA256.hash(data: z))
            return PlatformPin(version: 1, platformKey: cose, hmacKey: secret, aesKey: secret)
        }
        func hkdf(_ info: String) -> [UInt8] {
            HKDF<SHA256>.deriveKey(inputKeyMaterial: SymmetricKey(data: z), salt: [UInt8](repeating: 0, count: 32),
                                   info: Array(info.utf8), outputByteCount: 32).withUnsafeBytes { Array($0) }
        }
        return PlatformPin(version: 2, platformKey: cose, hmacKey: hkdf("CTAP2 HMAC key"), aesKey: hkdf("CTAP2 AES key"))
    }

    func encrypt(_ plaintext: [UInt8]) throws -> [UInt8] {
        let iv = version == 1 ? [UInt8](repeating: 0, count: 16) : (0..<16).map { _ in UInt8.random(in: 0...255) }
        let body = Array(try AES._CBC.encrypt(plaintext, using: SymmetricKey(data: aesKey), iv: AES._CBC.IV(ivBytes: iv), noPadding: true))
        return version == 1 ? body : iv + body
    }

    func decrypt(_ ciphertext: [UInt8]) throws -> [UInt8] {
        let (iv, body) = version == 1 ? ([UInt8](repeating: 0, count: 16), ciphertext) : (Array(ciphertext.prefix(16)), Array(ciphertext.dropFirst(16)))
        return Array(try AES._CBC.decrypt(body, using: SymmetricKey(data: aesKey), iv: AES._CBC.IV(ivBytes: iv), noPadding: true))
    }

    static func mac(_ key: [UInt8], _ message: [UInt8], version: Int) -> [UInt8] {
        let full = Array(HMAC<SHA256>.authenticationCode(for: message, using: SymmetricKey(data: key)))
        return version == 1 ? Array(full.prefix(16)) : full
    }

    func authenticate(_ message: [UInt8]) -> [UInt8] { Self.mac(hmacKey, message, version: version) }

    static func padded(_ pin: String) -> [UInt8] { Array(pin.utf8) + [UInt8](repeating: 0, count: 64 - pin.utf8.count) }

    static func setPIN(_ f: Fixture, _ pin: String, version: Int) async throws -> CTAPStatus {
        let p = try await agree(f, version: version)
        let newPinEnc = try p.encrypt(padded(pin))
        return try await f.call(0x06, .intMap([(1, .int(version)), (2, 3), (3, p.platformKey), (4, .bytes(p.authenticate(newPinEnc))),
                                                (5, .bytes(newPinEnc))])).0
    }

    static func changePIN(_ f: Fixture, from old: String, to new: String, version: Int) async throws -> CTAPStatus {
        let p = try await agree(f, version: version)
        let newPinEnc = try p.encrypt(padded(new))
        let pinHashEnc = try p.encrypt(Array(SHA256.hash(data: Array(old.utf8)).prefix(16)))
        return try await f.call(0x06, .intMap([(1, .int(version)), (2, 4), (3, p.platformKey),
                                                (4, .bytes(p.authenticate(newPinEnc + pinHashEnc))), (5, .bytes(newPinEnc)),
                                                (6, .bytes(pinHashEnc))])).0
    }

    /// getPinUvAuthTokenUsingPinWithPermissions (0x09), or getPinToken (0x05) without permissions.
    static func token(_ f: Fixture, _ pin: String, version: Int, permissions: Int? = 0x03, rpId: String? = nil) async throws -> (CTAPStatus, [UInt8]?) {
        let p = try await agree(f, version: version)
        let pinHashEnc = try p.encrypt(Array(SHA256.hash(data: Array(pin.utf8)).prefix(16)))
        let (status, reply) = try await f.call(0x06, .intMap([
            (1, .int(version)), (2, permissions == nil ? 5 : 9), (3, p.platformKey), (6, .bytes(pinHashEnc)),
            (9, permissions.map(CBORValue.int)), (10, rpId.map(CBORValue.text)),
        ]))
        guard status == .ok, let encrypted = reply?[int: 2]?.bytesValue else { return (status, nil) }
        return (status, try p.decrypt(encrypted))
    }

    static func retries(_ f: Fixture) async throws -> (CTAPStatus, Int?, Bool?) {
        let (status, reply) = try await f.call(0x06, .intMap([(1, 2), (2, 1)]))
        return (status, reply?[int: 3]?.intValue, reply?[int: 4]?.boolValue)
    }
}

@Suite struct ClientPINCommand {
    @Test(arguments: [1, 2])
    func setChangeAndTokens(version: Int) async throws {
        let f = try Fixture()
        #expect(try await PlatformPin.retries(f).0 == .pinNotSet)
        #expect(try await PlatformPin.setPIN(f, "123", version: version) == .pinPolicyViolation)  // under 4 code points
        #expect(try await PlatformPin.setPIN(f, "1234", version: version) == .ok)
        #expect(try await PlatformPin.setPIN(f, "5678", version: version) == .pinAuthInvalid)     // only once
        #expect(try await PlatformPin.retries(f).1 == 8)
        let (status, token) = try await PlatformPin.token(f, "1234", version: version)
        #expect(status == .ok && token?.count == 32)
        #expect(try await PlatformPin.changePIN(f, from: "0000", to: "5678", version: version) == .pinInvalid)
        #expect(try await PlatformPin.retries(f).1 == 7)
        #expect(try await PlatformPin.changePIN(f, from: "1234", to: "5678", version: version) == .ok)
        #expect(try await PlatformPin.retries(f).1 == 8)
        #expect(try await PlatformPin.token(f, "1234", version: version).0 == .pinInvalid)
        #expect(try await PlatformPin.token(f, "5678", version: version, permissions: nil).0 == .ok)  // legacy getPinToken
        #expect(try await f.call(0x04).1?[int: 4]?[text: "clientPin"] == true)
    }

    @Test func wrongPinsBlockPerPowerCycleThenForGood() async throws {
        let f = try Fixture()
        #expect(try await PlatformPin.setPIN(f, "1234", version: 2) == .ok)
        var answers: [CTAPStatus] = []
        for _ in 0..<3 { answers.append(try await PlatformPin.token(f, "0000", version: 2).0) }
        #expect(answers == [.pinInvalid, .pinInvalid, .pinAuthBlocked])
        #expect(try await PlatformPin.token(f, "1234", version: 2).0 == .pinAuthBlocked)  // even the right PIN
        #expect(try await PlatformPin.retries(f) == (.ok, 5, true))
        await f.authenticator.powerCycle()
        #expect(try await PlatformPin.retries(f) == (.ok, 5, nil))
        answers = []
        for _ in 0..<5 {
            answers.append(try await PlatformPin.token(f, "0000", version: 2).0)
            if answers.last == .pinAuthBlocked { await f.authenticator.powerCycle() }
        }
        #expect(answers == [.pinInvalid, .pinInvalid, .pinAuthBlocked, .pinInvalid, .pinBlocked])
        #expect(try await PlatformPin.token(f, "1234", version: 2).0 == .pinBlocked)
    }

    @Test func permissionsAreCheckedAndUndefinedBitsIgnored() async throws {
        let f = try Fixture()
        #expect(try await PlatformPin.setPIN(f, "1234", version: 2) == .ok)
        #expect(try await PlatformPin.token(f, "1234", version: 2, permissions: 0).0 == .invalidParameter)
        #expect(try await PlatformPin.token(f, "1234", version: 2, permissions: 0x08).0 == .unauthorizedPermission)  // be
        #expect(try await PlatformPin.token(f, "1234", version: 2, permissions: 0x40 | 0x04).0 == .unauthorizedPermission)  // pcmr + cm
        #expect(try await PlatformPin.retries(f).1 == 8)  // refused before the PIN was checked
        #expect(try await PlatformPin.token(f, "1234", version: 2, permissions: 0x01 | 0x80).0 == .ok)
        #expect(await f.authenticator.pinSession.permissions == [.makeCredential])
    }

    @Test func aTokenAuthorisesMakeCredentialForItsRPOnly() async throws {
        let f = try Fixture()
        #expect(try await PlatformPin.setPIN(f, "1234", version: 2) == .ok)
        let token = try #require(try await PlatformPin.token(f, "1234", version: 2, permissions: 0x01, rpId: "example.com").1)
        let param = PlatformPin.mac(token, clientDataHash, version: 2)
        let request = makeCredentialRequest(rk: true) + [(8, .bytes(param)), (9, 2)]
        let (status, made) = try await f.call(0x01, .intMap(request))
        #expect(status == .ok)
        #expect(made?[int: 2]?.bytesValue?[32] == 0x45)  // UP, UV, AT
        let other = makeCredentialRequest(rpId: "other.example", rk: true) + [(8, .bytes(param)), (9, 2)]
        #expect(try await f.call(0x01, .intMap(other)).0 == .pinAuthInvalid)
        let forged = makeCredentialRequest(rk: true) + [(8, .bytes([UInt8](repeating: 1, count: 32))), (9, 2)]
        #expect(try await f.call(0x01, .intMap(forged)).0 == .pinAuthInvalid)
        // A PIN is set: a discoverable credential without a token is refused.
        #expect(try await f.call(0x01, .intMap(makeCredentialRequest(rk: true))).0 == .puatRequired)
    }
}

@Suite struct PinUvAuthProtocolUnits {
    @Test(arguments: [PinUvAuthProtocol.one, .two])
    func encryptionAndMACMatchTheSpecificationsConstruction(proto: PinUvAuthProtocol) throws {
        let key = (0..<(proto == .one ? 32 : 64)).map { UInt8($0) }
        let plaintext = (0..<32).map { UInt8(255 - $0) }
        let iv = [UInt8](repeating: 7, count: 16)
        let ciphertext = try proto.encrypt(key: key, plaintext, iv: iv)
        let aesKey = proto == .one ? key : Array(key[32...])
        let expectedIV = proto == .one ? [UInt8](repeating: 0, count: 16) : iv
        let expected = Array(try AES._CBC.encrypt(plaintext, using: SymmetricKey(data: aesKey), iv: AES._CBC.IV(ivBytes: expectedIV), noPadding: true))
        #expect(ciphertext == (proto == .one ? expected : iv + expected))
        #expect(proto.decrypt(key: key, ciphertext) == plaintext)
        #expect(proto.decrypt(key: key, Array(ciphertext.dropLast())) == nil)  // not whole blocks
        #expect(proto.decrypt(key: key, []) == nil)
        let hmacKey = proto == .one ? key : Array(key[..<32])
        let mac = proto.authenticate(key: key, plaintext)
        #expect(mac == PlatformPin.mac(hmacKey, plaintext, version: proto.rawValue))
        #expect(mac.count == (proto == .one ? 16 : 32))
        #expect(proto.verify(key: key, plaintext, signature: mac))
        #expect(!proto.verify(key: key, plaintext, signature: Array(mac.dropLast())))
        #expect(!proto.verify(key: key, plaintext + [0], signature: mac))
    }

    @Test func onlyAP256KeyAgreementKeyIsAccepted() throws {
        let ours = P256.KeyAgreement.PrivateKey()
        let point = Array(P256.KeyAgreement.PrivateKey().publicKey.x963Representation)
        let x = CBORValue.bytes(Array(point[1...32])), y = CBORValue.bytes(Array(point[33...64]))
        #expect(try PinUvAuthProtocol.one.sharedSecret(platformKey: .intMap([(1, 2), (3, -25), (-1, 1), (-2, x), (-3, y)]),
                                                       authenticatorKey: ours).count == 32)
        #expect(try PinUvAuthProtocol.two.sharedSecret(platformKey: .intMap([(1, 2), (3, -25), (-1, 1), (-2, x), (-3, y)]),
                                                       authenticatorKey: ours).count == 64)
        for bad: CBORValue in [.intMap([(1, 1), (3, -25), (-1, 1), (-2, x), (-3, y)]),    // OKP
                               .intMap([(1, 2), (3, -25), (-1, 2), (-2, x), (-3, y)]),    // P-384
                               .intMap([(1, 2), (3, -25), (-1, 1), (-2, x), (-3, x)]),    // not on the curve
                               .intMap([(1, 2), (3, -25), (-1, 1), (-2, x)])] {
            #expect(throws: CTAPError(.invalidParameter)) { try PinUvAuthProtocol.two.sharedSecret(platformKey: bad, authenticatorKey: ours) }
        }
    }
}

@Suite struct CredentialManagementCommand {
    /// A PIN, two discoverable credentials for example.com and one for other.example, and a cm token.
    static func setUp() async throws -> (Fixture, [UInt8]) {
        let f = try Fixture()
        #expect(try await PlatformPin.setPIN(f, "1234", version: 2) == .ok)
        for (rp, user) in [("example.com", 1), ("example.com", 2), ("other.example", 3)] {
            let token = try #require(try await PlatformPin.token(f, "1234", version: 2, permissions: 0x01, rpId: rp).1)
            let request = makeCredentialRequest(rpId: rp, userId: [UInt8(user)], userName: "user\(user)", rk: true)
                + [(8, .bytes(PlatformPin.mac(token, clientDataHash, version: 2))), (9, 2)]
            #expect(try await f.call(0x01, .intMap(request)).0 == .ok)
            f.clock.offset += .seconds(1)
        }
        let token = try #require(try await PlatformPin.token(f, "1234", version: 2, permissions: 0x04).1)
        return (f, token)
    }

    static func call(_ f: Fixture, _ token: [UInt8], _ sub: Int, _ params: CBORValue? = nil) async throws -> (CTAPStatus, CBORValue?) {
        let message = [UInt8(sub)] + (params?.encoded ?? [])
        return try await f.call(0x0A, .intMap([(1, .int(sub)), (2, params), (3, 2), (4, .bytes(PlatformPin.mac(token, message, version: 2)))]))
    }

    @Test func metadataEnumerationDeleteAndUpdate() async throws {
        let (f, token) = try await Self.setUp()
        let (status, metadata) = try await Self.call(f, token, 1)
        #expect(status == .ok && metadata?[int: 1] == 3 && metadata?[int: 2] == 253)
        let (_, firstRP) = try await Self.call(f, token, 2)
        #expect(firstRP?[int: 5] == 2)
        let (_, secondRP) = try await f.call(0x0A, .intMap([(1, 3)]))
        #expect(Set([firstRP?[int: 3]?[text: "id"], secondRP?[int: 3]?[text: "id"]]) == [.text("example.com"), .text("other.example")])
        let rpHash = CBORValue.bytes(Array(SHA256.hash(data: Array("example.com".utf8))))
        let (_, first) = try await Self.call(f, token, 4, .intMap([(1, rpHash)]))
        #expect(first?[int: 9] == 2)
        #expect(first?[int: 6]?[text: "name"] == "user2")  // most recent first, with the user's name
        let (_, second) = try await f.call(0x0A, .intMap([(1, 5)]))
        #expect(second?[int: 6]?[text: "id"] == .bytes([1]))
        #expect(try await f.call(0x0A, .intMap([(1, 5)])).0 == .notAllowed)  // nothing left
        // Update user 1's name, then delete user 2.
        let descriptor = try #require(first?[int: 7])
        let update = CBORValue.intMap([(2, try #require(second?[int: 7])), (3, .textMap([("id", .bytes([1])), ("name", "renamed")]))])
        #expect(try await Self.call(f, token, 7, update).0 == .ok)
        #expect(try f.store.storedCredential(id: try #require(second?[int: 7]?[text: "id"]?.bytesValue))?.userName == "renamed")
        let wrongUser = CBORValue.intMap([(2, descriptor), (3, .textMap([("id", .bytes([9]))]))])
        #expect(try await Self.call(f, token, 7, wrongUser).0 == .invalidParameter)
        #expect(try await Self.call(f, token, 6, .intMap([(2, descriptor)])).0 == .ok)
        #expect(try await Self.call(f, token, 6, .intMap([(2, descriptor)])).0 == .noCredentials)
        #expect(try await Self.call(f, token, 1).1?[int: 1] == 2)
    }

    @Test func theTokenMustAllowCredentialManagement() async throws {
        let (f, token) = try await Self.setUp()
        #expect(try await f.call(0x0A, .intMap([(1, 1)])).0 == .puatRequired)
        let forged = [UInt8](repeating: 0, count: 32)
        #expect(try await Self.call(f, forged, 1).0 == .pinAuthInvalid)
        let mcOnly = try #require(try await PlatformPin.token(f, "1234", version: 2, permissions: 0x01).1)
        #expect(try await Self.call(f, mcOnly, 1).0 == .pinAuthInvalid)
        // A token bound to an RP sees only that RP, and no metadata.
        let bound = try #require(try await PlatformPin.token(f, "1234", version: 2, permissions: 0x04, rpId: "other.example").1)
        #expect(try await Self.call(f, bound, 1).0 == .pinAuthInvalid)
        let exampleHash = CBORValue.bytes(Array(SHA256.hash(data: Array("example.com".utf8))))
        #expect(try await Self.call(f, bound, 4, .intMap([(1, exampleHash)])).0 == .pinAuthInvalid)
        _ = token
        #expect(try await f.call(0x0A, .intMap([(1, 9)])).0 == .invalidSubcommand)
        #expect(try await f.call(0x0A, .intMap([(2, .map([]))])).0 == .missingParameter)
    }

    /// getInfo's encIdentifier or encCredStoreState, opened with the persistent token as CTAP
    /// 2.2 §6.4 says (written here from the text: HKDF-SHA-256, AES-128-CBC, IV first).
    static func open(_ info: CBORValue?, _ member: Int, token: [UInt8], label: String) throws -> [UInt8] {
        let sealed = try #require(info?[int: member]?.bytesValue)
        let key = HKDF<SHA256>.deriveKey(inputKeyMaterial: SymmetricKey(data: token), salt: [UInt8](repeating: 0, count: 32),
                                         info: Array(label.utf8), outputByteCount: 16)
        return Array(try AES._CBC.decrypt(sealed.dropFirst(16), using: key, iv: AES._CBC.IV(ivBytes: sealed.prefix(16)), noPadding: true))
    }

    /// CTAP 2.2's persistent token (pcmr): read-only credential management that survives a
    /// power cycle, the identifier and credential-store state it opens, and its end at a PIN change.
    @Test func thePersistentTokenOnlyReadsAndSurvivesPowerCycles() async throws {
        let (f, token) = try await Self.setUp()
        #expect(try await PlatformPin.token(f, "1234", version: 2, permissions: 0x40 | 0x01).0 == .unauthorizedPermission)
        let persistent = try #require(try await PlatformPin.token(f, "1234", version: 2, permissions: 0x40).1)
        #expect(try await PlatformPin.token(f, "1234", version: 2, permissions: 0x40).1 == persistent)  // one token, not one per request
        #expect(try await Self.call(f, token, 1).0 == .ok)  // the session's token is untouched

        let (_, info) = try await f.call(0x04)
        let (_, again) = try await f.call(0x04)
        #expect(info?[int: 0x19] != again?[int: 0x19])  // a fresh IV each time
        let identifier = try Self.open(info, 0x19, token: persistent, label: "encIdentifier")
        #expect(try Self.open(again, 0x19, token: persistent, label: "encIdentifier") == identifier)
        let state = try Self.open(info, 0x1E, token: persistent, label: "encCredStoreState")

        await f.authenticator.powerCycle()
        #expect(try await Self.call(f, persistent, 1).1?[int: 1] == 3)
        let (status, firstRP) = try await Self.call(f, persistent, 2)
        #expect(status == .ok && firstRP?[int: 5] == 2)
        let rpHash = CBORValue.bytes(Array(SHA256.hash(data: Array("example.com".utf8))))
        let (_, first) = try await Self.call(f, persistent, 4, .intMap([(1, rpHash)]))
        let descriptor = try #require(first?[int: 7])
        #expect(try await Self.call(f, persistent, 6, .intMap([(2, descriptor)])).0 == .pinAuthInvalid)
        let rename = CBORValue.intMap([(2, descriptor), (3, .textMap([("id", .bytes([2])), ("name", "x")]))])
        #expect(try await Self.call(f, persistent, 7, rename).0 == .pinAuthInvalid)
        let (_, unchanged) = try await f.call(0x04)
        #expect(try Self.open(unchanged, 0x1E, token: persistent, label: "encCredStoreState") == state)

        // A deletion by a cm token changes the state; a PIN change ends the persistent token.
        let cm = try #require(try await PlatformPin.token(f, "1234", version: 2, permissions: 0x04).1)
        #expect(try await Self.call(f, cm, 6, .intMap([(2, descriptor)])).0 == .ok)
        let (_, after) = try await f.call(0x04)
        #expect(try Self.open(after, 0x1E, token: persistent, label: "encCredStoreState") != state)
        #expect(try await PlatformPin.changePIN(f, from: "1234", to: "5678", version: 2) == .ok)
        #expect(try await Self.call(f, persistent, 1).0 == .pinAuthInvalid)
        #expect(try await f.call(0x04).1?[int: 0x19] == nil)
    }

    /// A key without the 2.2 additions (a profile of a real 2.1 model) refuses pcmr.
    @Test func aKeyWithoutThe2_2AdditionsRefusesPcmr() async throws {
        var config = AuthenticatorConfig()
        config.features.ctap2_2Additions = false
        let f = try Fixture(config: config)
        #expect(try await PlatformPin.setPIN(f, "1234", version: 2) == .ok)
        #expect(try await PlatformPin.token(f, "1234", version: 2, permissions: 0x40).0 == .unauthorizedPermission)
        let (_, info) = try await f.call(0x04)
        #expect(info?[int: 4]?[text: "perCredMgmtRO"] == nil && info?[int: 0x16] == nil && info?[int: 0x1D] == nil)
    }
}

@Suite struct HMACSecretExtension {
    /// A credential with hmac-secret, and a getAssertion asking for these salts.
    static func secrets(_ f: Fixture, credential: [UInt8], salts: [UInt8], saltAuth: (([UInt8]) -> [UInt8])? = nil,
                        uv: Bool = false) async throws -> (CTAPStatus, [UInt8]?) {
        let p = try await PlatformPin.agree(f, version: 2)
        let saltEnc = try p.encrypt(salts)
        let input = CBORValue.intMap([(1, p.platformKey), (2, .bytes(saltEnc)), (3, .bytes(saltAuth?(saltEnc) ?? p.authenticate(saltEnc))), (4, 2)])
        let request = getAssertionRequest(allowList: [credential], options: uv ? [("uv", true)] : []) + [(4, .textMap([("hmac-secret", input)]))]
        let (status, reply) = try await f.call(0x02, .intMap(request))
        guard status == .ok, let authData = reply?[int: 2]?.bytesValue else { return (status, nil) }
        let (extensions, _) = try CBORReader.decodePrefix(Array(authData[37...]))
        return (status, try p.decrypt(try #require(extensions[text: "hmac-secret"]?.bytesValue)))
    }

    @Test func outputsAreStablePerSaltAndDifferWithUserVerification() async throws {
        let f = try Fixture(builtInUV: true)
        let (_, made) = try await f.call(0x01, replacing(makeCredentialRequest(), 6, with: .textMap([("hmac-secret", true)])))
        let authData = try #require(made?[int: 2]?.bytesValue)
        let credential = try AttestedCredential(authData: authData)
        let salt1 = [UInt8](repeating: 1, count: 32), salt2 = [UInt8](repeating: 2, count: 32)
        let one = try #require(try await Self.secrets(f, credential: credential.credentialId, salts: salt1).1)
        #expect(one.count == 32)
        #expect(try await Self.secrets(f, credential: credential.credentialId, salts: salt1).1 == one)  // stable
        let two = try #require(try await Self.secrets(f, credential: credential.credentialId, salts: salt1 + salt2).1)
        #expect(two.count == 64 && Array(two.prefix(32)) == one && Array(two.suffix(32)) != one)
        let verified = try #require(try await Self.secrets(f, credential: credential.credentialId, salts: salt1, uv: true).1)
        #expect(verified != one)  // CredRandomWithUV is another secret
    }

    @Test func badSaltsAreRefused() async throws {
        let f = try Fixture()
        let (_, made) = try await f.call(0x01, replacing(makeCredentialRequest(), 6, with: .textMap([("hmac-secret", true)])))
        let id = try AttestedCredential(authData: try #require(made?[int: 2]?.bytesValue)).credentialId
        #expect(try await Self.secrets(f, credential: id, salts: [UInt8](repeating: 1, count: 32), saltAuth: { _ in [UInt8](repeating: 0, count: 32) }).0
                == .pinAuthInvalid)
        #expect(try await Self.secrets(f, credential: id, salts: [UInt8](repeating: 1, count: 48)).0 == .invalidLength)
    }
}
