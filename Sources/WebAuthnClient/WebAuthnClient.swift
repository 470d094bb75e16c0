import Bytes
import CBOR
import Crypto
import CTAPWire
import Foundation

/// Why a ceremony failed, named as the DOMException a browser would reject with.
public struct WebAuthnClientError: Error, CustomStringConvertible, Equatable {
    public enum Name: String, Sendable { case notAllowed = "NotAllowedError", invalidState = "InvalidStateError",
                                                security = "SecurityError", notSupported = "NotSupportedError",
                                                constraint = "ConstraintError", type = "TypeError", unknown = "UnknownError" }
    public let name: Name
    public let message: String
    public init(_ name: Name, _ message: String) { self.name = name; self.message = message }
    public var description: String { "\(name.rawValue): \(message)" }
}

/// The platform half of a browser (WebAuthn L3 §5.1.3, §5.1.4 and CTAP 2.1 §5): options JSON in,
/// CTAP2 to one authenticator, `PublicKeyCredential` out. It decides rk and uv from the options and
/// the key's getInfo, gets a pinUvAuthToken (protocol two) when the key has a PIN and the client
/// knows it, maps prf onto hmac-secret, and answers credProps itself.
public struct WebAuthnClient: Sendable {
    /// One of several accounts a discoverable get() found: the user picks one.
    public struct Account: Sendable { public var userHandle: [UInt8]?; public var name: String?; public var credentialID: [UInt8] }

    public let device: CTAP2Device
    /// The calling page's origin, e.g. http://localhost:8080.
    public var origin: String
    /// Set when the page is in a cross-origin iframe of this top-level origin.
    public var topOrigin: String?
    /// The key's PIN, when it has one and the user would type it.
    public var pin: String?
    /// The account picker of a discoverable get() with several matches; the first by default.
    public var chooseAccount: @Sendable ([Account]) -> Int = { _ in 0 }

    public init(device: CTAP2Device, origin: String, pin: String? = nil) {
        self.device = device
        self.origin = origin
        self.pin = pin
    }

    // MARK: create()

