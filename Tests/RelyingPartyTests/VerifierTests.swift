import CBOR
import Foundation
import RelyingParty
import Testing

let origin = "http://localhost:8080"
let verifier = RelyingParty(identity: RelyingPartyIdentity(id: "localhost", name: "test", origins: [origin]))

func challenge() -> [UInt8] { (0..<32).map { _ in UInt8.random(in: 0...255) } }

func register(_ key: inout SoftKey, _ c: [UInt8], expect: RegistrationExpectation? = nil, origin o: String = origin,
              format: SoftKey.Format = .packedSelf, type: String = "webauthn.create",
              edit: (inout [UInt8]) -> Void = { _ in }) throws(WebAuthnError) -> VerifiedRegistration {
    let (cdj, att) = key.register(challenge: c, origin: o, format: format, type: type, edit: edit)
    return try verifier.verifyRegistration(.init(clientDataJSON: cdj, attestationObject: att),
                                           expecting: expect ?? RegistrationExpectation(challenge: c))
}

func code(_ body: () throws -> Void) -> WebAuthnError.Code? {
    do { try body() } catch let error as WebAuthnError { return error.code } catch { return nil }
    return nil
}

@Suite("Registration (L3 §7.1)")
struct RegistrationTests {
    @Test("every algorithm registers with packed self attestation", arguments: COSEAlgorithm.allCases)
    func algorithms(alg: COSEAlgorithm) throws {
        var key = SoftKey(alg)
        let c = challenge()
        let result = try register(&key, c)
        #expect(result.algorithm == alg && result.credentialID == key.credentialID)
        #expect(result.attestation.format == "packed" && result.attestation.kind == .selfAttestation && !result.attestation.trusted)
    }

    @Test func noneAndFidoU2F() throws {
        var key = SoftKey()
        #expect(try register(&key, challenge(), format: .none).attestation.kind == .none)
        let chain = SoftKey.attestationChain(aaguid: key.aaguid)
        #expect(try register(&key, challenge(), format: .fidoU2F(chain.leafKey, chain.leaf)).attestation.format == "fido-u2f")
    }

    @Test func packedX5CChainsToAConfiguredRoot() throws {
        var key = SoftKey()
        let chain = SoftKey.attestationChain(aaguid: key.aaguid)
        let c = challenge()
        var expect = RegistrationExpectation(challenge: c)
        #expect(try register(&key, c, expect: expect, format: .packedX5C(chain.leafKey, chain.leaf)).attestation.trusted == false)
        expect.attestation = AttestationPolicy(trustRoots: [chain.root], requireTrusted: true)
        let trusted = try register(&key, c, expect: expect, format: .packedX5C(chain.leafKey, chain.leaf))
        #expect(trusted.attestation.format == "packed" && trusted.attestation.kind == .basic && trusted.attestation.trusted)
        let other = SoftKey.attestationChain(aaguid: key.aaguid)
        expect.attestation = AttestationPolicy(trustRoots: [other.root], requireTrusted: true)
        #expect(code { _ = try register(&key, c, expect: expect, format: .packedX5C(chain.leafKey, chain.leaf)) } == .attestationUntrusted)
        #expect(code { _ = try register(&key, c, expect: expect, format: .packedSelf) } == .attestationUntrusted)
    }

    @Test func packedCertificateRequirements() throws {
        var key = SoftKey()
        let wrongAAGUID = SoftKey.attestationChain(aaguid: Array(repeating: 9, count: 16))
        #expect(code { _ = try register(&key, challenge(), format: .packedX5C(wrongAAGUID.leafKey, wrongAAGUID.leaf)) } == .aaguidMismatch)
        let wrongOU = SoftKey.attestationChain(aaguid: key.aaguid, ou: "Marketing")
        #expect(code { _ = try register(&key, challenge(), format: .packedX5C(wrongOU.leafKey, wrongOU.leaf)) } == .invalidAttestation)
        let chain = SoftKey.attestationChain(aaguid: key.aaguid)
        let otherKey = SoftKey.attestationChain(aaguid: key.aaguid).leafKey  // signs, but is not the certificate's key
        #expect(code { _ = try register(&key, challenge(), format: .packedX5C(otherKey, chain.leaf)) } == .attestationSignatureInvalid)
    }

