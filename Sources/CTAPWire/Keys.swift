/// The integer keys of CTAP2's request and response maps (CTAP 2.1 §6), and subcommand numbers.

/// authenticatorMakeCredential's parameters (§6.1).
public enum MakeCredentialKey: Int, Sendable {
    case clientDataHash = 0x01, rp = 0x02, user = 0x03, pubKeyCredParams = 0x04, excludeList = 0x05
    case extensions = 0x06, options = 0x07, pinUvAuthParam = 0x08, pinUvAuthProtocol = 0x09
    case enterpriseAttestation = 0x0A, attestationFormatsPreference = 0x0B
}

/// authenticatorMakeCredential's response: the attestation object's members (§6.1.2).
public enum MakeCredentialResponseKey: Int, Sendable {
    case fmt = 0x01, authData = 0x02, attStmt = 0x03, epAtt = 0x04, largeBlobKey = 0x05
}

/// authenticatorGetAssertion's parameters (§6.2).
public enum GetAssertionKey: Int, Sendable {
    case rpId = 0x01, clientDataHash = 0x02, allowList = 0x03, extensions = 0x04, options = 0x05
    case pinUvAuthParam = 0x06, pinUvAuthProtocol = 0x07
}

/// authenticatorGetAssertion's and authenticatorGetNextAssertion's response (§6.2.2).
public enum GetAssertionResponseKey: Int, Sendable {
    case credential = 0x01, authData = 0x02, signature = 0x03, user = 0x04, numberOfCredentials = 0x05
    case userSelected = 0x06, largeBlobKey = 0x07
}

/// authenticatorGetInfo's response (§6.4).
public enum GetInfoKey: Int, Sendable, CaseIterable {
    case versions = 0x01, extensions = 0x02, aaguid = 0x03, options = 0x04, maxMsgSize = 0x05
    case pinUvAuthProtocols = 0x06, maxCredentialCountInList = 0x07, maxCredentialIdLength = 0x08
    case transports = 0x09, algorithms = 0x0A, maxSerializedLargeBlobArray = 0x0B, forcePINChange = 0x0C
    case minPINLength = 0x0D, firmwareVersion = 0x0E, maxCredBlobLength = 0x0F, maxRPIDsForSetMinPINLength = 0x10
    case preferredPlatformUvAttempts = 0x11, uvModality = 0x12, remainingDiscoverableCredentials = 0x14
    // CTAP 2.2
    case attestationFormats = 0x16, uvCountSinceLastPinEntry = 0x17, longTouchForReset = 0x18, encIdentifier = 0x19
    case transportsForReset = 0x1A, pinComplexityPolicy = 0x1B, pinComplexityPolicyURL = 0x1C
    case maxPINLength = 0x1D, encCredStoreState = 0x1E, authenticatorConfigCommands = 0x1F
}

/// authenticatorClientPIN's parameters (§6.5.5).
public enum ClientPINKey: Int, Sendable {
    case pinUvAuthProtocol = 0x01, subCommand = 0x02, keyAgreement = 0x03, pinUvAuthParam = 0x04
    case newPinEnc = 0x05, pinHashEnc = 0x06, permissions = 0x09, rpId = 0x0A
}

public enum ClientPINSubCommand: Int, Sendable {
    case getPINRetries = 0x01, getKeyAgreement = 0x02, setPIN = 0x03, changePIN = 0x04, getPINToken = 0x05
    case getPinUvAuthTokenUsingUvWithPermissions = 0x06, getUVRetries = 0x07
    case getPinUvAuthTokenUsingPinWithPermissions = 0x09
}

public enum ClientPINResponseKey: Int, Sendable {
    case keyAgreement = 0x01, pinUvAuthToken = 0x02, pinRetries = 0x03, powerCycleState = 0x04, uvRetries = 0x05
}

/// The request shape authenticatorCredentialManagement (§6.8) and authenticatorConfig (§6.11) share.
public enum SubcommandRequestKey: Int, Sendable {
    case subCommand = 0x01, subCommandParams = 0x02, pinUvAuthProtocol = 0x03, pinUvAuthParam = 0x04
}

public enum CredentialManagementSubCommand: Int, Sendable {
    case getCredsMetadata = 0x01, enumerateRPsBegin = 0x02, enumerateRPsGetNextRP = 0x03
    case enumerateCredentialsBegin = 0x04, enumerateCredentialsGetNextCredential = 0x05
    case deleteCredential = 0x06, updateUserInformation = 0x07
}

public enum CredentialManagementParamKey: Int, Sendable { case rpIDHash = 0x01, credentialID = 0x02, user = 0x03 }

public enum CredentialManagementResponseKey: Int, Sendable {
    case existingCount = 0x01, remainingCount = 0x02, rp = 0x03, rpIDHash = 0x04, totalRPs = 0x05, user = 0x06
    case credentialID = 0x07, publicKey = 0x08, totalCredentials = 0x09, credProtect = 0x0A, largeBlobKey = 0x0B
    case thirdPartyPayment = 0x0C
}

public enum ConfigSubCommand: Int, Sendable, CaseIterable { case enableEnterpriseAttestation = 0x01, toggleAlwaysUv = 0x02, setMinPINLength = 0x03 }

public enum SetMinPINLengthKey: Int, Sendable {
    case newMinPINLength = 0x01, minPinLengthRPIDs = 0x02, forceChangePin = 0x03
    /// CTAP 2.2.
    case pinComplexityPolicy = 0x04
}

/// authenticatorLargeBlobs (§6.10).
public enum LargeBlobsKey: Int, Sendable {
    case get = 0x01, set = 0x02, offset = 0x03, length = 0x04, pinUvAuthParam = 0x05, pinUvAuthProtocol = 0x06
}

public enum LargeBlobsResponseKey: Int, Sendable { case config = 0x01 }

/// The hmac-secret extension's input map (§12.5), also hmac-secret-mc's.
public enum HMACSecretKey: Int, Sendable { case keyAgreement = 1, saltEnc = 2, saltAuth = 3, pinUvAuthProtocol = 4 }
