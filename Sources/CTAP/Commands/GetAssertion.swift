import CBOR
import CTAPWire

/// authenticatorGetAssertion (CTAP 2.1 §6.2).
struct GetAssertionRequest {
    typealias Key = GetAssertionKey

    var rpId: String
    var clientDataHash: [UInt8]
    var allowList: [CredentialDescriptor]
    var options: Options
    var extensions: GetAssertionExtensions
    var pinUvAuthParam: [UInt8]?
    var pinUvAuthProtocol: Int?

    init(_ p: Parameters) throws(CTAPError) {
        rpId = try p.required(Key.rpId).expectText("rpId")
        clientDataHash = try p.required(Key.clientDataHash).expectBytes("clientDataHash")
        allowList = try CredentialDescriptor.list(p[Key.allowList], "allowList")
        extensions = try GetAssertionExtensions(p[Key.extensions])
        options = try Options(p[Key.options])
        pinUvAuthParam = try p.bytes(Key.pinUvAuthParam)
        pinUvAuthProtocol = try p.int(Key.pinUvAuthProtocol)
    }
}

/// What getNextAssertion continues with (CTAP 2.1 §6.3): valid for 30 s, and only directly
/// after the getAssertion that made it.
struct PendingAssertions {
    var rpId: String
    var remaining: [AssertionCandidate]
    var clientDataHash: [UInt8]
    var rpIdHash: [UInt8]
    var flags: AuthenticatorData.Flags
    var extensions: GetAssertionExtensions
    var salts: HMACSecretSalts?
    var total: Int
    var startedAt: ContinuousClock.Instant
}

/// One assertion, as getAssertion and getNextAssertion answer it.
struct GetAssertionResponse: CommandResponse {
    typealias Key = GetAssertionResponseKey

    var credentialID: [UInt8]
    var authData: [UInt8]
    var signature: [UInt8]
    /// The user entity of a discoverable credential (only its id without user verification).
    var user: CBORValue?
    var numberOfCredentials: Int?
    var largeBlobKey: [UInt8]?

    var cbor: CBORValue {
        .keyed([
            (Key.credential, .textMap([("id", .bytes(credentialID)), ("type", "public-key")])),
            (.authData, .bytes(authData)),
            (.signature, .bytes(signature)),
            (.user, user),
            (.numberOfCredentials, numberOfCredentials.map(CBORValue.int)),
            (.largeBlobKey, largeBlobKey.map(CBORValue.bytes)),
        ])
    }
}

extension Authenticator {
    func getAssertion(_ request: GetAssertionRequest) async throws(CTAPError) -> GetAssertionResponse {
        var request = request
        request.extensions.restrict(to: config.features.effectiveExtensions)

        // Steps 1 and 2: touch probes, and the protocol of a pinUvAuthParam.
        try await pinUvAuthPreamble(request.pinUvAuthParam, protocol: request.pinUvAuthProtocol, rpId: request.rpId)
        // Steps 4 to 6: options and whether built-in UV will run.
        if request.options["rk"] != nil { throw CTAPError(.unsupportedOption, "rk in getAssertion") }
        let userPresence = request.options["up"] ?? true
        if !userPresence && config.quirks.rejectSilentRequests {
            throw CTAPError(.unsupportedOption, "up=false refused (quirk rejectSilentRequests)")
        }
        if config.quirks.rejectLargeAllowLists && request.allowList.count > config.maxCredentialCountInList {
            throw CTAPError(.limitExceeded, "allowList of \(request.allowList.count) over \(config.maxCredentialCountInList) (quirk rejectLargeAllowLists)")
        }
        // hmac-secret needs a touch (CTAP 2.1 §12.5: its outputs are for a user who is present);
        // OpenSK answers a silent request for it the same way (docs/conformance.md).
        if request.extensions.hmacSecret != nil && !userPresence {
            throw CTAPError(.unsupportedOption, "hmac-secret with up=false")
        }
        let builtInUV = try planUserVerification(request.options, pinUvAuthParam: request.pinUvAuthParam, required: false,
                                                 silent: !userPresence)
        let salts = try request.extensions.hmacSecret?.open(with: pinSession.keyAgreementKey)

        // Step 9 (before locating, since credProtect depends on it): user verification.
        var flags = try await verifyUser(pinUvAuthParam: request.pinUvAuthParam, protocol: request.pinUvAuthProtocol,
                                         clientDataHash: request.clientDataHash, permission: .getAssertion, builtInUV: builtInUV,
                                         asking: UserPresenceRequest(operation: .getAssertion, rpId: request.rpId))
        if !userPresence { flags.remove(.userPresent) }  // a silent request reports no touch

        // Step 7: locate eligible credentials.
        let rpIdHash = Digest.sha256(request.rpId)
        let userVerified = flags.contains(.userVerified)
        var candidates: [AssertionCandidate] = []
        if request.allowList.isEmpty && config.features.residentKeys {
            let stored = try storeCall { try store.residentCredentials(rpIdHash: rpIdHash) }
            // credProtect 2 and 3 credentials are not discoverable without user verification.
            for credential in stored.sorted(by: { $0.createdAt > $1.createdAt })
            where credential.credProtect < 2 || userVerified {
                if let candidate = try candidate(credential) { candidates.append(candidate) }
            }
        } else if !request.allowList.isEmpty {
            for descriptor in request.allowList where descriptor.type == "public-key" {
                guard let candidate = try locate(descriptor.id, rpIdHash: rpIdHash) else { continue }
                // credProtect 3: not even usable by ID without user verification.
                if candidate.source.credProtect >= 3 && !userVerified { continue }
                candidates.append(candidate)
                break  // with an allowList the authenticator picks one credential (step 7.1)
            }
        }
        guard let first = candidates.first else { throw CTAPError(.noCredentials, "no credential for \(request.rpId)") }

        // Step 10: user presence, unless this is a silent (up=false) pre-flight or built-in
        // UV was the touch.
        if userPresence && !flags.contains(.userPresent) {
            try await requireUserPresence(UserPresenceRequest(operation: .getAssertion, rpId: request.rpId, userName: first.resident?.userName))
            flags.insert(.userPresent)
        }
        let total = candidates.count
        let pending = PendingAssertions(
            rpId: request.rpId, remaining: Array(candidates.dropFirst()), clientDataHash: request.clientDataHash, rpIdHash: rpIdHash,
            flags: flags, extensions: request.extensions, salts: salts, total: total, startedAt: clock.now)
        if total > 1 { pendingAssertions = pending }
        return try assertion(first, pending, numberOfCredentials: total > 1 ? total : nil)
    }

