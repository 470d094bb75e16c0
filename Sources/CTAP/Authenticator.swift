import Bytes
import CBOR
import CTAPWire
import Foundation

public struct AuthenticatorConfig: Sendable {
    public var aaguid: [UInt8]
    public var attestation: AttestationMode
    public var firmwareVersion: Int
    /// authenticatorReset is only allowed this long after power-up (CTAP 2.1 §6.6 leaves it to
    /// the authenticator; real keys use 10 s). nil allows it at any time.
    public var resetWindow: Duration?
    public var maxCredentialCountInList: Int
    public var maxCredentialIdLength: Int
    public var maxMessageSize: Int
    /// How many discoverable credentials fit (KEY_STORE_FULL beyond).
    public var maxResidentCredentials: Int
    /// How many non-resident keys too big for their credential ID (RSA) the store keeps
    /// (KEY_STORE_FULL beyond): a host cannot fill the disk with RS256 registrations.
    public var maxDetachedKeys: Int
    /// A built-in user verification method ("fingerprint") that the prompt policy answers:
    /// getInfo's `uv` option, getPinUvAuthTokenUsingUvWithPermissions, the `uv` option.
    public var builtInUV: Bool
    /// RP IDs allowed vendor-facilitated enterprise attestation (enterpriseAttestation = 1).
    public var enterpriseAttestationRPIDs: [String]
    /// The BE and BS flags of credentials made over CTAP (WebDriver defaultBackupEligibility,
    /// defaultBackupState); a stored credential keeps its own.
    public var defaultBackupEligibility = false
    public var defaultBackupState = false
    /// The largest serialized large-blob array (authenticatorLargeBlobs).
    public var maxSerializedLargeBlobArray: Int
    /// How many RP IDs setMinPINLength may name.
    public var maxRPIDsForSetMinPINLength: Int
    /// What the key implements: protocol generation, discoverable credentials, extensions.
    public var features = KeyFeatures()
    /// The algorithms new credentials can use, in getInfo's order (a profile may offer fewer).
    public var algorithms: [COSEAlgorithm] = COSEAlgorithm.allCases
    /// The transports getInfo names (a profile of a key with NFC names it; vfido is USB).
    public var transports: [String] = ["usb"]
    /// getInfo members a model leaves out although its generation has them (a profile's
    /// `getInfoOmits`); the command behaves the same, only the claim is missing.
    public var getInfoOmits: Set<GetInfoKey> = []
    /// Deviations a real key has (none by default).
    public var quirks = KeyQuirks()
    /// CTAP 2.2's PIN complexity policy (with the 2.2 additions): enforced from the start and
    /// again after a reset (authenticatorConfig can turn it on later), and the URL getInfo
    /// names for it (0x1C; none by default).
    public var pinComplexityPolicyByDefault = false
    public var pinComplexityPolicyURL: String?

    /// vfido's AAGUID: fixed so relying parties can recognise the model.
    public static let defaultAAGUID: [UInt8] = [
        0x76, 0x66, 0x69, 0x64, 0x6F, 0x2D, 0x4B, 0x65, 0x79, 0x21, 0x9A, 0x1E, 0x5C, 0x0F, 0xE1, 0x7A,
    ]

    public init(aaguid: [UInt8] = AuthenticatorConfig.defaultAAGUID, attestation: AttestationMode = .packed,
                firmwareVersion: Int = 0x0001_0000, resetWindow: Duration? = .seconds(10),
                maxCredentialCountInList: Int = 8, maxCredentialIdLength: Int = 128, maxMessageSize: Int = 7609,
                maxResidentCredentials: Int = 256, maxDetachedKeys: Int = 1024, builtInUV: Bool = false, enterpriseAttestationRPIDs: [String] = [],
                maxSerializedLargeBlobArray: Int = 4096, maxRPIDsForSetMinPINLength: Int = 8) {
        self.aaguid = aaguid
        self.attestation = attestation
        self.firmwareVersion = firmwareVersion
        self.resetWindow = resetWindow
        self.maxCredentialCountInList = maxCredentialCountInList
        self.maxCredentialIdLength = maxCredentialIdLength
        self.maxMessageSize = maxMessageSize
        self.maxResidentCredentials = maxResidentCredentials
        self.maxDetachedKeys = maxDetachedKeys
        self.builtInUV = builtInUV
        self.enterpriseAttestationRPIDs = enterpriseAttestationRPIDs
        self.maxSerializedLargeBlobArray = maxSerializedLargeBlobArray
        self.maxRPIDsForSetMinPINLength = maxRPIDsForSetMinPINLength
    }
}

