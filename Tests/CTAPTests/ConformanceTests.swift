import CBOR
import Testing
import CTAPWire
@testable import CTAP

/// What independent suites check byte by byte (docs/conformance.md): strict canonical input,
/// type-checked members, up=false in makeCredential, and privacy of the user entity.
@Suite struct StrictInput {
    /// A makeCredential request written out by hand, canonical: {1: cdh, 2: rp, 3: user, 4: params}.
    static func request(rp: [UInt8] = rpMap, cdhHead: [UInt8] = [0x58, 0x20], keyOne: [UInt8] = [0x01]) -> [UInt8] {
        [0x01, 0xA4] + keyOne + cdhHead + clientDataHash + [0x02] + rp
            + [0x03, 0xA2, 0x62] + Array("id".utf8) + [0x41, 0x01, 0x64] + Array("name".utf8) + [0x61, 0x61]
            + [0x04, 0x81, 0xA2, 0x63] + Array("alg".utf8) + [0x26, 0x64] + Array("type".utf8) + [0x6A] + Array("public-key".utf8)
    }
    static let rpMap: [UInt8] = [0xA1, 0x62] + Array("id".utf8) + [0x6B] + Array("example.com".utf8)

    @Test func theCanonicalRequestIsAccepted() async throws {
        let f = try Fixture()
        #expect(try await f.raw(Self.request()).0 == .ok)
    }

    @Test func nonMinimalIntegersAndLengthsAreInvalidCBOR() async throws {
        let f = try Fixture()
        #expect(try await f.raw(Self.request(keyOne: [0x18, 0x01])).0 == .invalidCBOR)          // key 1 as 0x18 0x01
        #expect(try await f.raw(Self.request(cdhHead: [0x59, 0x00, 0x20])).0 == .invalidCBOR)   // 32-byte length on 2 bytes
        let longRP: [UInt8] = [0xB8, 0x01, 0x62] + Array("id".utf8) + [0x6B] + Array("example.com".utf8)  // map count on 1 byte
        #expect(try await f.raw(Self.request(rp: longRP)).0 == .invalidCBOR)
        #expect(try await f.raw(Self.request()).0 == .ok)
    }

    @Test func keysOutOfCanonicalOrderAreInvalidCBOR() async throws {
        let f = try Fixture()
        // rp {"name": "n", "id": ...}: "name" encodes longer than "id", so it must come second.
        let unsorted: [UInt8] = [0xA2, 0x64] + Array("name".utf8) + [0x61, 0x6E, 0x62] + Array("id".utf8) + [0x6B] + Array("example.com".utf8)
        #expect(try await f.raw(Self.request(rp: unsorted)).0 == .invalidCBOR)
        // Top level: key 2 before key 1.
        let swapped: [UInt8] = [0x01, 0xA2, 0x02] + Self.rpMap + [0x01, 0x58, 0x20] + clientDataHash
        #expect(try await f.raw(swapped).0 == .invalidCBOR)
        let sorted: [UInt8] = [0xA2, 0x62] + Array("id".utf8) + [0x6B] + Array("example.com".utf8) + [0x64] + Array("name".utf8) + [0x61, 0x6E]
        #expect(try await f.raw(Self.request(rp: sorted)).0 == .ok)
    }

    @Test func wrongMajorTypesAreUnexpectedType() async throws {
        let f = try Fixture()
        let valid = makeCredentialRequest()
        #expect(try await f.call(0x01, replacing(valid, 1, with: .text("hash"))).0 == .cborUnexpectedType)
        #expect(try await f.call(0x01, replacing(valid, 2, with: .array(["example.com"]))).0 == .cborUnexpectedType)
        #expect(try await f.call(0x01, replacing(valid, 3, with: .bytes([1]))).0 == .cborUnexpectedType)
        #expect(try await f.call(0x01, replacing(valid, 4, with: .textMap([("alg", -7)]))).0 == .cborUnexpectedType)
        #expect(try await f.call(0x01, replacing(valid, 7, with: .textMap([("rk", 1)]))).0 == .cborUnexpectedType)
        #expect(try await f.call(0x02, replacing(getAssertionRequest(), 2, with: .int(5))).0 == .cborUnexpectedType)
        #expect(try await f.call(0x01, .intMap(valid)).0 == .ok)
    }

    @Test func deprecatedIconsAreTypeCheckedToo() async throws {
        let f = try Fixture()
        let rp = CBORValue.textMap([("id", "example.com"), ("icon", .bytes([1]))])
        let user = CBORValue.textMap([("id", .bytes([1])), ("icon", .int(3))])
        #expect(try await f.call(0x01, replacing(makeCredentialRequest(), 2, with: rp)).0 == .cborUnexpectedType)
        #expect(try await f.call(0x01, replacing(makeCredentialRequest(), 3, with: user)).0 == .cborUnexpectedType)
        let rpName = CBORValue.textMap([("id", "example.com"), ("name", .bytes([1]))])
        #expect(try await f.call(0x01, replacing(makeCredentialRequest(), 2, with: rpName)).0 == .cborUnexpectedType)
        let userDisplayName = CBORValue.textMap([("id", .bytes([1])), ("displayName", .int(3))])
        #expect(try await f.call(0x01, replacing(makeCredentialRequest(), 3, with: userDisplayName)).0 == .cborUnexpectedType)
        var textIcons = makeCredentialRequest()
        textIcons[1] = (2, .textMap([("id", "example.com"), ("icon", "https://example.com/rp.png")]))
        textIcons[2] = (3, .textMap([("id", .bytes([1])), ("icon", "https://example.com/user.png")]))
        #expect(try await f.call(0x01, .intMap(textIcons)).0 == .ok)
    }

