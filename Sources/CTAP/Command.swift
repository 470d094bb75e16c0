import CBOR
import CTAPWire

/// One CTAP2 request, parsed once from its bytes: the command byte, then its CBOR parameters
/// decoded and checked member by member in the order the specification lists them (the order of
/// errors is observable). Each command's request, logic and response live in Commands/.
enum Command {
    case makeCredential(MakeCredentialRequest)
    case getAssertion(GetAssertionRequest)
    case getInfo
    case clientPIN(ClientPINRequest)
    case reset
    case getNextAssertion
    /// authenticatorCredentialManagement, also as the 2.1-PRE command 0x41.
    case credentialManagement(CredentialManagementRequest)
    case selection
    case largeBlobs(LargeBlobsRequest)
    case config(ConfigRequest)

    init(_ command: CTAPCommand, parameters body: ArraySlice<UInt8>) throws(CTAPError) {
        switch command {
        case .makeCredential: self = .makeCredential(try MakeCredentialRequest(Parameters(body)))
        case .getAssertion: self = .getAssertion(try GetAssertionRequest(Parameters(body)))
        case .getInfo: self = .getInfo
        case .clientPIN: self = .clientPIN(try ClientPINRequest(Parameters(body)))
        case .reset: self = .reset
        case .getNextAssertion: self = .getNextAssertion
        case .credentialManagement, .credentialManagementPreview:
            self = .credentialManagement(try CredentialManagementRequest(Parameters(body), command: "credentialManagement"))
        case .selection: self = .selection
        case .largeBlobs: self = .largeBlobs(try LargeBlobsRequest(Parameters(body)))
        case .config: self = .config(try ConfigRequest(Parameters(body), command: "config"))
        case .bioEnrollment, .bioEnrollmentPreview: throw CTAPError(.invalidCommand, "command \(command) is not supported")
        }
    }
}

/// A command's successful answer: the CBOR map after the status byte.
protocol CommandResponse {
    var cbor: CBORValue { get }
    /// What goes on the wire; `cbor` encoded, unless the answer was kept already encoded.
    var encoded: [UInt8] { get }
}

extension CommandResponse {
    var encoded: [UInt8] { cbor.encoded }
}
