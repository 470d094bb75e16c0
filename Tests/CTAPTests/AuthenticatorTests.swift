import CBOR
import Crypto
import Foundation
import SwiftASN1
import Testing
import X509
import CTAPWire
@testable import CTAP

@Suite struct GetInfo {
    @Test func claimsExactlyWhatIsImplemented() async throws {
        let f = try Fixture()
        let (status, info) = try await f.call(0x04)
        #expect(status == .ok)
        let info2 = try #require(info)
        #expect(info2[int: 1] == .array(["U2F_V2", "FIDO_2_0", "FIDO_2_1"]))
        #expect(info2[int: 3] == .bytes(AuthenticatorConfig.defaultAAGUID))
        #expect(info2[int: 4] == .textMap([
            ("ep", false), ("rk", true), ("up", true), ("plat", false), ("alwaysUv", false), ("credMgmt", true),
            ("authnrCfg", true), ("clientPin", false), ("largeBlobs", true), ("perCredMgmtRO", true), ("pinUvAuthToken", true),
            ("setMinPINLength", true), ("makeCredUvNotRqd", true), ("credentialMgmtPreview", true),
        ]))
        #expect(info2[int: 2] == .array(["credBlob", "credProtect", "hmac-secret", "largeBlobKey", "minPinLength", "hmac-secret-mc",
                                         "thirdPartyPayment", "pinComplexityPolicy"]))
        #expect(info2[int: 0x0B] == 4096)
        #expect(info2[int: 0x0F] == 32)
        #expect(info2[int: 0x10] == 8)
        #expect(info2[int: 0x11] == nil && info2[int: 0x12] == nil)  // no built-in UV by default
        #expect(info2[int: 0x14] == 256)
        #expect(info2[int: 5] == 7609)
        #expect(info2[int: 6] == .array([1, 2]))
        #expect(info2[int: 12] == false)
        #expect(info2[int: 13] == 4)
        #expect(info2[int: 7] == 8)
        #expect(info2[int: 8] == 128)
        #expect(info2[int: 9] == .array(["usb"]))
        #expect(info2[int: 10] == .array([
            .textMap([("alg", -7), ("type", "public-key")]), .textMap([("alg", -8), ("type", "public-key")]),
            .textMap([("alg", -35), ("type", "public-key")]), .textMap([("alg", -257), ("type", "public-key")]),
        ]))
        #expect(info2[int: 14] == .int(0x0001_0000))
        // CTAP 2.2 members; the encrypted ones only once a persistent token exists.
        #expect(info2[int: 0x16] == .array(["packed"]))  // "none" is implied, never listed
        #expect(info2[int: 0x17] == nil)  // no built-in UV
        #expect(info2[int: 0x18] == false)
        #expect(info2[int: 0x1B] == false && info2[int: 0x1C] == nil)
        #expect(info2[int: 0x1A] == .array(["usb"]))
        #expect(info2[int: 0x1D] == 63)
        #expect(info2[int: 0x1F] == .array([1, 2, 3]))
        #expect(info2[int: 0x19] == nil && info2[int: 0x1E] == nil)
    }

    /// getInfo is answered from a cache: it must still follow the credentials, the PIN and the settings.
    @Test func theCachedAnswerFollowsWhatItDependsOn() async throws {
        let f = try Fixture()
        let first = try await f.call(0x04).1
        #expect(try await f.call(0x04).1 == first)
        _ = try await f.call(0x01, .intMap(makeCredentialRequest(rk: true)))
        #expect(try await f.call(0x04).1?[int: 0x14] == 255)
        try f.store.wipe()  // behind the authenticator's back, as the control API's store changes are
        #expect(try await f.call(0x04).1?[int: 0x14] == 256)
        #expect(try await PlatformPin.setPIN(f, "1234", version: 2) == .ok)
        #expect(try await f.call(0x04).1?[int: 4]?[text: "clientPin"] == true)
    }

    /// CTAP 2.2 §6.4: "none" is implied and must not be listed, and the list is never empty.
    @Test func aKeyThatOnlyAttestsNoneListsNoFormat() async throws {
        #expect(try await Fixture(attestation: .none).call(0x04).1?[int: 0x16] == nil)
        #expect(try await Fixture(attestation: .self).call(0x04).1?[int: 0x16] == .array(["packed"]))
    }

    @Test func everyListIsInCanonicalOrder() async throws {
        let f = try Fixture()
        let (_, info) = try await f.call(0x04)
        let members = try #require(info?.mapValue)
        var lists = 0
        for member in members {
            guard let items = member.value.arrayValue else { continue }
            lists += 1
            let encoded = items.map(\.encoded)
            for (a, b) in zip(encoded, encoded.dropFirst()) {
                #expect(CBORWriter.canonicalOrder(a, b) == .orderedAscending, "getInfo member \(member.key): \(a.hex) before \(b.hex)")
            }
        }
        // versions, extensions, pinUvAuthProtocols, transports, algorithms, attestationFormats, transportsForReset,
        // authenticatorConfigCommands
        #expect(lists == 8)
    }

    @Test func unknownCommandsAreInvalidCommand() async throws {
        let f = try Fixture()
        for command: UInt8 in [0x00, 0x03, 0x40, 0x09, 0x20, 0xC0, 0xFF] {
            #expect(try await f.raw([command]).0 == .invalidCommand, "command \(command)")
        }
        #expect(try await f.call(0x04).0 == .ok)
    }
}