    public func create(_ options: CreationOptions) async throws -> PublicKeyCredential {
        let rpID = try relyingPartyID(options.rp.id)
        guard let userID = Base64URL.decode(options.user.id), (1...64).contains(userID.count) else {
            throw WebAuthnClientError(.type, "user.id must be 1 to 64 bytes")
        }
        guard let challenge = Base64URL.decode(options.challenge), challenge.count >= 16 else {
            throw WebAuthnClientError(.type, "the challenge must be at least 16 bytes")
        }
        let device = boundedBy(options.timeout)
        let info = try await device.getInfo()
        var algorithms = options.pubKeyCredParams.filter { $0.type == "public-key" }.map(\.alg)
        if options.pubKeyCredParams.isEmpty { algorithms = [-7, -257] }
        if !info.algorithms.isEmpty { algorithms = algorithms.filter(info.algorithms.contains) }
        guard !algorithms.isEmpty else { throw WebAuthnClientError(.notSupported, "the key supports none of the requested algorithms") }

        let selection = options.authenticatorSelection
        let residentKey = selection?.residentKey ?? (selection?.requireResidentKey == true ? "required" : "discouraged")
        let rk: Bool
        switch residentKey {
        case "required":
            guard info.supportsResidentKeys else { throw WebAuthnClientError(.constraint, "the key cannot store discoverable credentials") }
            rk = true
        case "preferred": rk = info.supportsResidentKeys
        default: rk = false
        }

        let clientData = ClientData(type: .create, challenge: options.challenge, origin: origin,
                                    crossOrigin: topOrigin != nil, topOrigin: topOrigin)
        let clientDataHash = clientData.hash
        let uv = try await userVerification(selection?.userVerification, needsToken: rk, info: info, rpID: rpID,
                                            permissions: .makeCredential, clientDataHash: clientDataHash)

        var extensions: [(String, CBORValue?)] = []
        let wantsPRF = options.extensions?.prf != nil
        if wantsPRF, info.extensions.contains("hmac-secret") { extensions.append(("hmac-secret", .bool(true))) }
        if let policy = options.extensions?.credentialProtectionPolicy, info.extensions.contains("credProtect"),
           let level = ["userVerificationOptional": 1, "userVerificationOptionalWithCredentialIDList": 2,
                        "userVerificationRequired": 3][policy] {
            extensions.append(("credProtect", .int(level)))
        } else if options.extensions?.enforceCredentialProtectionPolicy == true, options.extensions?.credentialProtectionPolicy != nil {
            throw WebAuthnClientError(.notAllowed, "the key cannot enforce the credential protection policy")
        }

        let parameters = CBORValue.keyed([
            (MakeCredentialKey.clientDataHash, .bytes(clientDataHash)),
            (.rp, .textMap([("id", .text(rpID)), ("name", .text(options.rp.name))])),
            (.user, .textMap([("id", .bytes(userID)), ("name", .text(options.user.name)),
                              ("displayName", options.user.displayName.map { .text($0) })])),
            (.pubKeyCredParams, .array(algorithms.map { .textMap([("alg", .int($0)), ("type", .text("public-key"))]) })),
            (.excludeList, try descriptors(options.excludeCredentials)),
            (.extensions, extensions.isEmpty ? nil : .textMap(extensions)),
            (.options, rk || uv.builtIn ? .textMap([("rk", rk ? .bool(true) : nil), ("uv", uv.builtIn ? .bool(true) : nil)]) : nil),
            (.pinUvAuthParam, uv.pinUvAuthParam.map { .bytes($0) }),
            (.pinUvAuthProtocol, uv.pinUvAuthParam == nil ? nil : .int(PinProtocolTwo.number)),
        ])
        let response: CBORValue
        do {
            response = try await device.makeCredential(parameters)
        } catch let error as CTAPStatusError {
            throw Self.domError(error, creating: true)
        }
        guard let format = response[MakeCredentialResponseKey.fmt]?.textValue, let authData = response[MakeCredentialResponseKey.authData]?.bytesValue,
              let statement = response[MakeCredentialResponseKey.attStmt] else { throw WebAuthnClientError(.unknown, "the key's makeCredential reply lacks fmt, authData or attStmt") }
        let parsed = try ParsedAuthenticatorData(authData)
        guard let credentialID = parsed.credentialID, let publicKey = parsed.credentialPublicKey else {
            throw WebAuthnClientError(.unknown, "the key's authData has no attested credential")
        }
        // attestation "none" (the default): the browser replaces the statement (§5.1.3 step 23).
        let keepsAttestation = ["direct", "enterprise", "indirect"].contains(options.attestation ?? "none")
        let attestationObject = CBORWriter.encode(.textMap([
            ("fmt", .text(keepsAttestation ? format : "none")),
            ("attStmt", keepsAttestation ? statement : .map([])),
            ("authData", .bytes(authData)),
        ]))

        var credential = PublicKeyCredential(rawId: credentialID, clientDataJSON: clientData.json, attestationObject: attestationObject,
                                             authenticatorData: authData, publicKey: SubjectPublicKeyInfo.der(publicKey),
                                             publicKeyAlgorithm: publicKey[COSEKeyLabel.alg]?.intValue)
        if options.extensions?.credProps == true {
            credential.clientExtensionResults.credProps = .init(rk: rk)
        }
        if wantsPRF {
            credential.clientExtensionResults.prf = .init(enabled: parsed.extensions?[text: "hmac-secret"]?.boolValue == true)
        }
        return credential
    }

    // MARK: get()

