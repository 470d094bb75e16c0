import Bytes
import CTAP
import Faults
import Foundation
import HTTPAPI
import Hummingbird
import VirtualKey

/// The control API's JSON: request bodies are read strictly (an unknown field is an error, not
/// silently ignored, so a misspelt option never passes for a working one), responses are
/// Encodable structs with the names CDP and WebDriver use.

/// A request body: its fields, named by its CodingKeys.
protocol ControlRequest: Decodable {
    associatedtype CodingKeys: CodingKey & CaseIterable
}

enum ControlJSON {
    static func decode<T: ControlRequest>(_ type: T.Type, from bytes: Data) throws -> T {
        let data = bytes.isEmpty ? Data("{}".utf8) : bytes
        guard let object = try? JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed]) as? [String: Any] else {
            throw APIError.invalidRequest("the body must be a JSON object")
        }
        let known = Set(T.CodingKeys.allCases.map(\.stringValue))
        if let unknown = object.keys.sorted().first(where: { !known.contains($0) }) {
            throw APIError(.badRequest, "unknown_field", "unknown field \"\(unknown)\" (this endpoint takes: \(known.sorted().joined(separator: ", ")))")
        }
        do {
            return try JSONDecoder().decode(T.self, from: data)
        } catch DecodingError.typeMismatch(_, let context), DecodingError.valueNotFound(_, let context) {
            throw APIError(.badRequest, "invalid_field", "field \(context.codingPath.map(\.stringValue).joined(separator: ".")) has the wrong type")
        } catch DecodingError.keyNotFound(let key, _) {
            throw APIError(.badRequest, "missing_field", "field \(key.stringValue) is required")
        } catch let error as APIError {
            throw error
        } catch {
            throw APIError.invalidRequest("the body is not what this endpoint takes")
        }
    }

    static func response<T: Encodable>(_ value: T, status: HTTPResponse.Status = .ok) throws -> Response {
        Response(status: status, headers: [.contentType: "application/json", .cacheControl: "no-store"],
                 body: .init(byteBuffer: ByteBuffer(bytes: try JSONEncoder.api.encode(value))))
    }

    /// RFC 3339 time, as every timestamp in the API is written.
    static func time(_ date: Date) -> String { date.formatted(.iso8601) }

    static func bytes(_ text: String, field: String) throws -> [UInt8] {
        guard let bytes = Base64URL.decode(text) else {
            throw APIError(.badRequest, "invalid_field", "field \(field) is not base64url")
        }
        return bytes
    }
}

// MARK: - Keys

struct KeyJSON: Encodable {
    var key: Int
    var serialNumber: String
    /// WebDriver's protocol names: ctap1/u2f, ctap2 (2.0), ctap2_1.
    var protocolVersion: String
    var transport = "usb"
    /// Added through the API (in memory, removable) rather than started with the daemon.
    var addedAtRuntime: Bool
    var aaguid: String
    var plugged: Bool
    var usbipBusId: String?
    var usbipAttached: Bool?
    var udpPort: Int?
    var hidraw: Bool
    var hasResidentKey: Bool
    var hasUserVerification: Bool
    var hasLargeBlob: Bool
    /// The CTAP extensions the key processes.
    var extensions: [String]
    var defaultBackupEligibility: Bool
    var defaultBackupState: Bool
    var presence: PresenceJSON
    var responseOverrides: OverridesJSON
    var storedCredentials: Int
    var maxResidentCredentials: Int
}