@Suite struct MakeCredential {
    @Test(arguments: [(-7, AttestationMode.packed), (-8, .packed), (-7, .self), (-8, .self), (-7, .none), (-8, .none)])
    func attestsANewCredential(alg: Int, mode: AttestationMode) async throws {
        let f = try Fixture(attestation: mode)
        let (status, response) = try await f.call(0x01, .intMap(makeCredentialRequest(algorithms: [alg])))
        #expect(status == .ok)
        let r = try #require(response)
        let authData = try #require(r[int: 2]?.bytesValue)
        let credential = try AttestedCredential(authData: authData)
        #expect(credential.rpIdHash == Array(SHA256.hash(data: Array("example.com".utf8))))
        #expect(credential.flags == 0x41)  // UP | AT
        #expect(credential.aaguid == AuthenticatorConfig.defaultAAGUID)
        #expect(credential.publicKey[int: 3]?.intValue == alg)
        let statement = try #require(r[int: 3])
        switch mode {
        case .none:
            #expect(r[int: 1] == "none")
            #expect(statement == .map([]))
        case .self:
            #expect(r[int: 1] == "packed")
            #expect(statement[text: "alg"]?.intValue == alg)
            #expect(statement[text: "x5c"] == nil)
            #expect(try verify(signature: statement[text: "sig"]!.bytesValue!, over: authData + clientDataHash, with: credential.publicKey))
        case .packed:
            #expect(r[int: 1] == "packed")
            #expect(statement[text: "alg"] == -7)
            let der = try #require(statement[text: "x5c"]?.arrayValue?.first?.bytesValue)
            let certificate = try Certificate(derEncoded: der)
            let key = try #require(P256.Signing.PublicKey(certificate.publicKey))
            let signature = try P256.Signing.ECDSASignature(derRepresentation: statement[text: "sig"]!.bytesValue!)
            #expect(key.isValidSignature(signature, for: authData + clientDataHash))
            // The FIDO AAGUID extension carries this AAGUID; the subject has the required OU.
            let aaguidExtension = try #require(certificate.extensions[oid: [1, 3, 6, 1, 4, 1, 45724, 1, 1, 4]])
            #expect(Array(aaguidExtension.value) == [0x04, 0x10] + AuthenticatorConfig.defaultAAGUID)
            #expect(certificate.subject.description.contains("OU=Authenticator Attestation"))
            #expect(try certificate.extensions.basicConstraints == .notCertificateAuthority)
        }
    }

