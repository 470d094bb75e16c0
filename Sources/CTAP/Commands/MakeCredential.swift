import CBOR
import CTAPWire
import Foundation

/// authenticatorMakeCredential (CTAP 2.1 §6.1).
struct MakeCredentialRequest {
    typealias Key = MakeCredentialKey

    var clientDataHash: [UInt8]
    var rpId: String
    var rpName: String?
    var userId: [UInt8]
    var userName: String?
    var userDisplayName: String?
    /// The requested algorithms in the caller's order of preference; nil for entries of another type.
    var algorithms: [Int?]
    var excludeList: [CredentialDescriptor]
    var extensions: CBORValue?
    var options: Options
    var pinUvAuthParam: [UInt8]?
    var pinUvAuthProtocol: Int?
    var attestationFormatsPreference: [String]?
    var enterpriseAttestation: Int?

    init(_ p: Parameters) throws(CTAPError) {
        clientDataHash = try p.required(Key.clientDataHash).expectBytes("clientDataHash")
        let rp = try p.required(Key.rp)
        _ = try rp.expectMap("rp")
        guard let rpId = rp[text: "id"] else { throw CTAPError(.missingParameter, "rp.id") }
        self.rpId = try rpId.expectText("rp.id")
        rpName = try rp.optionalText("name")
        _ = try rp.optionalText("icon")  // deprecated in CTAP 2.1, still type-checked
        let user = try p.required(Key.user)
        _ = try user.expectMap("user")
        guard let userId = user[text: "id"] else { throw CTAPError(.missingParameter, "user.id") }
        self.userId = try userId.expectBytes("user.id")
        guard self.userId.count <= 64 else { throw CTAPError(.invalidLength, "user.id longer than 64 bytes") }
        userName = try user.optionalText("name")
        userDisplayName = try user.optionalText("displayName")
        _ = try user.optionalText("icon")
        algorithms = []
        for entry in try p.required(Key.pubKeyCredParams).expectArray("pubKeyCredParams") {
            _ = try entry.expectMap("pubKeyCredParams entry")
            guard let type = entry[text: "type"] else { throw CTAPError(.missingParameter, "pubKeyCredParams entry without type") }
            guard try type.expectText("pubKeyCredParams type") == "public-key" else {
                algorithms.append(nil)
                continue
            }
            guard let alg = entry[text: "alg"] else { throw CTAPError(.missingParameter, "pubKeyCredParams entry without alg") }
            algorithms.append(try alg.expectInt("pubKeyCredParams alg"))
        }
        excludeList = try CredentialDescriptor.list(p[Key.excludeList], "excludeList")
        extensions = try p.map(Key.extensions)
        options = try Options(p[Key.options])
        pinUvAuthParam = try p.bytes(Key.pinUvAuthParam)
        pinUvAuthProtocol = try p.int(Key.pinUvAuthProtocol)
        enterpriseAttestation = try p.int(Key.enterpriseAttestation)
        if let preference = p[Key.attestationFormatsPreference] {
            attestationFormatsPreference = []
            for format in try preference.expectArray("attestationFormatsPreference") {
                attestationFormatsPreference?.append(try format.expectText("attestation format"))
            }
        }
    }
}

/// The attestation object's members, as makeCredential answers them.
struct MakeCredentialResponse: CommandResponse {
    typealias Key = MakeCredentialResponseKey

    var format: String
    var authData: [UInt8]
    var attestationStatement: CBORValue
    var enterpriseAttestation: Bool
    var largeBlobKey: [UInt8]?

    var cbor: CBORValue {
        .keyed([
            (Key.fmt, .text(format)),
            (.authData, .bytes(authData)),
            (.attStmt, attestationStatement),
            (.epAtt, enterpriseAttestation ? .bool(true) : nil),
            (.largeBlobKey, largeBlobKey.map(CBORValue.bytes)),
        ])
    }
}