    @Test("each broken field has its own code")
    func brokenFields() throws {
        var key = SoftKey()
        let c = challenge()
        #expect(code { _ = try register(&key, challenge(), expect: .init(challenge: c)) } == .challengeMismatch)
        #expect(code { _ = try register(&key, c, origin: "http://evil.example") } == .originNotAllowed)
        #expect(code { _ = try register(&key, c, type: "webauthn.get") } == .clientDataTypeMismatch)
        #expect(code { _ = try register(&key, c) { $0[0] ^= 1 } } == .rpIdHashMismatch)
        #expect(code { _ = try register(&key, c) { $0[32] &= ~0x01 } } == .userNotPresent)
        #expect(code { _ = try register(&key, c) { $0[32] |= 0x10 } } == .invalidBackupFlags)
        #expect(code { _ = try register(&key, c) { $0.append(0) } } == .invalidAuthenticatorData)
        #expect(code { _ = try register(&key, c) { $0.removeLast() } } == .invalidAuthenticatorData)  // truncated COSE key
        #expect(code { _ = try register(&key, c) { $0[$0.count - 1] ^= 1 } } == .invalidPublicKey)  // y off the curve
        key.flags = 0x01
        #expect(code { _ = try register(&key, c, expect: .init(challenge: c, userVerification: .required)) } == .userNotVerified)
        #expect(code { _ = try register(&key, c, expect: .init(challenge: c, algorithms: [.edDSA])) } == .algorithmNotAllowed)
        var unsupported = key.register(challenge: c)
        unsupported.attestationObject = CBORWriter.encode(.textMap([("fmt", "tpm"), ("attStmt", .map([])),
                                                                     ("authData", .bytes(key.authData(rpID: "localhost", attested: true)))]))
        #expect(code { _ = try verifier.verifyRegistration(.init(clientDataJSON: unsupported.clientDataJSON, attestationObject: unsupported.attestationObject),
                                                            expecting: .init(challenge: c)) } == .unsupportedAttestationFormat)
    }

    @Test func crossOriginNeedsPermission() throws {
        var key = SoftKey()
        let c = challenge()
        let (_, att) = key.register(challenge: c)
        let cdj = SoftKey.clientData("webauthn.create", challenge: c, origin: origin, crossOrigin: true)
        #expect(code { _ = try verifier.verifyRegistration(.init(clientDataJSON: cdj, attestationObject: att), expecting: .init(challenge: c)) }
                == .crossOriginNotAllowed)
    }
}

@Suite("Assertion (L3 §7.2)")
struct AssertionTests {
    struct Setup {
        var key: SoftKey
        var record: CredentialRecord
    }

    static func setup(_ alg: COSEAlgorithm = .es256) throws -> Setup {
        var key = SoftKey(alg)
        let registered = try register(&key, challenge())
        return Setup(key: key, record: CredentialRecord(id: registered.credentialID, publicKey: registered.publicKey, signCount: 0,
                                                        userHandle: [1, 2, 3], backupEligible: false))
    }

    func verify(_ s: inout Setup, _ c: [UInt8], expect: AssertionExpectation? = nil, origin o: String = origin,
                userHandle: [UInt8]? = [1, 2, 3], edit: (inout [UInt8]) -> Void = { _ in },
                signature: (([UInt8]) -> [UInt8])? = nil) throws(WebAuthnError) -> VerifiedAssertion {
        let a = s.key.assert(challenge: c, origin: o, edit: edit)
        return try verifier.verifyAssertion(
            .init(credentialID: s.key.credentialID, clientDataJSON: a.clientDataJSON, authenticatorData: a.authenticatorData,
                  signature: signature?(a.signature) ?? a.signature, userHandle: userHandle),
            credential: s.record, expecting: expect ?? .init(challenge: c))
    }

    @Test("signatures verify for every algorithm", arguments: COSEAlgorithm.allCases)
    func algorithms(alg: COSEAlgorithm) throws {
        var s = try Self.setup(alg)
        let c = challenge()
        #expect(try verify(&s, c).signCount == 1)
        #expect(code { _ = try verify(&s, c, signature: { $0.map { $0 ^ 0x5A } }) } == .signatureInvalid)
    }