    /// Signs one assertion: authData || clientDataHash with the credential's key, with the
    /// extension outputs this credential has.
    func assertion(_ candidate: AssertionCandidate, _ context: PendingAssertions, numberOfCredentials: Int?) throws(CTAPError) -> GetAssertionResponse {
        var flags = context.flags
        flags.insertBackup(eligible: candidate.stored?.backupEligible ?? config.defaultBackupEligibility,
                           state: candidate.stored?.backupState ?? config.defaultBackupState)
        var outputs = ExtensionOutputs()
        if context.extensions.credBlob { outputs.add("credBlob", .bytes(candidate.source.credBlob)) }
        if context.extensions.thirdPartyPayment { outputs.add("thirdPartyPayment", .bool(candidate.source.thirdPartyPayment)) }
        if let salts = context.salts, candidate.source.hmacSecret {
            let credRandom = credentialSecrets.credRandom(credentialId: candidate.id, userVerified: flags.contains(.userVerified))
            outputs.add("hmac-secret", .bytes(try salts.output(credRandom: credRandom, iv: random.bytes(16))))
        }
        // A credential with its own counter (added or changed through the control API) counts alone.
        let signCount = candidate.stored?.signCount != nil
            ? try storeCall { try store.incrementSignCount(credentialId: candidate.id) } : try nextSignCount()
        let authData = AuthenticatorData(rpIdHash: context.rpIdHash, flags: responseOverrides.apply(to: flags), signCount: signCount,
                                         extensions: outputs.cbor?.encoded)
        let signature = responseOverrides.apply(toSignature: try candidate.key.sign(authData.bytes + context.clientDataHash))
        emit(.credentialAsserted(CredentialSummary(
            id: candidate.id, rpId: context.rpId, userId: candidate.stored?.userId, userName: candidate.stored?.userName,
            discoverable: candidate.source.isResident, signCount: signCount)))
        let largeBlobKey = context.extensions.largeBlobKey && candidate.resident != nil
        return GetAssertionResponse(
            credentialID: candidate.id, authData: authData.bytes, signature: signature,
            // CTAP 2.1 §6.2.2, `user`: name and displayName only with user verification, and only
            // when there are several accounts to choose from; for a single account, "id" alone
            // (as Solo 2, Nitrokey 3 and pico-fido do). Platforms show an account chooser when
            // the user entity names someone: Chromium for a single named account too.
            user: candidate.resident?.userEntity(includeIdentifyingFields: flags.contains(.userVerified) && context.total > 1),
            numberOfCredentials: numberOfCredentials,
            largeBlobKey: largeBlobKey ? credentialSecrets.largeBlobKey(credentialId: candidate.id) : nil)
    }
}