    @Test func batchCertificateChainsToTheExportedRoot() async throws {
        let f = try Fixture()
        let (_, response) = try await f.call(0x01, .intMap(makeCredentialRequest()))
        let der = try #require(response?[int: 3]?[text: "x5c"]?.arrayValue?.first?.bytesValue)
        let leaf = try Certificate(derEncoded: der)
        let root = try Certificate(pemEncoded: try await f.authenticator.attestationRootPEM())
        #expect(leaf.issuer == root.subject)
        #expect(root.publicKey.isValidSignature(leaf.signature, for: leaf))
        var verifier = Verifier(rootCertificates: CertificateStore([root])) { RFC5280Policy() }
        let result = await verifier.validate(leaf: leaf, intermediates: CertificateStore())
        guard case .validCertificate = result else { Issue.record("chain does not validate: \(result)"); return }
    }

    @Test func picksTheFirstSupportedAlgorithmInTheCallersOrder() async throws {
        let f = try Fixture()
        for (requested, chosen) in [([-999, -8, -7], -8), ([-35, -7, -8], -35), ([-7, -8], -7), ([-257], -257)] {
            let (status, r) = try await f.call(0x01, .intMap(makeCredentialRequest(algorithms: requested)))
            #expect(status == .ok)
            #expect(try AttestedCredential(authData: r![int: 2]!.bytesValue!).publicKey[int: 3]?.intValue == chosen)
        }
        #expect(try await f.call(0x01, .intMap(makeCredentialRequest(algorithms: [-999, -36, -37]))).0 == .unsupportedAlgorithm)
        #expect(try await f.call(0x01, .intMap(makeCredentialRequest(algorithms: []))).0 == .unsupportedAlgorithm)
    }

    @Test func entriesOfOtherTypesAreSkipped() async throws {
        let f = try Fixture()
        var request = makeCredentialRequest()
        request[3] = (4, .array([.textMap([("alg", -7), ("type", "other-type")]), .textMap([("alg", -8), ("type", "public-key")])]))
        let (status, r) = try await f.call(0x01, .intMap(request))
        #expect(status == .ok)
        #expect(try AttestedCredential(authData: r![int: 2]!.bytesValue!).publicKey[int: 3]?.intValue == -8)
    }

    @Test func breakingOneFieldGivesTheSpecStatus() async throws {
        let f = try Fixture()
        let valid = makeCredentialRequest()
        let cases: [(Int, CBORValue?, CTAPStatus)] = [
            (1, nil, .missingParameter), (1, "text", .cborUnexpectedType),
            (2, nil, .missingParameter), (2, .array([]), .cborUnexpectedType), (2, .textMap([("name", "x")]), .missingParameter),
            (2, .textMap([("id", 5)]), .cborUnexpectedType), (2, .textMap([("id", "a"), ("name", 1)]), .cborUnexpectedType),
            (3, nil, .missingParameter), (3, .textMap([("name", "x")]), .missingParameter),
            (3, .textMap([("id", "not bytes")]), .cborUnexpectedType),
            (3, .textMap([("id", .bytes(Array(repeating: 1, count: 65)))]), .invalidLength),
            (4, nil, .missingParameter), (4, .map([]), .cborUnexpectedType), (4, .array([1]), .cborUnexpectedType),
            (4, .array([.textMap([("type", "public-key")])]), .missingParameter),
            (4, .array([.textMap([("alg", "ES256"), ("type", "public-key")])]), .cborUnexpectedType),
            (5, .map([]), .cborUnexpectedType), (5, .array([.textMap([("type", "public-key")])]), .missingParameter),
            (6, .array([]), .cborUnexpectedType),
            (7, .array([]), .cborUnexpectedType), (7, .textMap([("rk", 1)]), .cborUnexpectedType),
            (7, .textMap([("up", false)]), .invalidOption), (7, .textMap([("uv", true)]), .invalidOption),
            (8, "x", .cborUnexpectedType), (8, .bytes([1, 2]), .missingParameter),
        ]
        for (key, value, expected) in cases {
            let request = replacing(valid, key, with: value)
            #expect(try await f.call(0x01, request).0 == expected, "member \(key) = \(String(describing: value))")
        }
        #expect(try await f.call(0x01, .intMap(valid + [(8, .bytes([1, 2])), (9, 7)])).0 == .invalidParameter)
        // Unknown options and extensions are ignored.
        #expect(try await f.call(0x01, .intMap(makeCredentialRequest(options: [("future", true)]))).0 == .ok)
        #expect(try await f.call(0x01, .intMap(valid + [(6, .textMap([("future-ext", 1)]))])).0 == .ok)
        // The device keeps answering.
        #expect(try await f.call(0x04).0 == .ok)
    }

