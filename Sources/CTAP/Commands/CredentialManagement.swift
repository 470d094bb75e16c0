import CBOR
import CTAPWire
import Foundation

/// authenticatorCredentialManagement (CTAP 2.1 §6.8), also answered as the 2.1-PRE command 0x41.
typealias CredentialManagementRequest = SubcommandRequest<CredentialManagementSubCommand>

extension SubcommandRequest where SubCommand == CredentialManagementSubCommand {
    typealias ParamKey = CredentialManagementParamKey

    func param(_ key: ParamKey) throws(CTAPError) -> CBORValue {
        guard let value = params?[key] else { throw CTAPError(.missingParameter, "subCommandParams \(key)") }
        return value
    }
}

/// What enumerateRPsGetNextRP / enumerateCredentialsGetNextCredential continue with.
/// An enumeration in progress: the list and the position of its next entry (an index, so a
/// getNext neither copies nor shifts the list).
enum CredentialEnumeration {
    case rps([ResidentRelyingParty], next: Int)
    case credentials([StoredCredential], next: Int)
}

/// What a credential-management subcommand answers; members it does not set are absent.
struct CredentialManagementResponse: CommandResponse {
    typealias Key = CredentialManagementResponseKey

    var existingCount: Int?
    var remainingCount: Int?
    var rp: CBORValue?
    var rpIDHash: [UInt8]?
    var totalRPs: Int?
    var user: CBORValue?
    var credentialID: [UInt8]?
    var publicKey: CBORValue?
    var totalCredentials: Int?
    var credProtect: UInt8?
    var largeBlobKey: [UInt8]?
    var thirdPartyPayment: Bool?

    var cbor: CBORValue {
        .keyed([
            (Key.existingCount, existingCount.map(CBORValue.int)),
            (.remainingCount, remainingCount.map(CBORValue.int)),
            (.rp, rp),
            (.rpIDHash, rpIDHash.map(CBORValue.bytes)),
            (.totalRPs, totalRPs.map(CBORValue.int)),
            (.user, user),
            (.credentialID, credentialID.map { .textMap([("id", .bytes($0)), ("type", "public-key")]) }),
            (.publicKey, publicKey),
            (.totalCredentials, totalCredentials.map(CBORValue.int)),
            (.credProtect, credProtect.map { .int(Int($0)) }),
            (.largeBlobKey, largeBlobKey.map(CBORValue.bytes)),
            (.thirdPartyPayment, thirdPartyPayment.map(CBORValue.bool)),
        ])
    }
}

extension Authenticator {
    func credentialManagement(_ request: CredentialManagementRequest) throws(CTAPError) -> CredentialManagementResponse? {
        switch request.subCommand {
        case .enumerateRPsGetNextRP, .enumerateCredentialsGetNextCredential:
            return try nextEnumerated(request.subCommand)
        default:
            pendingEnumeration = nil
        }
        let grant = try authorizeCredentialManagement(request)
        if grant.readOnly && (request.subCommand == .deleteCredential || request.subCommand == .updateUserInformation) {
            throw CTAPError(.pinAuthInvalid, "the persistent token may only read")
        }
        // Each subcommand reads only what it answers: with 100k passkeys, loading (and
        // decrypting) all of them per subcommand made an enumeration quadratic.
        switch request.subCommand {
        case .getCredsMetadata:
            guard grant.boundRPID == nil else { throw CTAPError(.pinAuthInvalid, "token is bound to an RP") }
            let count = try storeCall { try store.residentCredentialCount() }
            return CredentialManagementResponse(existingCount: count, remainingCount: max(0, config.maxResidentCredentials - count))
        case .enumerateRPsBegin:
            guard grant.boundRPID == nil else { throw CTAPError(.pinAuthInvalid, "token is bound to an RP") }
            let rps = try storeCall { try store.residentRelyingParties() }
            guard let first = rps.first else { throw CTAPError(.noCredentials, "no discoverable credentials") }
            if rps.count > 1 { pendingEnumeration = .rps(rps, next: 1) }
            return rpEntry(first, total: rps.count)
        case .enumerateCredentialsBegin:
            let rpIdHash = try request.param(.rpIDHash).expectBytes("rpIDHash")
            let credentials = try storeCall { try store.residentCredentials(rpIdHash: rpIdHash) }  // newest first
            guard let first = credentials.first else { throw CTAPError(.noCredentials, "no credentials for that RP") }
            if let bound = grant.boundRPID, bound != first.rpId { throw CTAPError(.pinAuthInvalid, "token is bound to \(bound)") }
            if credentials.count > 1 { pendingEnumeration = .credentials(credentials, next: 1) }
            return try credentialEntry(first, total: credentials.count)
        case .deleteCredential:
            let credential = try storedCredential(named: request.param(.credentialID))
            try storeCall { try store.deleteCredential(id: credential.id) }
            emit(.credentialDeleted(CredentialSummary(credential, viaControl: false)))
            return nil
        case .updateUserInformation:
            var credential = try storedCredential(named: request.param(.credentialID))
            let user = try request.param(.user)
            _ = try user.expectMap("user")
            guard let id = user[text: "id"] else { throw CTAPError(.missingParameter, "user.id") }
            guard try id.expectBytes("user.id") == credential.userId else {
                throw CTAPError(.invalidParameter, "user.id differs from the credential's")
            }
            credential.userName = try user.optionalText("name")
            credential.userDisplayName = try user.optionalText("displayName")
            try storeCall { try store.saveCredential(credential) }
            emit(.credentialUpdated(CredentialSummary(credential, viaControl: false)))
            return nil
        case .enumerateRPsGetNextRP, .enumerateCredentialsGetNextCredential:
            return nil  // handled above
        }
    }

