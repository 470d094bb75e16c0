import CTAPTestSupport
import CBOR
import Crypto
import Foundation
import Testing
import CTAPWire
@testable import CTAP

@Suite struct CredentialIDs {
    let sealer = CredentialIDSealer(masterKey: [UInt8](repeating: 7, count: 32))
    let rp = Digest.sha256("example.com")

    @Test func version2RoundTripsEveryField() throws {
        var source = CredentialSource(key: [UInt8](repeating: 9, count: 48), algorithm: .es384, isResident: true,
                                      credProtect: 2, hmacSecret: true, credBlob: [1, 2, 3])
        source.thirdPartyPayment = true
        let id = try sealer.seal(source, rpIdHash: rp, nonce: [UInt8](repeating: 1, count: 12))
        #expect(id.count == 1 + 12 + 5 + 48 + 1 + 3 + 16 && id[0] == 2)
        #expect(sealer.open(id, rpIdHash: rp) == source)
        #expect(sealer.open(id, rpIdHash: Digest.sha256("other.example")) == nil)
        for i in [0, 5, 20, id.count - 1] {
            var broken = id
            broken[i] ^= 0x01
            #expect(sealer.open(broken, rpIdHash: rp) == nil, "byte \(i)")
        }
        #expect(id.count <= CredentialIDSealer.maxLength && CredentialIDSealer.maxLength <= 128)
    }

    @Test func anRSAKeyIsDetachedAndOversizedFieldsAreRefused() throws {
        let detached = CredentialSource(key: [], algorithm: .rs256, isResident: false, credProtect: 1)
        let id = try sealer.seal(detached, rpIdHash: rp, nonce: [UInt8](repeating: 2, count: 12))
        #expect(sealer.open(id, rpIdHash: rp)?.keyIsDetached == true)
        let blob = CredentialSource(key: [], algorithm: .es256, isResident: false, credProtect: 1, credBlob: [UInt8](repeating: 0, count: 33))
        #expect(throws: CTAPError(.other)) { try sealer.seal(blob, rpIdHash: rp, nonce: [UInt8](repeating: 2, count: 12)) }
    }

    @Test func version1IDsStillOpen() throws {
        // The version 1 layout: flags | credProtect | alg | 32-byte key, sealed the same way.
        let key = HKDF<SHA256>.deriveKey(inputKeyMaterial: SymmetricKey(data: [UInt8](repeating: 7, count: 32)),
                                         info: Array("vfido credential id v1".utf8), outputByteCount: 32)
        let nonce = [UInt8](repeating: 3, count: 12)
        let plain: [UInt8] = [1, 3, 0xFF, 0xF9] + [UInt8](repeating: 5, count: 32)
        let box = try AES.GCM.seal(plain, using: key, nonce: AES.GCM.Nonce(data: nonce), authenticating: rp)
        let id = [1] + nonce + Array(box.ciphertext) + Array(box.tag)
        #expect(sealer.open(id, rpIdHash: rp) == CredentialSource(key: [UInt8](repeating: 5, count: 32), algorithm: .es256,
                                                                   isResident: true, credProtect: 3))
    }
}

@Suite struct U2FAPDUs {
    @Test func shortAndExtendedEncodings() throws {
        #expect(try U2FCommand(apdu: [0, 3, 0, 0]).data == [])
        #expect(try U2FCommand(apdu: [0, 3, 0, 0, 0]).data == [])  // short Le only
        #expect(try U2FCommand(apdu: [0, 3, 0, 0, 0, 0, 0]).data == [])  // extended Le only
        #expect(try U2FCommand(apdu: [0, 1, 0, 0, 2, 0xAA, 0xBB]).data == [0xAA, 0xBB])
        #expect(try U2FCommand(apdu: [0, 1, 0, 0, 2, 0xAA, 0xBB, 0]).data == [0xAA, 0xBB])
        #expect(try U2FCommand(apdu: [0, 2, 7, 0, 0, 0, 2, 0xAA, 0xBB, 0, 0]).data == [0xAA, 0xBB])
        #expect(try U2FCommand(apdu: [0, 2, 7, 0, 0, 0, 2, 0xAA, 0xBB]).p1 == 7)
    }

    @Test func malformedAPDUsGetStatusWords() {
        #expect(throws: U2FStatus.wrongLength) { try U2FCommand(apdu: [0, 3, 0]) }
        #expect(throws: U2FStatus.claNotSupported) { try U2FCommand(apdu: [0x80, 3, 0, 0]) }
        #expect(throws: U2FStatus.wrongLength) { try U2FCommand(apdu: [0, 1, 0, 0, 5, 1]) }  // Lc beyond the data
        #expect(throws: U2FStatus.wrongLength) { try U2FCommand(apdu: [0, 1, 0, 0, 0, 0, 9, 1, 2]) }
        #expect(throws: U2FStatus.wrongLength) { try U2FCommand(apdu: [0, 1, 0, 0, 1, 1, 2, 3]) }  // trailing bytes
    }