    @Test func userPresenceFalseInMakeCredentialIsInvalidOption() async throws {
        let f = try Fixture()
        #expect(try await f.call(0x01, .intMap(makeCredentialRequest(options: [("up", false)]))).0 == .invalidOption)
        #expect(f.presence.requests.isEmpty)  // refused before anyone is asked
        #expect(try f.store.allResidentCredentials().isEmpty)
        #expect(try await f.call(0x01, .intMap(makeCredentialRequest(options: [("up", true)]))).0 == .ok)
    }
}

@Suite struct UserEntityPrivacy {
    @Test func withoutUserVerificationOnlyTheUserIdIsReturned() async throws {
        let f = try Fixture(builtInUV: true)
        for id: UInt8 in [1, 2] {
            let request = makeCredentialRequest(userId: [id], userName: "user\(id)", rk: true, options: [("uv", true)])
            #expect(try await f.call(0x01, .intMap(request)).0 == .ok)
            f.clock.offset += .seconds(1)
        }
        // No user verification: id alone, through getAssertion and getNextAssertion.
        let (status, first) = try await f.call(0x02, .intMap(getAssertionRequest()))
        #expect(status == .ok)
        #expect(first?[int: 4]?.mapValue?.map(\.key) == ["id"])
        #expect(first?[int: 2]?.bytesValue?[32] == 0x01)  // UP only
        let (_, next) = try await f.call(0x08)
        #expect(next?[int: 4]?.mapValue?.map(\.key) == ["id"])
        // Verified by built-in UV: name and displayName are back.
        let (_, verified) = try await f.call(0x02, .intMap(getAssertionRequest(options: [("uv", true)])))
        #expect(verified?[int: 2]?.bytesValue?[32] == 0x05)  // UP and UV
        #expect(verified?[int: 4]?[text: "name"] == "user2")
        #expect(verified?[int: 4]?[text: "displayName"] == "User2")
    }
}

@Suite struct HMACSecretNeedsPresence {
    @Test func aSilentRequestForHMACSecretIsUnsupportedOption() async throws {
        let f = try Fixture()
        let (_, made) = try await f.call(0x01, replacing(makeCredentialRequest(), 6, with: .textMap([("hmac-secret", true)])))
        let id = try AttestedCredential(authData: try #require(made?[int: 2]?.bytesValue)).credentialId
        // Checked before the salts are opened, so a well-formed input is enough here.
        let input = CBORValue.intMap([(1, .intMap([(1, 2), (3, -25)])), (2, .bytes([UInt8](repeating: 0, count: 32))),
                                      (3, .bytes([UInt8](repeating: 0, count: 16)))])
        let silent = getAssertionRequest(allowList: [id], options: [("up", false)]) + [(4, .textMap([("hmac-secret", input)]))]
        let asked = f.presence.requests.count
        #expect(try await f.call(0x02, .intMap(silent)).0 == .unsupportedOption)
        #expect(f.presence.requests.count == asked)
        // The same silent probe without the extension still works.
        #expect(try await f.call(0x02, .intMap(getAssertionRequest(allowList: [id], options: [("up", false)]))).0 == .ok)
    }
}

@Suite struct AlwaysUvAndSilentProbes {
    @Test func aSilentProbeIsNotHeldToAlwaysUv() async throws {
        let f = try Fixture()
        let (_, made) = try await f.call(0x01, .intMap(makeCredentialRequest()))
        let id = try AttestedCredential(authData: try #require(made?[int: 2]?.bytesValue)).credentialId
        #expect(try await f.call(0x0D, .intMap([(1, 2)])).0 == .ok)  // toggleAlwaysUv on
        // §6.2.2 step 5 applies only when "up" is true: the platform's pre-flight still works...
        let (status, probe) = try await f.call(0x02, .intMap(getAssertionRequest(allowList: [id], options: [("up", false)])))
        #expect(status == .ok)
        #expect(probe?[int: 2]?.bytesValue?[32] == 0x00)  // neither UP nor UV
        // ...while a real assertion needs user verification.
        #expect(try await f.call(0x02, .intMap(getAssertionRequest(allowList: [id]))).0 != .ok)
    }
}

@Suite struct StoredKeysAreBounded {
    @Test func nonResidentRSAKeysStopAtTheLimitWithKeyStoreFull() async throws {
        let f = try Fixture(config: AuthenticatorConfig(maxDetachedKeys: 2))
        for user: UInt8 in [1, 2] {
            #expect(try await f.call(0x01, .intMap(makeCredentialRequest(userId: [user], algorithms: [-257]))).0 == .ok)
        }
        #expect(try await f.call(0x01, .intMap(makeCredentialRequest(userId: [3], algorithms: [-257]))).0 == .keyStoreFull)
        #expect(try f.store.detachedKeyCount() == 2)
        // Keys that fit in their credential ID need no room; discoverable ones have their own limit.
        #expect(try await f.call(0x01, .intMap(makeCredentialRequest(userId: [4], algorithms: [-7]))).0 == .ok)
        #expect(try await f.call(0x01, .intMap(makeCredentialRequest(userId: [5], algorithms: [-257], rk: true))).0 == .ok)
    }
}