    /// What a request's token may do: the session's token with the `cm` permission (perhaps
    /// bound to an RP), or CTAP 2.2's persistent token, which reads only.
    struct CredentialManagementGrant {
        var boundRPID: String?
        var readOnly: Bool
    }

    /// pinUvAuthParam over the subcommand and its parameters, by a token with the `cm`
    /// permission or by the persistent token (pcmr).
    func authorizeCredentialManagement(_ request: CredentialManagementRequest) throws(CTAPError) -> CredentialManagementGrant {
        guard let param = request.pinUvAuthParam else { throw CTAPError(.puatRequired, "credential management needs a pinUvAuthToken") }
        do {
            try verifyTokenParam(param, protocol: request.pinUvAuthProtocol, message: request.subCommandAndParams,
                                 permission: .credentialManagement)
            return CredentialManagementGrant(boundRPID: pinSession.permissionsRPID, readOnly: false)
        } catch {
            guard config.features.hasCTAP2_2Additions, let persistent = pin.persistentToken,
                  let proto = try? pinUvAuthProtocol(request.pinUvAuthProtocol),
                  proto.verify(key: persistent, request.subCommandAndParams, signature: param) else { throw error }
            return CredentialManagementGrant(boundRPID: nil, readOnly: true)
        }
    }

    /// The stored credential a PublicKeyCredentialDescriptor names, within the token's RP.
    func storedCredential(named descriptor: CBORValue) throws(CTAPError) -> StoredCredential {
        let id = try CredentialDescriptor(descriptor).id
        guard let credential = try storeCall({ try store.storedCredential(id: id) }), credential.discoverable else {
            throw CTAPError(.noCredentials, "no such credential")
        }
        if let bound = pinSession.permissionsRPID, bound != credential.rpId { throw CTAPError(.pinAuthInvalid, "token is bound to \(bound)") }
        return credential
    }

    func nextEnumerated(_ sub: CredentialManagementSubCommand) throws(CTAPError) -> CredentialManagementResponse {
        switch (pendingEnumeration, sub) {
        case (.rps(let list, let next), .enumerateRPsGetNextRP):
            pendingEnumeration = next + 1 < list.count ? .rps(list, next: next + 1) : nil
            return rpEntry(list[next], total: nil)
        case (.credentials(let list, let next), .enumerateCredentialsGetNextCredential):
            pendingEnumeration = next + 1 < list.count ? .credentials(list, next: next + 1) : nil
            return try credentialEntry(list[next], total: nil)
        default:
            pendingEnumeration = nil
            throw CTAPError(.notAllowed, "nothing to continue")
        }
    }

    func rpEntry(_ rp: ResidentRelyingParty, total: Int?) -> CredentialManagementResponse {
        CredentialManagementResponse(rp: .textMap([("id", .text(rp.rpId)), ("name", rp.rpName.map(CBORValue.text))]),
                                     rpIDHash: rp.rpIdHash, totalRPs: total)
    }

    func credentialEntry(_ c: StoredCredential, total: Int?) throws(CTAPError) -> CredentialManagementResponse {
        CredentialManagementResponse(
            user: c.userEntity(includeIdentifyingFields: true), credentialID: c.id,
            publicKey: try CredentialPrivateKey(algorithm: c.algorithm, raw: c.privateKey).publicKeyCOSE(),
            totalCredentials: total, credProtect: c.credProtect, largeBlobKey: credentialSecrets.largeBlobKey(credentialId: c.id),
            // The flag lives in the sealed ID; a credential the control API added has none.
            thirdPartyPayment: config.features.effectiveExtensions.contains("thirdPartyPayment")
                ? sealer.open(c.id, rpIdHash: c.rpIdHash)?.thirdPartyPayment ?? false : nil)
    }
}