    public func get(_ options: RequestOptions) async throws -> PublicKeyCredential {
        let rpID = try relyingPartyID(options.rpId)
        guard let challenge = Base64URL.decode(options.challenge), challenge.count >= 16 else {
            throw WebAuthnClientError(.type, "the challenge must be at least 16 bytes")
        }
        let device = boundedBy(options.timeout)
        let info = try await device.getInfo()
        let clientData = ClientData(type: .get, challenge: options.challenge, origin: origin,
                                    crossOrigin: topOrigin != nil, topOrigin: topOrigin)
        let clientDataHash = clientData.hash
        let allowed = options.allowCredentials ?? []
        let uv = try await userVerification(options.userVerification, needsToken: false, info: info, rpID: rpID,
                                            permissions: .getAssertion, clientDataHash: clientDataHash)

        // prf -> hmac-secret: salts are SHA-256("WebAuthn PRF" || 0x00 || input) (L3 §10.1.4).
        var prfSession: PinProtocolTwo?
        var extensions: [(String, CBORValue?)] = []
        if let prf = options.extensions?.prf, info.extensions.contains("hmac-secret") {
            let inputs = allowed.count == 1 ? (prf.evalByCredential?[allowed[0].id] ?? prf.eval) : prf.eval
            if let inputs {
                guard let first = Base64URL.decode(inputs.first) else { throw WebAuthnClientError(.type, "prf.eval.first is not base64url") }
                var salts = Self.prfSalt(first)
                if let second = inputs.second.flatMap(Base64URL.decode) { salts += Self.prfSalt(second) }
                let session = try await PinProtocolTwo.agree(with: device)
                let saltEnc = try session.encrypt(salts)
                extensions.append(("hmac-secret", .keyed([(HMACSecretKey.keyAgreement, session.platformKey), (.saltEnc, .bytes(saltEnc)),
                                                           (.saltAuth, .bytes(session.authenticate(saltEnc))),
                                                           (.pinUvAuthProtocol, .int(PinProtocolTwo.number))])))
                prfSession = session
            }
        }

        let parameters = CBORValue.keyed([
            (GetAssertionKey.rpId, .text(rpID)),
            (.clientDataHash, .bytes(clientDataHash)),
            (.allowList, try descriptors(allowed)),
            (.extensions, extensions.isEmpty ? nil : .textMap(extensions)),
            (.options, uv.builtIn ? .textMap([("uv", .bool(true))]) : nil),
            (.pinUvAuthParam, uv.pinUvAuthParam.map { .bytes($0) }),
            (.pinUvAuthProtocol, uv.pinUvAuthParam == nil ? nil : .int(PinProtocolTwo.number)),
        ])
        var responses: [CBORValue]
        do {
            let first = try await device.getAssertion(parameters)
            responses = [first]
            let count = first[GetAssertionResponseKey.numberOfCredentials]?.intValue ?? 1
            if allowed.isEmpty, count > 1 {
                for _ in 1..<min(count, 64) { responses.append(try await device.getNextAssertion()) }
            }
        } catch let error as CTAPStatusError {
            throw Self.domError(error, creating: false)
        }
        let accounts = responses.map { response in
            Account(userHandle: response[GetAssertionResponseKey.user]?[text: "id"]?.bytesValue,
                    name: response[GetAssertionResponseKey.user]?[text: "name"]?.textValue,
                    credentialID: response[GetAssertionResponseKey.credential]?[text: "id"]?.bytesValue ?? [])
        }
        let chosen = responses.count > 1 ? chooseAccount(accounts) : 0
        guard responses.indices.contains(chosen) else { throw WebAuthnClientError(.notAllowed, "no account was chosen") }
        let response = responses[chosen]
        guard let authData = response[GetAssertionResponseKey.authData]?.bytesValue,
              let signature = response[GetAssertionResponseKey.signature]?.bytesValue else {
            throw WebAuthnClientError(.unknown, "the key's getAssertion reply lacks authData or signature")
        }
        // The key may leave out the credential when the allow list named exactly one.
        var credentialID = accounts[chosen].credentialID
        if credentialID.isEmpty, allowed.count == 1, let only = Base64URL.decode(allowed[0].id) { credentialID = only }
        guard !credentialID.isEmpty else { throw WebAuthnClientError(.unknown, "the key did not say which credential it used") }

        var credential = PublicKeyCredential(rawId: credentialID, clientDataJSON: clientData.json, attestationObject: nil,
                                             authenticatorData: authData, signature: signature, userHandle: accounts[chosen].userHandle)
        if let prfSession {
            let parsed = try ParsedAuthenticatorData(authData)
            if let encrypted = parsed.extensions?[text: "hmac-secret"]?.bytesValue {
                let output = try prfSession.decrypt(encrypted)
                credential.clientExtensionResults.prf = .init(results: .init(
                    first: Base64URL.encode(output.prefix(32)), second: output.count == 64 ? Base64URL.encode(output.suffix(32)) : nil))
            } else {
                credential.clientExtensionResults.prf = .init()
            }
        }
        return credential
    }

