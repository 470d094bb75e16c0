import CBOR
import Foundation

/// authenticatorMakeCredential (CTAP 2.1 §6.1).
struct MakeCredentialRequest {
    enum Key: Int {
        case clientDataHash = 0x01, rp = 0x02, user = 0x03, pubKeyCredParams = 0x04, excludeList = 0x05
        case extensions = 0x06, options = 0x07, pinUvAuthParam = 0x08, pinUvAuthProtocol = 0x09
        case enterpriseAttestation = 0x0A, attestationFormatsPreference = 0x0B
    }

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
        if let extensions = p[Key.extensions] {
            _ = try extensions.expectMap("extensions")
            self.extensions = extensions
        }
        options = try Options(p[Key.options])
        pinUvAuthParam = try p[Key.pinUvAuthParam].map { v throws(CTAPError) in try v.expectBytes("pinUvAuthParam") }
        pinUvAuthProtocol = try p[Key.pinUvAuthProtocol].map { v throws(CTAPError) in try v.expectInt("pinUvAuthProtocol") }
        enterpriseAttestation = try p[Key.enterpriseAttestation].map { v throws(CTAPError) in try v.expectInt("enterpriseAttestation") }
        attestationFormatsPreference = try p[Key.attestationFormatsPreference].map { v throws(CTAPError) in
            var formats: [String] = []
            for f in try v.expectArray("attestationFormatsPreference") { formats.append(try f.expectText("attestation format")) }
            return formats
        }
    }
}

extension Authenticator {
    enum MakeCredentialResponseKey: Int { case fmt = 0x01, authData = 0x02, attStmt = 0x03, epAtt = 0x04, largeBlobKey = 0x05 }