    @Test func registerThenAuthenticateThroughTheAuthenticator() async throws {
        let f = try Fixture()
        let app = Digest.sha256("example.com"), challenge = [UInt8](repeating: 0xC1, count: 32)
        let (reg, _) = await f.authenticator.handleU2F([0, 1, 0, 0, 0, 0, 64] + challenge + app + [0, 0])
        #expect(reg.suffix(2) == [0x90, 0x00] && reg[0] == 0x05)
        let publicKey = Array(reg[1..<66]), handleLength = Int(reg[66]), handle = Array(reg[67..<(67 + handleLength)])
        let (auth, _) = await f.authenticator.handleU2F([0, 2, 3, 0, UInt8(65 + handleLength)] + challenge + app
                                                        + [UInt8(handleLength)] + handle)
        #expect(auth.suffix(2) == [0x90, 0x00] && auth[0] == 0x01)
        let signed = app + Array(auth[0..<5]) + challenge
        let signature = try P256.Signing.ECDSASignature(derRepresentation: auth[5..<(auth.count - 2)])
        #expect(try P256.Signing.PublicKey(x963Representation: publicKey).isValidSignature(signature, for: signed))
        f.presence.answer = .denied
        let (denied, _) = await f.authenticator.handleU2F([0, 2, 3, 0, UInt8(65 + handleLength)] + challenge + app
                                                          + [UInt8(handleLength)] + handle)
        #expect(denied == [0x69, 0x85])
    }
}

@Suite struct LargeBlobArrays {
    @Test func theInitialArrayIsAnEmptyArrayAndItsHash() async throws {
        let f = try Fixture()
        let (status, body) = try await f.call(0x0C, .intMap([(1, 100), (3, 0)]))
        #expect(status == .ok)
        let expected: [UInt8] = [0x80, 0x76, 0xBE, 0x8B, 0x52, 0x8D, 0x00, 0x75, 0xF7, 0xAA, 0xE9, 0x8D, 0x6F, 0xA5, 0x7A, 0x6D, 0x3C]
        #expect(body?[int: 1] == .bytes(expected))
    }

    @Test func aWriteInFragmentsCommitsOnlyWhenComplete() async throws {
        let f = try Fixture()
        let array: [UInt8] = CBORValue.array([.bytes([UInt8](repeating: 1, count: 50))]).encoded
        let serialized = array + Digest.sha256(array).prefix(16)
        #expect(try await f.call(0x0C, .intMap([(2, .bytes(Array(serialized[0..<30]))), (3, 0), (4, .int(serialized.count))])).0 == .ok)
        // not complete yet: reads still see the old array
        #expect(try await f.call(0x0C, .intMap([(1, 10), (3, 0)])).1?[int: 1]?.bytesValue?.first == 0x80)
        #expect(try await f.call(0x0C, .intMap([(2, .bytes(Array(serialized[30...]))), (3, 40)])).0 == .invalidSeq)
        #expect(try await f.call(0x0C, .intMap([(2, .bytes(Array(serialized[0..<30]))), (3, 0), (4, .int(serialized.count))])).0 == .ok)
        #expect(try await f.call(0x0C, .intMap([(2, .bytes(Array(serialized[30...]))), (3, 30)])).0 == .ok)
        #expect(try await f.call(0x0C, .intMap([(1, 1000), (3, 0)])).1?[int: 1] == .bytes(serialized))
    }
}

@Suite struct AuthenticatorConfigCommand {
    @Test func withoutAPINConfigNeedsNoTokenAndSettingsPersist() async throws {
        let f = try Fixture()
        #expect(try await f.call(0x0D, .intMap([(1, 3), (2, .intMap([(1, 3)]))])).0 == .pinPolicyViolation)  // shrink
        #expect(try await f.call(0x0D, .intMap([(1, 9)])).0 == .invalidSubcommand)
        #expect(try await f.call(0x0D, .intMap([(1, 2)])).0 == .ok)  // toggleAlwaysUv
        #expect(try await f.call(0x04).1?[int: 4]?[text: "alwaysUv"] == true)
        // alwaysUv on: even config now needs a token (and setPIN is the way to get one)
        #expect(try await f.call(0x0D, .intMap([(1, 2)])).0 == .puatRequired)
        let again = try Authenticator(config: AuthenticatorConfig(), store: f.store, presence: f.presence, random: SeededRandom(), clock: f.clock)
        let info = await again.handle([0x04])
        #expect(try CBORReader.decode(Array(info.response.dropFirst()))[int: 4]?[text: "alwaysUv"] == true)
    }
}

