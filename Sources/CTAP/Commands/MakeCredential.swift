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

    init(_ p: Parameters) throws(CTAPError) {
        clientDataHash = try p.required(Key.clientDataHash).expectBytes("clientDataHash")
        let rp = try p.required(Key.rp)
        _ = try rp.expectMap("rp")
        guard let rpId = rp[text: "id"] else { throw CTAPError(.missingParameter, "rp.id") }
        self.rpId = try rpId.expectText("rp.id")
        rpName = try rp.optionalText("name")
        let user = try p.required(Key.user)
        _ = try user.expectMap("user")
        guard let userId = user[text: "id"] else { throw CTAPError(.missingParameter, "user.id") }
        self.userId = try userId.expectBytes("user.id")
        guard self.userId.count <= 64 else { throw CTAPError(.invalidLength, "user.id longer than 64 bytes") }
        userName = try user.optionalText("name")
        userDisplayName = try user.optionalText("displayName")
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
        if let ep = p[Key.enterpriseAttestation] { _ = try ep.expectInt("enterpriseAttestation") }
        attestationFormatsPreference = try p[Key.attestationFormatsPreference].map { v throws(CTAPError) in
            var formats: [String] = []
            for f in try v.expectArray("attestationFormatsPreference") { formats.append(try f.expectText("attestation format")) }
            return formats
        }
    }
}

extension Authenticator {
    enum MakeCredentialResponseKey: Int { case fmt = 0x01, authData = 0x02, attStmt = 0x03 }

    func makeCredential(_ parameters: Parameters) async throws(CTAPError) -> CBORValue {
        let request = try MakeCredentialRequest(parameters)

        // Steps 1 and 2: touch probes, and the protocol of a pinUvAuthParam.
        try await pinUvAuthPreamble(request.pinUvAuthParam, protocol: request.pinUvAuthProtocol, rpId: request.rpId)
        // Step 3: the first supported algorithm in the caller's order.
        guard let algorithm = request.algorithms.lazy.compactMap({ $0.flatMap(COSEAlgorithm.init(rawValue:)) }).first else {
            throw CTAPError(.unsupportedAlgorithm, "none of \(request.algorithms.compactMap { $0 }) is supported")
        }
        // Step 5: options.
        let residentKey = request.options["rk"] ?? false
        if request.options["up"] == false { throw CTAPError(.invalidOption, "up=false in makeCredential") }
        if request.options["uv"] == true && request.pinUvAuthParam == nil {
            throw CTAPError(.invalidOption, "no built-in user verification")
        }
        // Step 6: with a PIN set, a discoverable credential (or any, without makeCredUvNotRqd)
        // needs user verification.
        if request.pinUvAuthParam == nil && pin.hash != nil && residentKey {
            throw CTAPError(.puatRequired, "a PIN is set: discoverable credentials need a pinUvAuthToken")
        }
        // Step 11: the pinUvAuthToken.
        var flags: AuthenticatorData.Flags = [.userPresent]
        if let param = request.pinUvAuthParam {
            try verifyPinUvAuthParam(param, protocol: request.pinUvAuthProtocol, clientDataHash: request.clientDataHash,
                                     permission: .makeCredential, rpId: request.rpId)
            flags.insert(.userVerified)
        }

        let rpIdHash = Digest.sha256(request.rpId)
        let userVerified = flags.contains(.userVerified)
        // Step 10: an excluded credential still asks for a touch, so the platform can tell the
        // user which key is already registered. A credProtect level 3 credential stays hidden
        // without user verification.
        for descriptor in request.excludeList where descriptor.type == "public-key" {
            if let (source, _) = try locate(descriptor.id, rpIdHash: rpIdHash), source.credProtect < 3 || userVerified {
                let result = await presence.confirm(UserPresenceRequest(operation: .makeCredential, rpId: request.rpId, userName: request.userName))
                if result == .cancelled { throw CTAPError(.keepaliveCancel) }
                throw CTAPError(.credentialExcluded, "excludeList names an existing credential")
            }
        }
        // Extensions (CTAP 2.1 §12).
        let extensions = try MakeCredentialExtensions(request.extensions)

        if residentKey {
            let count = try storeCall { try store.residentCredentialCount() }
            if count >= config.maxResidentCredentials {
                let replaces = try storeCall { try store.residentCredentials(rpIdHash: rpIdHash) }.contains { $0.userId == request.userId }
                if !replaces { throw CTAPError(.keyStoreFull, "\(count) discoverable credentials: no room") }
            }
        }
        // Step 12: user presence.
        try await requireUserPresence(UserPresenceRequest(operation: .makeCredential, rpId: request.rpId, userName: request.userName))

        let privateKey = CredentialPrivateKey.generate(algorithm, random: random)
        let credProtect = extensions.credProtect ?? 1
        let source = CredentialSource(key: privateKey.raw, algorithm: algorithm, isResident: residentKey, credProtect: credProtect)
        let credentialId = try sealer.seal(source, rpIdHash: rpIdHash, nonce: random.bytes(12))
        if residentKey {
            let credential = ResidentCredential(
                id: credentialId, rpId: request.rpId, rpIdHash: rpIdHash, rpName: request.rpName, userId: request.userId,
                userName: request.userName, userDisplayName: request.userDisplayName, algorithm: algorithm,
                privateKey: privateKey.raw, credProtect: credProtect, createdAt: Date().timeIntervalSince1970)
            try storeCall { try store.saveResidentCredential(credential) }
        }
        let authData = AuthenticatorData(
            rpIdHash: rpIdHash, flags: flags, signCount: try nextSignCount(),
            attestedCredential: (config.aaguid, credentialId, try privateKey.publicKeyCOSE().encoded),
            extensions: extensions.output?.encoded)
        let (format, statement) = try attest(authData.bytes, clientDataHash: request.clientDataHash, credentialKey: privateKey,
                                             preference: request.attestationFormatsPreference)
        return .intMap([
            (MakeCredentialResponseKey.fmt.rawValue, .text(format)),
            (MakeCredentialResponseKey.authData.rawValue, .bytes(authData.bytes)),
            (MakeCredentialResponseKey.attStmt.rawValue, statement),
        ])
    }

    /// The attestation statement (WebAuthn L3 §8.2 packed, §8.7 none). A CTAP 2.2
    /// attestationFormatsPreference naming "none" first is honoured.
    func attest(_ authData: [UInt8], clientDataHash: [UInt8], credentialKey: CredentialPrivateKey,
                preference: [String]?) throws(CTAPError) -> (String, CBORValue) {
        var mode = config.attestation
        if let first = preference?.first(where: { $0 == "packed" || $0 == "none" }), first == "none" { mode = .none }
        let signed = authData + clientDataHash
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
    func locate(_ credentialId: [UInt8], rpIdHash: [UInt8]) throws(CTAPError) -> (CredentialSource, ResidentCredential?)? {
        guard credentialId.count <= config.maxCredentialIdLength,
              let source = sealer.open(credentialId, rpIdHash: rpIdHash) else { return nil }
        guard source.isResident else { return (source, nil) }
        guard let stored = try storeCall({ try store.residentCredential(id: credentialId) }) else { return nil }
        return (source, stored)
    }
}