    // MARK: shared steps

    /// The RP ID must be the origin's host or a registrable suffix of it (§5.1.3 step 8).
    func relyingPartyID(_ requested: String?) throws -> String {
        guard let host = URLComponents(string: origin)?.host?.lowercased(), !host.isEmpty else {
            throw WebAuthnClientError(.security, "the origin \(origin) has no host")
        }
        guard let rpID = requested?.lowercased() else { return host }
        guard host == rpID || (host.hasSuffix("." + rpID) && rpID.contains(".")) else {
            throw WebAuthnClientError(.security, "the RP ID \(rpID) is not a registrable suffix of \(host)")
        }
        return rpID
    }

    struct Verification { var builtIn = false; var pinUvAuthParam: [UInt8]? }

    /// How the user is verified: a PIN token when the key has a PIN (always when a discoverable
    /// credential is made, since keys demand it then), else the key's own UV, else none.
    func userVerification(_ requirement: String?, needsToken: Bool, info: AuthenticatorInfo, rpID: String,
                          permissions: PinProtocolTwo.Permissions, clientDataHash: [UInt8]) async throws -> Verification {
        let requirement = requirement ?? "preferred"
        if info.pinIsSet, requirement != "discouraged" || needsToken {
            guard let pin else {
                if requirement == "required" || needsToken {
                    throw WebAuthnClientError(.notAllowed, "the key has a PIN: the client needs it")
                }
                return Verification()
            }
            guard info.pinUvAuthProtocols.contains(PinProtocolTwo.number) else {
                throw WebAuthnClientError(.notSupported, "the key does not offer PIN/UV protocol two")
            }
            do {
                let token = try await PinProtocolTwo.token(pin: pin, permissions: permissions, rpID: rpID, device: device)
                return Verification(pinUvAuthParam: PinProtocolTwo.authenticate(token: token, clientDataHash))
            } catch let error as CTAPStatusError {
                throw WebAuthnClientError(.notAllowed, "the PIN was refused: \(error)")
            }
        }
        if info.hasBuiltInUV, requirement != "discouraged" { return Verification(builtIn: true) }
        if requirement == "required" { throw WebAuthnClientError(.notAllowed, "the key cannot verify the user (no PIN set, no built-in UV)") }
        return Verification()
    }

    func descriptors(_ list: [CredentialDescriptor]?) throws -> CBORValue? {
        guard let list, !list.isEmpty else { return nil }
        return .array(try list.filter { $0.type == "public-key" }.map { descriptor in
            guard let id = Base64URL.decode(descriptor.id) else { throw WebAuthnClientError(.type, "a credential id is not base64url") }
            return .textMap([("id", .bytes(id)), ("type", .text("public-key"))])
        })
    }

    static func prfSalt(_ input: [UInt8]) -> [UInt8] {
        Array(SHA256.hash(data: Array("WebAuthn PRF".utf8) + [0] + input))
    }

    /// The device with the ceremony's deadline: the options' timeout in milliseconds, 300 s when
    /// absent (WebAuthn L3's recommended default). A request still pending then is cancelled.
    func boundedBy(_ timeout: Int?) -> CTAP2Device {
        var bounded = device
        bounded.deadline = .now + .milliseconds(max(1, timeout ?? 300_000))
        return bounded
    }

    /// What a browser rejects with for each CTAP status (Chromium's mapping, roughly).
    static func domError(_ error: CTAPStatusError, creating: Bool) -> WebAuthnClientError {
        switch error.status {
        case .credentialExcluded:
            return WebAuthnClientError(.invalidState, "the key already holds a credential from the exclude list")
        case .unsupportedAlgorithm:
            return WebAuthnClientError(.notSupported, "the key supports none of the requested algorithms")
        case .keepaliveCancel:  // only sent when the deadline passed
            return WebAuthnClientError(.notAllowed, "the operation timed out (the key was cancelled)")
        case .noCredentials:
            return WebAuthnClientError(.notAllowed, "the key holds no credential for this request (\(error))")
        default:
            return WebAuthnClientError(.notAllowed, "the key answered \(error)")
        }
    }
}