/// CTAP 2.2 thirdPartyPayment: a payment credential says so in makeCredential, in getAssertion
/// when asked, and in credential management; another credential says false.
@Suite struct ThirdPartyPayment {
    /// The authenticator-data extension outputs after the attested credential (makeCredential)
    /// or after the counter (getAssertion).
    static func outputs(_ authData: [UInt8], attested: Bool) throws -> CBORValue? {
        guard authData[32] & 0x80 != 0 else { return nil }
        var rest = Array(authData[37...])
        if attested {
            let idLength = Int(authData[53]) << 8 | Int(authData[54])
            rest = Array(authData[(55 + idLength)...])
            rest = Array(rest[try CBORReader.decodePrefix(rest).1...])
        }
        return try CBORReader.decode(rest)
    }

    @Test func aPaymentCredentialSaysSo() async throws {
        let f = try Fixture()
        let payment = makeCredentialRequest(userId: [1], rk: true) + [(6, .textMap([("thirdPartyPayment", true)]))]
        let (status, made) = try await f.call(0x01, .intMap(payment))
        #expect(status == .ok)
        let authData = try #require(made?[int: 2]?.bytesValue)
        #expect(try Self.outputs(authData, attested: true)?[text: "thirdPartyPayment"] == true)
        let paymentId = try AttestedCredential(authData: authData).credentialId
        let plain = try await f.call(0x01, .intMap(makeCredentialRequest(userId: [2], rk: true))).1
        let plainId = try AttestedCredential(authData: try #require(plain?[int: 2]?.bytesValue)).credentialId

        for (id, expected) in [(paymentId, true), (plainId, false)] {
            let request = getAssertionRequest(allowList: [id]) + [(4, .textMap([("thirdPartyPayment", true)]))]
            let asserted = try await f.call(0x02, .intMap(request)).1
            #expect(try Self.outputs(try #require(asserted?[int: 2]?.bytesValue), attested: false)?[text: "thirdPartyPayment"] == .bool(expected))
        }
        let unasked = try await f.call(0x02, .intMap(getAssertionRequest(allowList: [paymentId]))).1
        #expect(try Self.outputs(try #require(unasked?[int: 2]?.bytesValue), attested: false) == nil)
        #expect(try await f.call(0x01, .intMap(makeCredentialRequest(userId: [3]) + [(6, .textMap([("thirdPartyPayment", 1)]))])).0
                == .cborUnexpectedType)

        // Credential management names the flag (0x0C) per credential.
        #expect(try await PlatformPin.setPIN(f, "1234", version: 2) == .ok)
        let token = try #require(try await PlatformPin.token(f, "1234", version: 2, permissions: 0x04).1)
        let first = try await CredentialManagementCommand.call(f, token, 4, .intMap([(1, .bytes(Digest.sha256("example.com")))])).1
        let second = try await f.call(0x0A, .intMap([(1, 5)])).1
        let flags = Dictionary(uniqueKeysWithValues: [first, second].map { ($0?[int: 6]?[text: "id"], $0?[int: 0x0C]) })
        #expect(flags[.bytes([1])] == true && flags[.bytes([2])] == false)
    }
}

/// CTAP 2.2's PIN complexity policy: getInfo says whether it is enforced (0x1B) and where it is
/// described (0x1C); setMinPINLength turns it on, only a reset turns it off; the extension
/// tells the RPs minPinLength reports to.
@Suite struct PinComplexityPolicy {
    static func setMinPINLength(_ f: Fixture, _ params: [(Int, CBORValue?)]) async throws -> CTAPStatus {
        try await f.call(0x0D, .intMap([(1, 3), (2, .intMap(params))])).0
    }

    @Test func onlyNewPinsThatPassAreTaken() async throws {
        let f = try Fixture()
        #expect(try await f.call(0x04).1?[int: 0x1B] == false)
        #expect(try await f.call(0x04).1?[int: 0x1C] == nil)
        #expect(try await Self.setMinPINLength(f, [(4, 1)]) == .cborUnexpectedType)
        #expect(try await Self.setMinPINLength(f, [(4, false)]) == .ok)  // off already: nothing to do
        #expect(try await f.call(0x04).1?[int: 0x1B] == false)
        #expect(try await Self.setMinPINLength(f, [(4, true)]) == .ok)
        #expect(try await f.call(0x04).1?[int: 0x1B] == true)
        #expect(try await Self.setMinPINLength(f, [(4, false)]) == .pinPolicyViolation)
        #expect(try await f.call(0x04).1?[int: 0x1B] == true)
        for weak in ["11111111", "12345678", "87654321", "abcdef", "Password", "112233", "aaaa"] {
            #expect(try await PlatformPin.setPIN(f, weak, version: 2) == .pinPolicyViolation, "\(weak)")
        }
        #expect(try await PlatformPin.retries(f).0 == .pinNotSet)  // nothing was stored
        #expect(try await PlatformPin.setPIN(f, "7391", version: 2) == .ok)
        #expect(try await PlatformPin.changePIN(f, from: "7391", to: "4444", version: 2) == .pinPolicyViolation)
        #expect(try await PlatformPin.changePIN(f, from: "7391", to: "8264", version: 2) == .ok)
        #expect(try await PlatformPin.token(f, "8264", version: 2).0 == .ok)
        try await f.authenticator.factoryReset()
        #expect(try await f.call(0x04).1?[int: 0x1B] == false)
        #expect(try await PlatformPin.setPIN(f, "1111", version: 2) == .ok)
    }