/// A key to add: WebDriver's authenticator configuration (Web Authentication L3 §11.3) and
/// CDP's VirtualAuthenticatorOptions, whichever names a test already uses. Absent options give
/// vfido's full key: CTAP 2.1, discoverable credentials, every extension.
struct KeyRequest: ControlRequest {
    var `protocol`: String?
    /// CDP: with protocol "ctap2", ctap2_0 or ctap2_1.
    var ctap2Version: String?
    var transport: String?
    var hasResidentKey: Bool?
    var hasUserVerification: Bool?
    var isUserConsenting: Bool?
    /// CDP's name for isUserConsenting.
    var automaticPresenceSimulation: Bool?
    var isUserVerified: Bool?
    var extensions: [String]?
    var hasLargeBlob: Bool?
    var hasCredBlob: Bool?
    var hasMinPinLength: Bool?
    var hasPrf: Bool?
    var hasHmacSecret: Bool?
    var defaultBackupEligibility: Bool?
    var defaultBackupState: Bool?
    enum CodingKeys: String, CodingKey, CaseIterable {
        case `protocol`, ctap2Version, transport, hasResidentKey, hasUserVerification, isUserConsenting,
             automaticPresenceSimulation, isUserVerified, extensions, hasLargeBlob, hasCredBlob, hasMinPinLength, hasPrf,
             hasHmacSecret, defaultBackupEligibility, defaultBackupState
    }

    /// WebDriver's extension identifiers (and CTAP's own names) -> the CTAP extensions they mean.
    static let extensionNames: [String: Set<String>] = [
        "credBlob": ["credBlob"], "credProtect": ["credProtect"], "largeBlob": ["largeBlobKey"], "largeBlobKey": ["largeBlobKey"],
        "minPinLength": ["minPinLength"], "prf": ["hmac-secret", "hmac-secret-mc"], "hmac-secret": ["hmac-secret", "hmac-secret-mc"],
        "hmac-secret-mc": ["hmac-secret-mc"],
    ]

    func keyOptions() throws -> KeyOptions {
        var options = KeyOptions()
        var features = KeyFeatures()
        switch (`protocol`, ctap2Version) {
        case (nil, nil), ("ctap2_1", nil), ("ctap2", "ctap2_1"): features.level = .ctap2_1
        case ("ctap2", nil), ("ctap2", "ctap2_0"): features.level = .ctap2_0
        case ("ctap1/u2f", nil), ("u2f", nil): features.level = .u2f
        default:
            throw APIError(.badRequest, "invalid_field",
                           "protocol must be ctap1/u2f, ctap2 or ctap2_1 (ctap2Version ctap2_0 or ctap2_1 with protocol ctap2), not \(`protocol` ?? "none")/\(ctap2Version ?? "none")")
        }
        if let transport, transport != "usb" {
            throw APIError(.badRequest, "unsupported_field", "vfido is a USB key: transport must be usb, not \"\(transport)\"")
        }
        if let names = extensions {
            var enabled: Set<String> = []
            for name in names {
                guard let meant = Self.extensionNames[name] else {
                    throw APIError(.badRequest, "invalid_field",
                                   "unknown extension \"\(name)\" (known: \(Self.extensionNames.keys.sorted().joined(separator: ", ")))")
                }
                enabled.formUnion(meant)
            }
            features.extensions = enabled
            features.largeBlobs = enabled.contains("largeBlobKey")
        }
        func toggle(_ on: Bool?, _ names: Set<String>) {
            guard let on else { return }
            if on { features.extensions.formUnion(names) } else { features.extensions.subtract(names) }
        }
        toggle(hasCredBlob, ["credBlob"])
        toggle(hasMinPinLength, ["minPinLength"])
        toggle(hasPrf, ["hmac-secret", "hmac-secret-mc"])
        toggle(hasHmacSecret, ["hmac-secret", "hmac-secret-mc"])
        toggle(hasLargeBlob, ["largeBlobKey"])
        if let hasLargeBlob { features.largeBlobs = hasLargeBlob }
        features.residentKeys = hasResidentKey ?? (features.level != .u2f)
        if features.level == .u2f {
            if features.residentKeys { throw APIError(.badRequest, "invalid_field", "a ctap1/u2f key has no discoverable credentials") }
            if hasUserVerification == true { throw APIError(.badRequest, "invalid_field", "a ctap1/u2f key has no user verification") }
        }
        if features.largeBlobs && features.level != .ctap2_1 {
            if hasLargeBlob == true { throw APIError(.badRequest, "invalid_field", "large blobs are CTAP 2.1: protocol must be ctap2_1") }
            features.largeBlobs = false
        }
        if features.largeBlobs && !features.residentKeys {
            if hasLargeBlob == true { throw APIError(.badRequest, "invalid_field", "large blobs need discoverable credentials (hasResidentKey)") }
            features.largeBlobs = false
        }
        if isUserConsenting != nil && automaticPresenceSimulation != nil && isUserConsenting != automaticPresenceSimulation {
            throw APIError(.badRequest, "invalid_field", "isUserConsenting and automaticPresenceSimulation disagree")
        }
        if defaultBackupState == true && defaultBackupEligibility != true {
            throw APIError(.badRequest, "invalid_field", "defaultBackupState needs defaultBackupEligibility")
        }
        options.features = features
        options.builtInUV = hasUserVerification ?? false
        options.presence = (isUserConsenting ?? automaticPresenceSimulation ?? true) ? .auto : .control
        options.userVerified = isUserVerified ?? true
        options.defaultBackupEligibility = defaultBackupEligibility ?? false
        options.defaultBackupState = defaultBackupState ?? false
        return options
    }
}