    @Test func emptyPinUvAuthParamIsATouchProbe() async throws {
        let f = try Fixture()
        #expect(try await f.call(0x01, .intMap(makeCredentialRequest() + [(8, .bytes([])), (9, 1)])).0 == .pinNotSet)
        #expect(f.presence.requests.last?.operation == .touchProbe)
        f.presence.answer = .denied
        #expect(try await f.call(0x01, .intMap(makeCredentialRequest() + [(8, .bytes([])), (9, 1)])).0 == .operationDenied)
    }

    @Test func excludeListRefusesAKnownCredentialAfterATouch() async throws {
        let f = try Fixture()
        let (_, first) = try await f.call(0x01, .intMap(makeCredentialRequest()))
        let id = try AttestedCredential(authData: first![int: 2]!.bytesValue!).credentialId
        let asked = f.presence.requests.count
        #expect(try await f.call(0x01, .intMap(makeCredentialRequest(excludeList: [[1, 2, 3], id]))).0 == .credentialExcluded)
        #expect(f.presence.requests.count == asked + 1)
        // The same ID does not exclude for another RP.
        #expect(try await f.call(0x01, .intMap(makeCredentialRequest(rpId: "other.example", excludeList: [id]))).0 == .ok)
    }

    @Test func userPresenceAnswersMapToStatuses() async throws {
        let f = try Fixture()
        for (answer, status) in [(UserPresenceResult.denied, CTAPStatus.operationDenied), (.timedOut, .userActionTimeout),
                                 (.cancelled, .keepaliveCancel)] {
            f.presence.answer = answer
            #expect(try await f.call(0x01, .intMap(makeCredentialRequest(rk: true))).0 == status)
        }
        #expect(try f.store.allResidentCredentials().isEmpty)  // nothing stored without presence
    }

    @Test func residentCredentialForTheSameUserReplacesTheOldOne() async throws {
        let f = try Fixture()
        _ = try await f.call(0x01, .intMap(makeCredentialRequest(rk: true)))
        _ = try await f.call(0x01, .intMap(makeCredentialRequest(userName: "alice2", rk: true)))
        _ = try await f.call(0x01, .intMap(makeCredentialRequest(userId: [9], userName: "bob", rk: true)))
        let stored = try f.store.allResidentCredentials()
        #expect(Set(stored.compactMap(\.userName)) == ["alice2", "bob"])
    }
}

@Suite struct GetAssertion {
    func register(_ f: Fixture, rk: Bool = false, userId: [UInt8] = [1], name: String = "alice", rpId: String = "example.com",
                  alg: Int = -7) async throws -> AttestedCredential {
        let (status, r) = try await f.call(0x01, .intMap(makeCredentialRequest(rpId: rpId, userId: userId, userName: name, algorithms: [alg], rk: rk)))
        #expect(status == .ok)
        return try AttestedCredential(authData: r![int: 2]!.bytesValue!)
    }

    @Test(arguments: [-7, -8])
    func assertsWithAnAllowList(alg: Int) async throws {
        let f = try Fixture()
        let credential = try await register(f, alg: alg)
        let (status, r) = try await f.call(0x02, .intMap(getAssertionRequest(allowList: [[0xAA], credential.credentialId])))
        #expect(status == .ok)
        let authData = try #require(r?[int: 2]?.bytesValue)
        #expect(authData.count == 37)
        #expect(authData[32] == 0x01)
        #expect(r?[int: 1] == .textMap([("id", .bytes(credential.credentialId)), ("type", "public-key")]))
        #expect(r?[int: 4] == nil)  // non-resident: no user
        #expect(r?[int: 5] == nil)
        #expect(try verify(signature: r![int: 3]!.bytesValue!, over: authData + clientDataHash, with: credential.publicKey))
    }