extension Authenticator {
    func makeCredential(_ request: MakeCredentialRequest) async throws(CTAPError) -> MakeCredentialResponse {

        // Steps 1 and 2: touch probes, and the protocol of a pinUvAuthParam.
        try await pinUvAuthPreamble(request.pinUvAuthParam, protocol: request.pinUvAuthProtocol, rpId: request.rpId)
        // Step 3: the first supported algorithm in the caller's order.
        guard let algorithm = request.algorithms.lazy.compactMap({ $0.flatMap(COSEAlgorithm.init(rawValue:)) })
            .first(where: config.algorithms.contains) else {
            throw CTAPError(.unsupportedAlgorithm, "none of \(request.algorithms.compactMap { $0 }) is supported")
        }
        // Steps 4 to 6: options, alwaysUv, and whether user verification is required.
        if config.quirks.rejectLargeAllowLists && request.excludeList.count > config.maxCredentialCountInList {
            throw CTAPError(.limitExceeded, "excludeList of \(request.excludeList.count) over \(config.maxCredentialCountInList) (quirk rejectLargeAllowLists)")
        }
        let residentKey = request.options["rk"] ?? false
        if residentKey && !config.features.residentKeys { throw CTAPError(.unsupportedOption, "this key has no discoverable credentials") }
        if request.options["up"] == false { throw CTAPError(.invalidOption, "up=false in makeCredential") }
        let builtInUV = try planUserVerification(request.options, pinUvAuthParam: request.pinUvAuthParam,
                                                 required: residentKey || settings.alwaysUv)
        // Step 9: enterprise attestation.
        var enterprise = false
        if let ep = request.enterpriseAttestation {
            guard settings.enterpriseAttestation else { throw CTAPError(.invalidParameter, "enterprise attestation is not enabled") }
            guard ep == 1 || ep == 2 else { throw CTAPError(.invalidOption, "enterpriseAttestation \(ep)") }
            enterprise = ep == 2 || config.enterpriseAttestationRPIDs.contains(request.rpId)
        }
        // Extensions (CTAP 2.1 §12), checked before anyone is asked anything.
        let extensions = try MakeCredentialExtensions(request.extensions, enabled: config.features.effectiveExtensions)
        if extensions.largeBlobKey && !residentKey { throw CTAPError(.invalidOption, "largeBlobKey needs a discoverable credential") }
        let mcSalts = try extensions.hmacSecret ? extensions.hmacSecretMC?.open(with: pinSession.keyAgreementKey) : nil

        // Step 11: user verification, by token or built in (which is also the touch).
        let asking = UserPresenceRequest(operation: .makeCredential, rpId: request.rpId, userName: request.userName)
        var flags = try await verifyUser(pinUvAuthParam: request.pinUvAuthParam, protocol: request.pinUvAuthProtocol,
                                         clientDataHash: request.clientDataHash, permission: .makeCredential,
                                         builtInUV: builtInUV, asking: asking)

        let rpIdHash = Digest.sha256(request.rpId)
        let userVerified = flags.contains(.userVerified)
        // Step 10: an excluded credential still asks for a touch, so the platform can tell the
        // user which key is already registered. A credProtect level 3 credential stays hidden
        // without user verification.
        for descriptor in request.excludeList where descriptor.type == "public-key" {
            if let candidate = try locate(descriptor.id, rpIdHash: rpIdHash), candidate.source.credProtect < 3 || userVerified {
                if !flags.contains(.userPresent) {
                    let result = await presence.confirm(asking)
                    if result == .cancelled { throw CTAPError(.keepaliveCancel) }
                }
                throw CTAPError(.credentialExcluded, "excludeList names an existing credential")
            }
        }
        if !residentKey && !algorithm.keyFitsInCredentialID {
            let count = try storeCall { try store.detachedKeyCount() }
            if count >= config.maxDetachedKeys { throw CTAPError(.keyStoreFull, "\(count) stored RSA keys: no room") }
        }
        if residentKey {
            let count = try storeCall { try store.residentCredentialCount() }
            if count >= config.maxResidentCredentials {
                let replaces = try storeCall { try store.residentCredentials(rpIdHash: rpIdHash) }.contains { $0.userId == request.userId }
                if !replaces { throw CTAPError(.keyStoreFull, "\(count) discoverable credentials: no room") }
            }
        }
        // Step 12: user presence, unless built-in UV already was the touch.
        if !flags.contains(.userPresent) {
            try await requireUserPresence(asking)
            flags.insert(.userPresent)
        }

        let privateKey = CredentialPrivateKey.generate(algorithm, random: random)
        let credProtect = extensions.credProtect ?? 1
        let credBlob = extensions.credBlob.flatMap { $0.count <= CredentialIDSealer.maxCredBlobLength ? $0 : nil }
        var source = CredentialSource(key: algorithm.keyFitsInCredentialID ? privateKey.raw : [], algorithm: algorithm,
                                      isResident: residentKey, credProtect: credProtect, hmacSecret: extensions.hmacSecret,
                                      credBlob: credBlob ?? [])
        source.thirdPartyPayment = extensions.thirdPartyPayment
        let credentialId = try sealer.seal(source, rpIdHash: rpIdHash, nonce: random.bytes(12))
        if residentKey {
            var credential = StoredCredential(
                id: credentialId, rpId: request.rpId, rpIdHash: rpIdHash, rpName: request.rpName, userId: request.userId,
                userName: request.userName, userDisplayName: request.userDisplayName, algorithm: algorithm,
                privateKey: privateKey.raw, credProtect: credProtect, createdAt: clock.date.timeIntervalSince1970)
            credential.backupEligible = config.defaultBackupEligibility
            credential.backupState = config.defaultBackupState
            try storeCall { try store.saveCredential(credential) }
        } else if source.keyIsDetached {
            try storeCall { try store.saveDetachedKey(id: credentialId, privateKey: privateKey.raw) }
        }

        var outputs = ExtensionOutputs()
        if let level = extensions.credProtect { outputs.add("credProtect", .int(Int(level))) }
        if extensions.credBlob != nil { outputs.add("credBlob", .bool(credBlob != nil)) }
        if extensions.hmacSecret { outputs.add("hmac-secret", true) }
        if let mcSalts {
            let credRandom = credentialSecrets.credRandom(credentialId: credentialId, userVerified: userVerified)
            outputs.add("hmac-secret-mc", .bytes(try mcSalts.output(credRandom: credRandom, iv: random.bytes(16))))
        }
        if extensions.thirdPartyPayment { outputs.add("thirdPartyPayment", true) }
        if extensions.minPinLength && settings.minPinLengthRPIDs.contains(request.rpId) {
            outputs.add("minPinLength", .int(pin.minLength))
        }
        if extensions.pinComplexityPolicy && settings.minPinLengthRPIDs.contains(request.rpId) {
            outputs.add("pinComplexityPolicy", .bool(settings.pinComplexityPolicy))
        }
        flags.insertBackup(eligible: config.defaultBackupEligibility, state: config.defaultBackupState)
        let signCount = try nextSignCount()
        let authData = AuthenticatorData(
            rpIdHash: rpIdHash, flags: responseOverrides.apply(to: flags), signCount: signCount,
            attestedCredential: (config.aaguid, credentialId, try privateKey.publicKeyCOSE().encoded),
            extensions: outputs.cbor?.encoded)
        let (format, statement) = try attest(authData.bytes, clientDataHash: request.clientDataHash, credentialKey: privateKey,
                                             preference: request.attestationFormatsPreference, enterprise: enterprise)
        emit(.credentialAdded(CredentialSummary(id: credentialId, rpId: request.rpId, userId: request.userId,
                                                userName: request.userName, discoverable: residentKey, signCount: signCount)))
        return MakeCredentialResponse(
            format: format, authData: authData.bytes, attestationStatement: statement, enterpriseAttestation: enterprise,
            largeBlobKey: extensions.largeBlobKey ? credentialSecrets.largeBlobKey(credentialId: credentialId) : nil)
    }
}