    func makeCredential(_ parameters: Parameters) async throws(CTAPError) -> CBORValue {
        let request = try MakeCredentialRequest(parameters)

        // Steps 1 and 2: touch probes, and the protocol of a pinUvAuthParam.
        try await pinUvAuthPreamble(request.pinUvAuthParam, protocol: request.pinUvAuthProtocol, rpId: request.rpId)
        // Step 3: the first supported algorithm in the caller's order.
        guard let algorithm = request.algorithms.lazy.compactMap({ $0.flatMap(COSEAlgorithm.init(rawValue:)) }).first else {
            throw CTAPError(.unsupportedAlgorithm, "none of \(request.algorithms.compactMap { $0 }) is supported")
        }
        // Steps 4 to 6: options, alwaysUv, and whether user verification is required.
        let residentKey = request.options["rk"] ?? false
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
        let extensions = try MakeCredentialExtensions(request.extensions)
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
        let source = CredentialSource(key: algorithm.keyFitsInCredentialID ? privateKey.raw : [], algorithm: algorithm,
                                      isResident: residentKey, credProtect: credProtect, hmacSecret: extensions.hmacSecret,
                                      credBlob: credBlob ?? [])
        let credentialId = try sealer.seal(source, rpIdHash: rpIdHash, nonce: random.bytes(12))
        if residentKey {
            let credential = ResidentCredential(
                id: credentialId, rpId: request.rpId, rpIdHash: rpIdHash, rpName: request.rpName, userId: request.userId,
                userName: request.userName, userDisplayName: request.userDisplayName, algorithm: algorithm,
                privateKey: privateKey.raw, credProtect: credProtect, createdAt: Date().timeIntervalSince1970)
            try storeCall { try store.saveResidentCredential(credential) }
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
        if extensions.minPinLength && settings.minPinLengthRPIDs.contains(request.rpId) {
            outputs.add("minPinLength", .int(pin.minLength))
        }
        let authData = AuthenticatorData(
            rpIdHash: rpIdHash, flags: flags, signCount: try nextSignCount(),
            attestedCredential: (config.aaguid, credentialId, try privateKey.publicKeyCOSE().encoded),
            extensions: outputs.cbor?.encoded)
        let (format, statement) = try attest(authData.bytes, clientDataHash: request.clientDataHash, credentialKey: privateKey,
                                             preference: request.attestationFormatsPreference, enterprise: enterprise)
        return .intMap([
            (MakeCredentialResponseKey.fmt.rawValue, .text(format)),
            (MakeCredentialResponseKey.authData.rawValue, .bytes(authData.bytes)),
            (MakeCredentialResponseKey.attStmt.rawValue, statement),
            (MakeCredentialResponseKey.epAtt.rawValue, enterprise ? .bool(true) : nil),
            (MakeCredentialResponseKey.largeBlobKey.rawValue,
             extensions.largeBlobKey ? .bytes(credentialSecrets.largeBlobKey(credentialId: credentialId)) : nil),
        ])
    }

    /// Steps 4 to 6 of makeCredential and getAssertion: whether built-in UV will verify the
    /// user. With a pinUvAuthParam the `uv` option is ignored; alwaysUv turns built-in UV on
    /// when there is one; otherwise, if UV is `required` and the key is protected by a PIN or
    /// built-in UV, the platform must bring a token (PUAT_REQUIRED).
    /// `silent` (getAssertion with up=false) is exempt from alwaysUv (§6.2.2 step 5 applies only
    /// when "up" is true): platforms probe silently for their credentials.
    func planUserVerification(_ options: Options, pinUvAuthParam: [UInt8]?, required: Bool, silent: Bool = false) throws(CTAPError) -> Bool {
        guard pinUvAuthParam == nil else { return false }
        if options["uv"] == true {
            guard config.builtInUV else { throw CTAPError(.invalidOption, "no built-in user verification") }
            return true
        }
        if settings.alwaysUv && !silent {
            if config.builtInUV { return true }
            throw CTAPError(pin.hash == nil ? .pinNotSet : .puatRequired, "alwaysUv: user verification is required")
        }
        if required && isProtectedByUV { throw CTAPError(.puatRequired, "user verification is configured and required here") }
        return false
    }

    /// The attestation statement (WebAuthn L3 §8.2 packed, §8.7 none). A CTAP 2.2
    /// attestationFormatsPreference naming "none" first is honoured.
    func attest(_ authData: [UInt8], clientDataHash: [UInt8], credentialKey: CredentialPrivateKey,
                preference: [String]?, enterprise: Bool = false) throws(CTAPError) -> (String, CBORValue) {
        var mode = config.attestation
        if let first = preference?.first(where: { $0 == "packed" || $0 == "none" }), first == "none" { mode = .none }
        let signed = authData + clientDataHash
        if enterprise {
            // Enterprise attestation: always packed, by the device-unique enterprise key.
            let key = try CredentialPrivateKey(algorithm: .es256, raw: secrets.enterpriseKey)
            return ("packed", .textMap([
                ("alg", .int(COSEAlgorithm.es256.rawValue)),
                ("sig", .bytes(try key.sign(signed))),
                ("x5c", .array([.bytes(secrets.enterpriseCertificate)])),
            ]))
        }
        switch mode {
        case .none:
            return ("none", .map([]))
        case .self:
            return ("packed", .textMap([
                ("alg", .int(credentialKey.algorithm.rawValue)),
                ("sig", .bytes(try credentialKey.sign(signed))),
            ]))
        case .packed:
            let batchKey = try CredentialPrivateKey(algorithm: .es256, raw: secrets.batchKey)
            return ("packed", .textMap([
                ("alg", .int(COSEAlgorithm.es256.rawValue)),
                ("sig", .bytes(try batchKey.sign(signed))),
                ("x5c", .array([.bytes(secrets.batchCertificate)])),
            ]))
        }
    }

    /// Finds the credential a credential ID names for this RP: nil if the ID is not ours, was
    /// altered, belongs to another RP, or names a resident credential that was deleted.
    func locate(_ credentialId: [UInt8], rpIdHash: [UInt8]) throws(CTAPError) -> AssertionCandidate? {
        guard credentialId.count <= config.maxCredentialIdLength,
              let source = sealer.open(credentialId, rpIdHash: rpIdHash) else { return nil }
        var resident: ResidentCredential?
        var key = source.key
        if source.isResident {
            guard let stored = try storeCall({ try store.residentCredential(id: credentialId) }) else { return nil }
            resident = stored
            key = stored.privateKey
        } else if source.keyIsDetached {
            guard let stored = try storeCall({ try store.detachedKey(id: credentialId) }) else { return nil }
            key = stored
        }
        return AssertionCandidate(id: credentialId, source: source, key: try CredentialPrivateKey(algorithm: source.algorithm, raw: key),
                                  resident: resident)
    }

    /// A stored discoverable credential as an assertion candidate (its ID carries the
    /// extension state: credBlob, hmac-secret).
    func candidate(_ credential: ResidentCredential) throws(CTAPError) -> AssertionCandidate? {
        guard let source = sealer.open(credential.id, rpIdHash: credential.rpIdHash) else { return nil }
        return AssertionCandidate(id: credential.id, source: source,
                                  key: try CredentialPrivateKey(algorithm: credential.algorithm, raw: credential.privateKey),
                                  resident: credential)
    }
}