    @Test func signCountIncreases() async throws {
        let f = try Fixture()
        let credential = try await register(f)
        var last = credential.signCount
        for _ in 0..<3 {
            let (_, r) = try await f.call(0x02, .intMap(getAssertionRequest(allowList: [credential.credentialId])))
            let count = r![int: 2]!.bytesValue![33..<37].reduce(0) { $0 << 8 | UInt32($1) }
            #expect(count > last)
            last = count
        }
    }

    @Test func tamperedOrForeignCredentialIdsAreNotFound() async throws {
        let f = try Fixture()
        let credential = try await register(f)
        for index in [0, 1, 13, 30, credential.credentialId.count - 1] {
            var tampered = credential.credentialId
            tampered[index] ^= 0x01
            #expect(try await f.call(0x02, .intMap(getAssertionRequest(allowList: [tampered]))).0 == .noCredentials)
        }
        #expect(try await f.call(0x02, .intMap(getAssertionRequest(allowList: [Array(credential.credentialId.dropLast())]))).0 == .noCredentials)
        #expect(try await f.call(0x02, .intMap(getAssertionRequest(rpId: "evil.example", allowList: [credential.credentialId]))).0 == .noCredentials)
        #expect(try await f.call(0x02, .intMap(getAssertionRequest(allowList: [credential.credentialId]))).0 == .ok)
    }

    @Test func discoverableAccountsComeMostRecentFirstThroughGetNextAssertion() async throws {
        let f = try Fixture()
        for (i, name) in ["alice", "bob", "carol"].enumerated() {
            _ = try await register(f, rk: true, userId: [UInt8(i + 1)], name: name)
            f.clock.offset += .seconds(1)  // creation order is the injected clock's
        }
        _ = try await register(f, rk: true, userId: [9], name: "mallory", rpId: "other.example")
        let (status, first) = try await f.call(0x02, .intMap(getAssertionRequest()))
        #expect(status == .ok)
        #expect(first?[int: 5] == 3)
        #expect(first?[int: 4] == .textMap([("id", .bytes([3]))]))  // no name without UV
        var users: [[UInt8]] = [first![int: 4]![text: "id"]!.bytesValue!]
        for _ in 0..<2 {
            let (s, next) = try await f.call(0x08)
            #expect(s == .ok)
            #expect(next?[int: 5] == nil)
            users.append(next![int: 4]![text: "id"]!.bytesValue!)
        }
        #expect(users == [[3], [2], [1]])
        #expect(try await f.call(0x08).0 == .notAllowed)
    }

    @Test func getNextAssertionNeedsADirectlyPrecedingGetAssertion() async throws {
        let f = try Fixture()
        _ = try await register(f, rk: true, userId: [1])
        _ = try await register(f, rk: true, userId: [2])
        #expect(try await f.call(0x08).0 == .notAllowed)
        _ = try await f.call(0x02, .intMap(getAssertionRequest()))
        _ = try await f.call(0x04)
        #expect(try await f.call(0x08).0 == .notAllowed)
        _ = try await f.call(0x02, .intMap(getAssertionRequest()))
        f.clock.offset += .seconds(31)
        #expect(try await f.call(0x08).0 == .notAllowed)
    }

    @Test func silentProbeDoesNotAskTheUser() async throws {
        let f = try Fixture()
        let credential = try await register(f)
        let asked = f.presence.requests.count
        let (status, r) = try await f.call(0x02, .intMap(getAssertionRequest(allowList: [credential.credentialId], options: [("up", false)])))
        #expect(status == .ok)
        #expect(r![int: 2]!.bytesValue![32] == 0x00)
        #expect(f.presence.requests.count == asked)
    }