/// One exchange, for the transport's log line.
public struct CTAPExchange: Sendable {
    public var command: UInt8
    public var response: [UInt8]
    public var error: CTAPError?
    public var status: CTAPStatus { CTAPStatus(rawValue: response.first ?? 0x7F) }
    public init(command: UInt8, response: [UInt8], error: CTAPError?) {
        self.command = command
        self.response = response
        self.error = error
    }
}

/// The authenticator core: CTAP2 requests in, responses out. Time, randomness, user presence
/// and storage are injected; it performs no I/O of its own. Transports serialise requests
/// (CTAPHID allows one transaction at a time), so actor reentrancy at a user-presence await
/// never interleaves two commands.
public actor Authenticator {
    public nonisolated let config: AuthenticatorConfig
    let store: CredentialStore
    let presence: UserPresence
    let random: RandomSource
    let clock: AuthenticatorClock
    var secrets: DeviceSecrets
    var sealer: CredentialIDSealer
    var credentialSecrets: CredentialSecrets
    var poweredOnAt: ContinuousClock.Instant
    /// Left-over accounts of a discoverable getAssertion, for getNextAssertion.
    var pendingAssertions: PendingAssertions?
    /// Left-over RPs or credentials of a credential-management enumeration.
    var pendingEnumeration: CredentialEnumeration?
    /// The stored PIN (hash, retries) and the per-power-cycle PIN/UV state.
    var pin: StoredPin
    var pinSession: PinUvSession
    /// authenticatorConfig's settings and the built-in UV retries.
    var settings: DeviceSettings
    /// A large-blob array being written in fragments (CTAP 2.1 §6.10.2), per power cycle.
    var largeBlobWrite: LargeBlobWrite?
    /// getInfo's last answer, encoded, and what it was made from.
    var getInfoCache: GetInfoCache?
    /// Faults in responses a test asked for (the control API); none by default.
    var responseOverrides = ResponseOverrides()
    var eventObserver: (@Sendable (AuthenticatorEvent) -> Void)?

    public init(config: AuthenticatorConfig = AuthenticatorConfig(), store: CredentialStore, presence: UserPresence,
                random: RandomSource, clock: AuthenticatorClock) throws(CTAPError) {
        self.config = config
        self.store = store
        self.presence = presence
        self.random = random
        self.clock = clock
        let secrets = try Self.loadOrCreateSecrets(store: store, aaguid: config.aaguid, random: random, now: clock.date)
        self.secrets = secrets
        self.sealer = CredentialIDSealer(masterKey: secrets.masterKey)
        self.credentialSecrets = CredentialSecrets(masterKey: secrets.masterKey)
        self.poweredOnAt = clock.now
        pin = try Self.storedPin(store)
        settings = try Self.storedSettings(store, config)
        pinSession = PinUvSession(random: random)
    }

    static func storedPin(_ store: CredentialStore) throws(CTAPError) -> StoredPin {
        try loadStored(StoredPin.storeName, store: store).map(StoredPin.init(cbor:)) ?? StoredPin()
    }

    static func storedSettings(_ store: CredentialStore, _ config: AuthenticatorConfig) throws(CTAPError) -> DeviceSettings {
        let defaults = DeviceSettings(config)
        return try loadStored(DeviceSettings.storeName, store: store).map { DeviceSettings(cbor: $0, defaults: defaults) } ?? defaults
    }

    static func loadStored(_ name: String, store: CredentialStore) throws(CTAPError) -> CBORValue? {
        guard let blob = try storeCall({ try store.loadSecret(name) }) else { return nil }
        do { return try CBORReader.decode(blob) } catch { throw CTAPError(.other, "stored \(name) is unreadable: \(error)") }
    }

    func saveSettings() throws(CTAPError) {
        let encoded = settings.cbor.encoded
        try storeCall { try store.saveSecret(DeviceSettings.storeName, encoded) }
    }

    static func loadOrCreateSecrets(store: CredentialStore, aaguid: [UInt8], random: RandomSource, now: Date) throws(CTAPError) -> DeviceSecrets {
        if let blob = try storeCall({ try store.loadSecret(DeviceSecrets.storeName) }) {
            var stored: DeviceSecrets
            do { stored = try DeviceSecrets(cbor: try CBORReader.decode(blob)) } catch {
                throw CTAPError(.other, "stored device secrets are unreadable: \(error)")
            }
            // State from before enterprise attestation existed: add its certificate once.
            if stored.enterpriseCertificate.isEmpty {
                try stored.addEnterpriseIdentity(aaguid: aaguid, random: random, now: now)
                try storeCall { try store.saveSecret(DeviceSecrets.storeName, stored.cbor.encoded) }
            }
            return stored
        }
        let fresh = try DeviceSecrets.generate(aaguid: aaguid, random: random, now: now)
        try storeCall { try store.saveSecret(DeviceSecrets.storeName, fresh.cbor.encoded) }
        return fresh
    }

    /// A stable, ASCII serial number for the HID/USB layer: derived from the attestation batch
    /// certificate, so it survives resets and differs between keys.
    public var serialNumber: String {
        Digest.sha256(secrets.batchCertificate).prefix(8).hex.uppercased()
    }

    /// The attestation root certificate in PEM (what `vfido attestation root` prints).
    public func attestationRootPEM() throws -> String { try secrets.attestationRootPEM() }

    /// Handles one CTAP2 message: a command byte, then CBOR parameters. Answers a status byte,
    /// then CBOR for successful commands that return data: bytes -> `Command` -> `handle` ->
    /// the response's encoding.
    public func handle(_ message: [UInt8]) async -> CTAPExchange {
        guard let commandByte = message.first else {
            return CTAPExchange(command: 0, response: [CTAPStatus.invalidLength.rawValue],
                                error: CTAPError(.invalidLength, "empty message"))
        }
        do {
            let response = try await handle(try parse(commandByte, message.dropFirst()))
            return CTAPExchange(command: commandByte, response: [CTAPStatus.ok.rawValue] + (response?.encoded ?? []), error: nil)
        } catch {
            return CTAPExchange(command: commandByte, response: [error.status.rawValue], error: error)
        }
    }

    /// The typed command, after the continuations the previous command left are dropped: any
    /// command but getNextAssertion ends a getAssertion's accounts (CTAP 2.1 §6.3; a new
    /// getAssertion starts its own), any but credential management ends an enumeration.
    func parse(_ commandByte: UInt8, _ body: ArraySlice<UInt8>) throws(CTAPError) -> Command {
        guard let command = CTAPCommand(rawValue: commandByte) else {
            pendingAssertions = nil
            throw CTAPError(.invalidCommand, "unknown command 0x" + [commandByte].hex)
        }
        if command != .getNextAssertion { pendingAssertions = nil }
        guard config.features.implements(command) else {
            throw CTAPError(.invalidCommand, "command \(command) is not implemented by a \(config.features.level.rawValue) key")
        }
        if command != .credentialManagement && command != .credentialManagementPreview { pendingEnumeration = nil }
        return try Command(command, parameters: body)
    }

    func handle(_ command: Command) async throws(CTAPError) -> (any CommandResponse)? {
        switch command {
        case .getInfo: return getInfoAnswer()
        case .makeCredential(let request): return try await makeCredential(request)
        case .getAssertion(let request): return try await getAssertion(request)
        case .getNextAssertion: return try getNextAssertion()
        case .clientPIN(let request): return try await clientPIN(request)
        case .credentialManagement(let request): return try credentialManagement(request)
        case .config(let request): try authenticatorConfig(request); return nil
        case .largeBlobs(let request): return try largeBlobs(request)
        case .reset: try await reset(); return nil
        case .selection: try await selection(); return nil
        }
    }

    /// Asks the user, turning any answer but "approved" into its status.
    func requireUserPresence(_ request: UserPresenceRequest) async throws(CTAPError) {
        let result = await presence.confirm(request)
        if let status = result.failureStatus { throw CTAPError(status, "user presence: \(result)") }
    }

    func nextSignCount() throws(CTAPError) -> UInt32 {
        try storeCall { try store.incrementSignCount() }
    }

    /// Built-in user verification (CTAP 2.1 §6.5.5.7.1 performBuiltInUv), answered by the
    /// prompt policy: a refusal counts down uvRetries (UV_INVALID, then UV_BLOCKED); a timeout
    /// or cancel does not.
    func performBuiltInUV(_ request: UserPresenceRequest) async throws(CTAPError) {
        guard config.builtInUV else { throw CTAPError(.invalidOption, "no built-in user verification") }
        guard settings.uvRetries > 0 else { throw CTAPError(.uvBlocked, "built-in UV is blocked; use the PIN") }
        var asking = request
        asking.verification = true
        switch await presence.confirm(asking) {
        case .approved:
            settings.uvRetries = DeviceSettings.maxUVRetries
            settings.uvCountSinceLastPinEntry += 1
            try saveSettings()
        case .denied:
            settings.uvRetries -= 1
            settings.uvCountSinceLastPinEntry += 1
            try saveSettings()
            throw CTAPError(settings.uvRetries == 0 ? .uvBlocked : .uvInvalid, "user verification refused, \(settings.uvRetries) left")
        case .timedOut: throw CTAPError(.userActionTimeout, "user verification timed out")
        case .cancelled: throw CTAPError(.keepaliveCancel, "user verification cancelled")
        }
    }

    /// Whether some user verification is configured (CTAP 2.1 "protected by some form of UV").
    var isProtectedByUV: Bool { pin.hash != nil || config.builtInUV }

    /// Reads the stored state again, as the key does when it starts, after something other
    /// than this authenticator changed the store (the CTAP fuzz target puts its template back
    /// between inputs, which is far cheaper than a new authenticator); per-boot state is
    /// forgotten as by `powerCycle`. Keys are derived again only if the master key changed.
    public func reload() throws(CTAPError) {
        let stored = try Self.loadOrCreateSecrets(store: store, aaguid: config.aaguid, random: random, now: clock.date)
        if stored.masterKey != secrets.masterKey {
            sealer = CredentialIDSealer(masterKey: stored.masterKey)
            credentialSecrets = CredentialSecrets(masterKey: stored.masterKey)
        }
        secrets = stored
        pin = try Self.storedPin(store)
        settings = try Self.storedSettings(store, config)
        powerCycle()
    }

    /// Simulates unplugging and plugging the key back in: per-boot state is forgotten.
    public func powerCycle() {
        poweredOnAt = clock.now
        pendingAssertions = nil
        pendingEnumeration = nil
        largeBlobWrite = nil
        pinSession = PinUvSession(random: random)
    }
}

/// The one place where a storage failure becomes a CTAP status.
func storeCall<T>(_ body: () throws -> T) throws(CTAPError) -> T {
    do { return try body() } catch let error as CTAPError { throw error } catch let full as CredentialStoreFull {
        throw CTAPError(.keyStoreFull, "credential store: \(full)")
    } catch {
        throw CTAPError(.other, "credential store: \(error)")
    }
}