struct PresenceJSON: Codable {
    var policy: String
    /// CDP's isUserConsenting: presence is approved at once (policy auto).
    var isUserConsenting: Bool
    var isUserVerified: Bool
    var touching: Bool
}

struct PresenceRequest: ControlRequest {
    var policy: String?
    var isUserConsenting: Bool?
    var isUserVerified: Bool?
    var touching: Bool?
    enum CodingKeys: String, CodingKey, CaseIterable { case policy, isUserConsenting, isUserVerified, touching }
}

struct OverridesJSON: Codable, ControlRequest {
    var isBogusSignature: Bool?
    var isBadUV: Bool?
    var isBadUP: Bool?
    enum CodingKeys: String, CodingKey, CaseIterable { case isBogusSignature, isBadUV, isBadUP }

    init(_ o: ResponseOverrides) {
        isBogusSignature = o.isBogusSignature
        isBadUV = o.isBadUV
        isBadUP = o.isBadUP
    }
}

// MARK: - Faults

struct FaultsRequest: ControlRequest {
    /// `KIND[@COMMAND][:RATE]` each; empty: no faults.
    var rules: [String]
    /// Random when absent.
    var seed: UInt64?
    enum CodingKeys: String, CodingKey, CaseIterable { case rules, seed }
}

struct FaultsJSON: Encodable {
    var rules: [String]
    var seed: UInt64
    var replaying: Bool
    /// Mutations applied since the rules were set.
    var applied: Int
    /// The newest of them (at most FaultInjector.keptMutations).
    var log: [Mutation]

    init(_ faults: FaultInjector) {
        rules = faults.rules.map(\.description)
        seed = faults.seed
        replaying = faults.isReplaying
        applied = faults.count
        log = faults.log
    }
}

// MARK: - Prompts

struct PromptJSON: Encodable {
    var id: Int
    var operation: String
    var rpId: String?
    var userName: String?
    var verification: Bool
    var summary: String
    var startedAt: String

    init(_ p: KeyPresence.Prompt) {
        id = p.id
        operation = p.request.operation.rawValue
        rpId = p.request.rpId
        userName = p.request.userName
        verification = p.request.verification
        summary = p.request.summary
        startedAt = ControlJSON.time(p.startedAt)
    }
}

struct AnswerRequest: ControlRequest {
    /// Which prompt; the oldest when absent.
    var id: Int?
    /// Seconds to wait for a prompt to appear (at most 300).
    var wait: Double?
    enum CodingKeys: String, CodingKey, CaseIterable { case id, wait }
}

// MARK: - Credentials