    @Test func aKeyCanBeMadeWithThePolicyAndKeepsItAcrossResets() async throws {
        var config = AuthenticatorConfig()
        config.pinComplexityPolicyByDefault = true
        config.pinComplexityPolicyURL = "https://example.com/pin-policy"
        let f = try Fixture(config: config)
        #expect(try await f.call(0x04).1?[int: 0x1B] == true)
        #expect(try await f.call(0x04).1?[int: 0x1C] == .bytes(Array("https://example.com/pin-policy".utf8)))
        try await f.authenticator.factoryReset()
        #expect(try await f.call(0x04).1?[int: 0x1B] == true)
        #expect(try await PlatformPin.setPIN(f, "2222", version: 2) == .pinPolicyViolation)

        // A model without the 2.2 additions has no policy and ignores the parameter, as 2.1 keys do.
        config.features.ctap2_2Additions = false
        let plain = try Fixture(config: config)
        #expect(try await plain.call(0x04).1?[int: 0x1B] == nil)
        #expect(try await Self.setMinPINLength(plain, [(4, true)]) == .ok)
        #expect(try await PlatformPin.setPIN(plain, "2222", version: 2) == .ok)
    }

    @Test func theExtensionTellsOnlyTheRPsMinPinLengthTellsToo() async throws {
        let f = try Fixture()
        #expect(try await Self.setMinPINLength(f, [(2, .array(["example.com"])), (4, true)]) == .ok)
        for (rpId, expected) in [("example.com", CBORValue.bool(true)), ("other.example", nil)] {
            let request = makeCredentialRequest(rpId: rpId) + [(6, .textMap([("pinComplexityPolicy", true)]))]
            let made = try await f.call(0x01, .intMap(request)).1
            let outputs = try ThirdPartyPayment.outputs(try #require(made?[int: 2]?.bytesValue), attested: true)
            #expect(outputs?[text: "pinComplexityPolicy"] == expected, "\(rpId)")
        }
        let bad = makeCredentialRequest() + [(6, .textMap([("pinComplexityPolicy", "yes")]))]
        #expect(try await f.call(0x01, .intMap(bad)).0 == .cborUnexpectedType)
    }
}

/// CTAP 2.2 getInfo 0x17: built-in UV operations, refused ones too, since the PIN was last
/// entered; kept across power cycles; absent without built-in UV.
@Suite struct UVCountSinceLastPinEntry {
    @Test func countsUVAndStartsAgainAtEachPinEntry() async throws {
        #expect(try await Fixture().call(0x04).1?[int: 0x17] == nil)
        let f = try Fixture(builtInUV: true)
        func count() async throws -> CBORValue? { try await f.call(0x04).1?[int: 0x17] }
        #expect(try await count() == 0)
        let verified = makeCredentialRequest(options: [("uv", true)])
        #expect(try await f.call(0x01, .intMap(verified)).0 == .ok)
        #expect(try await count() == 1)
        f.presence.answer = .denied
        #expect(try await f.call(0x01, .intMap(verified)).0 == .uvInvalid)
        #expect(try await count() == 2)
        f.presence.answer = .timedOut  // no UV was attempted
        #expect(try await f.call(0x01, .intMap(verified)).0 == .userActionTimeout)
        #expect(try await count() == 2)
        f.presence.answer = .approved
        #expect(try await PlatformPin.setPIN(f, "1234", version: 2) == .ok)
        #expect(try await count() == 0)
        #expect(try await f.call(0x01, .intMap(verified)).0 == .ok)
        let again = try Authenticator(config: AuthenticatorConfig(builtInUV: true), store: f.store, presence: f.presence,
                                      random: SeededRandom(), clock: f.clock)
        #expect(try CBORReader.decode(Array(await again.handle([0x04]).response.dropFirst()))[int: 0x17] == 1)
        #expect(try await PlatformPin.token(f, "1234", version: 2).0 == .ok)
        #expect(try await count() == 0)
    }
}
