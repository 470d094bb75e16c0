/// Why a WebAuthn response was refused. `code` is stable and machine-readable (the HTTP API's
/// `error_code`); `message` says what exactly was wrong, for the person reading a test log.
public struct WebAuthnError: Error, Equatable, Sendable, CustomStringConvertible {
    public enum Code: String, Sendable, CaseIterable {
        case invalidEncoding = "invalid_encoding"
        case invalidClientData = "invalid_client_data"
        case clientDataTypeMismatch = "client_data_type_mismatch"
        case challengeMismatch = "challenge_mismatch"
        case originNotAllowed = "origin_not_allowed"
        case crossOriginNotAllowed = "cross_origin_not_allowed"
        case invalidAuthenticatorData = "invalid_authenticator_data"
        case rpIdHashMismatch = "rp_id_hash_mismatch"
        case userNotPresent = "user_not_present"
        case userNotVerified = "user_not_verified"
        case invalidBackupFlags = "invalid_backup_flags"
        case algorithmNotAllowed = "algorithm_not_allowed"
        case invalidPublicKey = "invalid_public_key"
        case invalidAttestation = "invalid_attestation"
        case unsupportedAttestationFormat = "unsupported_attestation_format"
        case attestationSignatureInvalid = "attestation_signature_invalid"
        case attestationUntrusted = "attestation_untrusted"
        case aaguidMismatch = "aaguid_mismatch"
        case credentialNotAllowed = "credential_not_allowed"
        case userHandleMismatch = "user_handle_mismatch"
        case signatureInvalid = "signature_invalid"
        case signCountRegression = "sign_count_regression"
    }

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code.rawValue): \(message)" }
}