/// WebDriver's credential parameters (Web Authentication L3 §11.6), which CDP's Credential
/// type also uses.
struct CredentialRequest: ControlRequest {
    var credentialId: String
    var isResidentCredential: Bool
    var rpId: String
    var privateKey: String
    var userHandle: String?
    var signCount: Int?
    var largeBlob: String?
    var backupEligibility: Bool?
    var backupState: Bool?
    var userName: String?
    var userDisplayName: String?
    enum CodingKeys: String, CodingKey, CaseIterable {
        case credentialId, isResidentCredential, rpId, privateKey, userHandle, signCount, largeBlob, backupEligibility,
             backupState, userName, userDisplayName
    }

    func credentialImport() throws -> CredentialImport {
        let key: CredentialPrivateKey
        do {
            key = try CredentialPrivateKey(pkcs8: try ControlJSON.bytes(privateKey, field: "privateKey"))
        } catch let error as CTAPError {
            throw APIError(.badRequest, error.status == .unsupportedAlgorithm ? "unsupported_key_type" : "invalid_private_key", error.reason)
        }
        guard (0...Int(UInt32.max)).contains(signCount ?? 0) else {
            throw APIError(.badRequest, "invalid_field", "signCount must be 0 to \(UInt32.max)")
        }
        return CredentialImport(
            id: try ControlJSON.bytes(credentialId, field: "credentialId"), rpId: rpId, discoverable: isResidentCredential,
            privateKey: key, userId: try userHandle.map { try ControlJSON.bytes($0, field: "userHandle") }, userName: userName,
            userDisplayName: userDisplayName, signCount: UInt32(signCount ?? 0), backupEligible: backupEligibility ?? false,
            backupState: backupState ?? false, largeBlob: try largeBlob.map { try ControlJSON.bytes($0, field: "largeBlob") })
    }
}

struct CredentialPropertiesRequest: ControlRequest {
    var backupEligibility: Bool?
    var backupState: Bool?
    var signCount: Int?
    enum CodingKeys: String, CodingKey, CaseIterable { case backupEligibility, backupState, signCount }
}

struct ExportRequest: ControlRequest {
    /// "webdriver" (the credential JSON above, privateKey included) or "cxf".
    var format: String?
    enum CodingKeys: String, CodingKey, CaseIterable { case format }
}

/// A stored credential as the API shows it: WebDriver's names, the private key only on export.
struct CredentialJSON: Encodable {
    var credentialId: String
    var isResidentCredential: Bool
    var rpId: String
    var userHandle: String?
    var userName: String?
    var userDisplayName: String?
    /// The credential's own counter; null when it counts on the key's global counter.
    var signCount: UInt32?
    var backupEligibility: Bool
    var backupState: Bool
    var algorithm: Int
    /// The COSE_Key, base64url.
    var publicKey: String
    var createdAt: String
    /// The credential's large blob, uncompressed, when the large-blob array holds one for it.
    var largeBlob: String?
    var privateKey: String?

    init(_ c: StoredCredential, largeBlob blob: [UInt8]? = nil, includePrivateKey: Bool) throws {
        largeBlob = blob.map(Base64URL.encode)
        let key = try CredentialPrivateKey(algorithm: c.algorithm, raw: c.privateKey)
        credentialId = Base64URL.encode(c.id)
        isResidentCredential = c.discoverable
        rpId = c.rpId
        userHandle = c.userId.isEmpty ? nil : Base64URL.encode(c.userId)
        userName = c.userName
        userDisplayName = c.userDisplayName
        signCount = c.signCount
        backupEligibility = c.backupEligible
        backupState = c.backupState
        algorithm = c.algorithm.rawValue
        publicKey = Base64URL.encode(try key.publicKeyCOSE().encoded)
        createdAt = ControlJSON.time(Date(timeIntervalSince1970: c.createdAt))
        privateKey = includePrivateKey ? Base64URL.encode(try key.pkcs8()) : nil
    }
}
