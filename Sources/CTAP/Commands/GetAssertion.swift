import CBOR

/// authenticatorGetAssertion (CTAP 2.1 §6.2).
struct GetAssertionRequest {
    enum Key: Int {
        case rpId = 0x01, clientDataHash = 0x02, allowList = 0x03, extensions = 0x04, options = 0x05
        case pinUvAuthParam = 0x06, pinUvAuthProtocol = 0x07
    }

    var rpId: String
    var clientDataHash: [UInt8]
    var allowList: [CredentialDescriptor]
    var options: Options
    var pinUvAuthParam: [UInt8]?
    var pinUvAuthProtocol: Int?

    init(_ p: Parameters) throws(CTAPError) {
        rpId = try p.required(Key.rpId).expectText("rpId")
        clientDataHash = try p.required(Key.clientDataHash).expectBytes("clientDataHash")
        allowList = try CredentialDescriptor.list(p[Key.allowList], "allowList")
        if let extensions = p[Key.extensions] { _ = try extensions.expectMap("extensions") }
        options = try Options(p[Key.options])
        pinUvAuthParam = try p[Key.pinUvAuthParam].map { v throws(CTAPError) in try v.expectBytes("pinUvAuthParam") }
        pinUvAuthProtocol = try p[Key.pinUvAuthProtocol].map { v throws(CTAPError) in try v.expectInt("pinUvAuthProtocol") }
    }
}

/// One credential that can answer an assertion.
struct AssertionCandidate {
    var id: [UInt8]
    var key: CredentialPrivateKey
    var resident: ResidentCredential?
}

/// What getNextAssertion continues with (CTAP 2.1 §6.3): valid for 30 s, and only directly
/// after the getAssertion that made it.
struct PendingAssertions {
    var remaining: [AssertionCandidate]
    var clientDataHash: [UInt8]
    var rpIdHash: [UInt8]
    var flags: AuthenticatorData.Flags
    var total: Int
    var startedAt: ContinuousClock.Instant
}

extension Authenticator {
    enum GetAssertionResponseKey: Int {
        case credential = 0x01, authData = 0x02, signature = 0x03, user = 0x04, numberOfCredentials = 0x05
    }

    func getAssertion(_ parameters: Parameters) async throws(CTAPError) -> CBORValue {
        pendingAssertions = nil
        let request = try GetAssertionRequest(parameters)

        // Steps 1 and 2: touch probes, and the protocol of a pinUvAuthParam.
        try await pinUvAuthPreamble(request.pinUvAuthParam, protocol: request.pinUvAuthProtocol, rpId: request.rpId)
        // Step 5: options.
        if request.options["rk"] != nil { throw CTAPError(.unsupportedOption, "rk in getAssertion") }
        if request.options["uv"] == true && request.pinUvAuthParam == nil {
            throw CTAPError(.invalidOption, "no built-in user verification")
        }
        let userPresence = request.options["up"] ?? true
        // Step 9: the pinUvAuthToken.
        var flags: AuthenticatorData.Flags = []
        if let param = request.pinUvAuthParam {
            try verifyPinUvAuthParam(param, protocol: request.pinUvAuthProtocol, clientDataHash: request.clientDataHash,
                                     permission: .getAssertion, rpId: request.rpId)
            flags.insert(.userVerified)
        }

        // Step 7: locate eligible credentials.
        let rpIdHash = Digest.sha256(request.rpId)
        var candidates: [AssertionCandidate] = []
        if request.allowList.isEmpty {
            let stored = try storeCall { try store.residentCredentials(rpIdHash: rpIdHash) }
            // credProtect 2 and 3 credentials are not discoverable without user verification.
            for credential in stored.sorted(by: { $0.createdAt > $1.createdAt })
            where credential.credProtect < 2 || flags.contains(.userVerified) {
                candidates.append(AssertionCandidate(
                    id: credential.id, key: try CredentialPrivateKey(algorithm: credential.algorithm, raw: credential.privateKey),
                    resident: credential))
            }
        } else {
            for descriptor in request.allowList where descriptor.type == "public-key" {
                guard let (source, resident) = try locate(descriptor.id, rpIdHash: rpIdHash) else { continue }
                // credProtect 3: not even usable by ID without user verification.
                if source.credProtect >= 3 && !flags.contains(.userVerified) { continue }
                candidates.append(AssertionCandidate(
                    id: descriptor.id, key: try CredentialPrivateKey(algorithm: source.algorithm, raw: source.key), resident: resident))
                break  // with an allowList the authenticator picks one credential (step 7.1)
            }
        }
        guard let first = candidates.first else { throw CTAPError(.noCredentials, "no credential for \(request.rpId)") }

        // Step 10: user presence, unless this is a silent (up=false) pre-flight.
        if userPresence {
            try await requireUserPresence(UserPresenceRequest(operation: .getAssertion, rpId: request.rpId, userName: first.resident?.userName))
            flags.insert(.userPresent)
        }
        let total = candidates.count
        if total > 1 {
            pendingAssertions = PendingAssertions(
                remaining: Array(candidates.dropFirst()), clientDataHash: request.clientDataHash, rpIdHash: rpIdHash,
                flags: flags, total: total, startedAt: clock.now)
        }
        return try assertion(first, rpIdHash: rpIdHash, flags: flags, clientDataHash: request.clientDataHash,
                             numberOfCredentials: total > 1 ? total : nil)
    }

    /// Signs one assertion: authData || clientDataHash with the credential's key.
    func assertion(_ candidate: AssertionCandidate, rpIdHash: [UInt8], flags: AuthenticatorData.Flags,
                   clientDataHash: [UInt8], numberOfCredentials: Int?) throws(CTAPError) -> CBORValue {
        let authData = AuthenticatorData(rpIdHash: rpIdHash, flags: flags, signCount: try nextSignCount())
        let signature = try candidate.key.sign(authData.bytes + clientDataHash)
        return .intMap([
            (GetAssertionResponseKey.credential.rawValue, .textMap([("id", .bytes(candidate.id)), ("type", "public-key")])),
            (GetAssertionResponseKey.authData.rawValue, .bytes(authData.bytes)),
            (GetAssertionResponseKey.signature.rawValue, .bytes(signature)),
            (GetAssertionResponseKey.user.rawValue,
             candidate.resident?.userEntity(includeIdentifyingFields: flags.contains(.userVerified))),
            (GetAssertionResponseKey.numberOfCredentials.rawValue, numberOfCredentials.map(CBORValue.int)),
        ])
    }
}