    @Test func optionsAndParametersAreChecked() async throws {
        let f = try Fixture()
        _ = try await register(f, rk: true)
        let valid = getAssertionRequest()
        #expect(try await f.call(0x02, .intMap(getAssertionRequest(options: [("rk", true)]))).0 == .unsupportedOption)
        #expect(try await f.call(0x02, .intMap(getAssertionRequest(options: [("uv", true)]))).0 == .invalidOption)
        #expect(try await f.call(0x02, replacing(valid, 1, with: nil)).0 == .missingParameter)
        #expect(try await f.call(0x02, replacing(valid, 1, with: .bytes([1]))).0 == .cborUnexpectedType)
        #expect(try await f.call(0x02, replacing(valid, 2, with: nil)).0 == .missingParameter)
        #expect(try await f.call(0x02, replacing(valid, 3, with: .array([.textMap([("id", .bytes([1]))])]))).0 == .missingParameter)
        #expect(try await f.call(0x02, .intMap(valid + [(6, .bytes([]))])).0 == .pinNotSet)
        #expect(try await f.call(0x02, .intMap(getAssertionRequest(rpId: "nobody.example"))).0 == .noCredentials)
        #expect(try await f.call(0x02, .intMap(valid)).0 == .ok)
    }

    @Test func deletedResidentCredentialCannotComeBackThroughTheAllowList() async throws {
        let f = try Fixture()
        let credential = try await register(f, rk: true)
        try f.store.deleteCredential(id: credential.credentialId)
        #expect(try await f.call(0x02, .intMap(getAssertionRequest(allowList: [credential.credentialId]))).0 == .noCredentials)
    }
}

@Suite struct ResetAndSelection {
    @Test func resetWipesEverythingWithinTheWindowOnly() async throws {
        let f = try Fixture()
        let (_, r) = try await f.call(0x01, .intMap(makeCredentialRequest(rk: false)))
        let nonResident = try AttestedCredential(authData: r![int: 2]!.bytesValue!).credentialId
        _ = try await f.call(0x01, .intMap(makeCredentialRequest(rk: true)))
        let rootBefore = try await f.authenticator.attestationRootPEM()
        f.presence.answer = .denied
        #expect(try await f.call(0x07).0 == .operationDenied)
        f.presence.answer = .approved
        #expect(try await f.call(0x07).0 == .ok)
        #expect(try f.store.allResidentCredentials().isEmpty)
        #expect(try await f.call(0x02, .intMap(getAssertionRequest(allowList: [nonResident]))).0 == .noCredentials)
        #expect(try await f.authenticator.attestationRootPEM() == rootBefore)  // the device identity survives
        f.clock.offset += .seconds(11)
        #expect(try await f.call(0x07).0 == .notAllowed)
        await f.authenticator.powerCycle()
        #expect(try await f.call(0x07).0 == .ok)
    }

    /// The fuzz target's reset in place: the store changed behind the authenticator's back
    /// (here: put back to what it held before a reset and a new PIN), and reload() takes it.
    @Test func reloadTakesTheStoredStateBack() async throws {
        let f = try Fixture()
        let made = try await f.call(0x01, .intMap(makeCredentialRequest())).1
        let nonResident = try AttestedCredential(authData: made![int: 2]!.bytesValue!).credentialId
        let secrets = try f.store.secretNames().map { ($0, try f.store.loadSecret($0)!) }
        #expect(try await f.call(0x07).0 == .ok)  // a new master key: the credential ID no longer opens
        #expect(try await PlatformPin.setPIN(f, "1234", version: 2) == .ok)
        #expect(try await f.call(0x02, .intMap(getAssertionRequest(allowList: [nonResident]))).0 == .noCredentials)

        try f.store.wipe()
        for (name, blob) in secrets { try f.store.saveSecret(name, blob) }
        try await f.authenticator.reload()
        #expect(try await PlatformPin.retries(f).0 == .pinNotSet)
        #expect(try await f.call(0x02, .intMap(getAssertionRequest(allowList: [nonResident]))).0 == .ok)
    }