    @Test func brokenFields() throws {
        var s = try Self.setup()
        let c = challenge()
        #expect(code { _ = try verify(&s, challenge(), expect: .init(challenge: c)) } == .challengeMismatch)
        #expect(code { _ = try verify(&s, c, origin: "http://evil.example") } == .originNotAllowed)
        #expect(code { _ = try verify(&s, c) { $0[0] ^= 1 } } == .rpIdHashMismatch)
        #expect(code { _ = try verify(&s, c) { $0[32] &= ~0x01 } } == .userNotPresent)
        #expect(code { _ = try verify(&s, c) { $0[32] |= 0x08 } } == .invalidBackupFlags)  // BE appeared
        #expect(code { _ = try verify(&s, c, userHandle: [9]) } == .userHandleMismatch)
        #expect(code { _ = try verify(&s, c, expect: .init(challenge: c), userHandle: nil) } == .userHandleMismatch)
        #expect(code { _ = try verify(&s, c, expect: .init(challenge: c, allowedCredentialIDs: [[7]])) } == .credentialNotAllowed)
        s.key.flags = 0x01
        #expect(code { _ = try verify(&s, c, expect: .init(challenge: c, userVerification: .required)) } == .userNotVerified)
    }

    @Test func signCountMustGrow() throws {
        var s = try Self.setup()
        s.record.signCount = 5
        s.key.counter = 4  // the next assertion says 5: not above the stored 5
        #expect(code { _ = try verify(&s, challenge()) } == .signCountRegression)
        #expect(try verify(&s, challenge()).signCount == 6)
        s.record.signCount = 0
        s.key.counter = UInt32.max - 1
        #expect(try verify(&s, challenge()).signCount == UInt32.max)
    }
}

@Suite struct EncodingTests {
    @Test func base64BothAlphabets() {
        let bytes: [UInt8] = [0xfb, 0xff, 0xbf, 0x01]
        #expect(Base64URL.encode(bytes) == "-_-_AQ")
        #expect(Base64URL.decode("-_-_AQ") == bytes && Base64URL.decode("+/+/AQ==") == bytes && Base64URL.decode("+/+/AQ") == bytes)
        #expect(Base64URL.decode("a") == nil && Base64URL.decode("a b") == nil)
    }

    /// The verifier keeps its own base64url (it is the independent oracle), on the same rules as
    /// the key's and the client's: the vectors both are held to.
    @Test func sharedBase64URLVectors() throws {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../Fixtures/base64url-vectors.json")
        let vectors = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
        func bytes(_ hex: String) -> [UInt8] { stride(from: 0, to: hex.count, by: 2).map { UInt8(hex.dropFirst($0).prefix(2), radix: 16)! } }
        for pair in vectors["canonical"] as? [[String: String]] ?? [] {
            #expect(Base64URL.encode(bytes(pair["hex"]!)) == pair["text"])
            #expect(Base64URL.decode(pair["text"]!) == bytes(pair["hex"]!))
        }
        for pair in vectors["alsoAccepted"] as? [[String: String]] ?? [] {
            #expect(Base64URL.decode(pair["text"]!) == bytes(pair["hex"]!), "\(pair["why"]!)")
        }
        let refused = vectors["refused"] as? [[String: String]] ?? []
        #expect(refused.count == 7)
        for vector in refused { #expect(Base64URL.decode(vector["text"]!) == nil, "\(vector["why"]!)") }
    }

    @Test func clientDataLimitsAndTypes() {
        #expect(throws: WebAuthnError.self) { try ClientData(json: Array(#"{"type":"webauthn.get","challenge":"AA","origin":"x","crossOrigin":"no"}"#.utf8)) }
        #expect(throws: WebAuthnError.self) { try ClientData(json: Array(repeating: 0x20, count: ClientData.maxSize + 1)) }
        #expect(throws: WebAuthnError.self) { try ClientData(json: Array("[]".utf8)) }
    }
}