    @Test func selectionAsksForATouch() async throws {
        let f = try Fixture()
        #expect(try await f.call(0x0B).0 == .ok)
        #expect(f.presence.requests.last?.operation == .selection)
        f.presence.answer = .timedOut
        #expect(try await f.call(0x0B).0 == .userActionTimeout)
    }
}

@Suite struct MalformedInput {
    @Test func malformedCBORIsInvalidCBORAndTheDeviceKeepsAnswering() async throws {
        let f = try Fixture()
        let valid = CBORValue.intMap(makeCredentialRequest()).encoded
        let malformed: [[UInt8]] = [
            Array(valid.dropLast()),                // truncated
            valid + [0x00],                         // trailing bytes
            [0xA1, 0x18, 0x01, 0x01],               // non-minimal key
            [0xA2, 0x01, 0x01, 0x01, 0x02],         // duplicate key
            [0xA2, 0x02, 0x01, 0x01, 0x01],         // unsorted keys
            [0xBF, 0x01, 0x01, 0xFF],               // indefinite map
            [0xA1, 0x01] + Array(repeating: 0x81, count: 10) + [0x01],  // nesting too deep
            [0xA1, 0x01, 0x62, 0xC3, 0x28],         // invalid UTF-8
            [0xA1, 0x01, 0xF9, 0x3C, 0x00],         // a float
        ]
        for body in malformed {
            #expect(try await f.raw([0x01] + body).0 == .invalidCBOR, "\(body.hex)")
            #expect(try await f.raw([0x02] + body).0 == .invalidCBOR, "\(body.hex)")
        }
        #expect(try await f.raw([0x01, 0x80]).0 == .cborUnexpectedType)   // not a map
        #expect(try await f.raw([0x01]).0 == .missingParameter)           // no parameters at all
        #expect(try await f.call(0x01, .intMap(makeCredentialRequest())).0 == .ok)
    }

    @Test func responsesAreCanonical() async throws {
        // Fixture.call decodes every response and fails unless it equals its canonical re-encoding.
        let f = try Fixture()
        #expect(try await f.call(0x04).0 == .ok)
        #expect(try await f.call(0x01, .intMap(makeCredentialRequest(rk: true))).0 == .ok)
        f.clock.offset += .seconds(1)
        #expect(try await f.call(0x01, .intMap(makeCredentialRequest(userId: [7], rk: true))).0 == .ok)
        let (status, first) = try await f.call(0x02, .intMap(getAssertionRequest()))
        #expect(status == .ok && first?[int: 5] == 2)
        let (next, second) = try await f.call(0x08)
        #expect(next == .ok && second?[int: 4] != nil)
        #expect(try await f.call(0x06, .intMap([(1, 2), (2, 2)])).0 == .ok)  // clientPIN getKeyAgreement
        #expect(try await f.call(0x0C, .intMap([(1, 100), (3, 0)])).0 == .ok)  // largeBlobs get
    }
}

@Suite struct Persistence {
    @Test func anotherAuthenticatorOnTheSameStoreKeepsTheCredentials() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("vfido-test-\(UUID())")
        defer { try? FileManager.default.removeItem(at: directory) }
        let first = try Fixture(store: .init(directory: directory))
        let (_, r) = try await first.call(0x01, .intMap(makeCredentialRequest(rk: false)))
        let credential = try AttestedCredential(authData: r![int: 2]!.bytesValue!)
        _ = try await first.call(0x01, .intMap(makeCredentialRequest(userId: [5], rk: true)))

        let second = try Fixture(store: .init(directory: directory))
        let (status, a) = try await second.call(0x02, .intMap(getAssertionRequest(allowList: [credential.credentialId])))
        #expect(status == .ok)
        #expect(try verify(signature: a![int: 3]!.bytesValue!, over: a![int: 2]!.bytesValue! + clientDataHash, with: credential.publicKey))
        let (_, d) = try await second.call(0x02, .intMap(getAssertionRequest()))
        #expect(d?[int: 4]?[text: "id"] == .bytes([5]))
    }
}
