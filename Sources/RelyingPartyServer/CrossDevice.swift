import Foundation
import HTTPAPI
import RelyingParty

/// A cross-device flow: the access device (desktop) opens a ticket, the authenticating device
/// (phone, or here any WebAuthn client) attaches, runs the ceremony, and the access device polls
/// the status: pending -> scanned -> success | error | timeout | aborted.
struct CrossDeviceTicket: Codable, Sendable {
    enum Status: String, Codable, Sendable { case pending, scanned, success, error, timeout, aborted }
    var kind: CeremonySession.Kind
    var clientID: String
    var username: String?
    var externalUserID: String?
    var approvalData: [String: String]?
    var status: Status
    var startedAt: Date
    var expiresAt: Date
    var sessionID: String?
    var credentialID: String?

    var isOpen: Bool { status == .pending || status == .scanned }
}

public struct CrossDeviceStatus: Codable, Sendable, Equatable {
    public var status: String
    public var session_id: String?
}

public struct AttachDeviceResult: Codable, Sendable, Equatable {
    public var status: String
    public var started_at: String
    public var approval_data: [String: String]?
}

extension RPService {
    static let ticketKind = "cross_device_ticket"

    func openTicket(_ ticket: CrossDeviceTicket) throws(APIError) -> String {
        try run {
            let id = Self.randomID()
            try store.put(Self.ticketKind, id: id, ticket, expires: ticket.expiresAt.addingTimeInterval(Self.recordGrace))
            return id
        }
    }

    func newTicket(_ kind: CeremonySession.Kind, clientID: String, username: String?, externalUserID: String? = nil,
                   approvalData: [String: String]? = nil) -> CrossDeviceTicket {
        CrossDeviceTicket(kind: kind, clientID: clientID, username: username, externalUserID: externalUserID,
                          approvalData: approvalData, status: .pending, startedAt: now(),
                          expiresAt: now().addingTimeInterval(configuration.crossDeviceTimeout))
    }

    /// The ticket with its timeout applied (an open ticket past its expiry reads `timeout`).
    func ticket(_ id: String?) throws -> CrossDeviceTicket {
        guard let id, !id.isEmpty else { throw APIError.invalidRequest("cross_device_ticket_id is required") }
        guard let found = try store.get(Self.ticketKind, id: id, as: CrossDeviceTicket.self) else { throw APIError.ticketNotFound() }
        var ticket = found.0
        if ticket.isOpen && now() > ticket.expiresAt {
            ticket.status = .timeout
            try save(id, ticket)
        }
        return ticket
    }

    func save(_ id: String, _ ticket: CrossDeviceTicket) throws {
        try store.put(Self.ticketKind, id: id, ticket, expires: ticket.expiresAt.addingTimeInterval(Self.recordGrace))
    }

    func openTicketOrFail(_ id: String?, kind: CeremonySession.Kind) throws -> CrossDeviceTicket {
        let ticket = try ticket(id)
        guard ticket.kind == kind else {
            throw APIError(.badRequest, "cross_device_ticket_kind_mismatch", "the ticket is for \(ticket.kind.rawValue)")
        }
        guard ticket.isOpen else {
            throw APIError(.badRequest, "cross_device_ticket_closed", "the cross-device flow is already \(ticket.status.rawValue)")
        }
        return ticket
    }

    // MARK: init (access device)

    func crossDeviceRegisterInit(user: RPUser) throws(APIError) -> String {
        try openTicket(newTicket(.registration, clientID: user.clientID, username: user.username, externalUserID: user.externalUserID))
    }

    func crossDeviceExternalRegisterInit(clientID: String, externalUserID: String?, username: String?) throws(APIError) -> String {
        guard let externalUserID, !externalUserID.isEmpty else { throw APIError.invalidRequest("external_user_id is required") }
        let username = try Self.validateUsername(username)
        return try openTicket(newTicket(.registration, clientID: clientID, username: username, externalUserID: externalUserID))
    }

    func crossDeviceAuthenticateInit(clientID: String, username: String?, approvalData: [String: String]?) throws(APIError) -> String {
        try Self.validateApprovalData(approvalData)
        if let username, !username.isEmpty {
            let known: Bool = try run { try store.user(clientID: clientID, username: username) != nil }
            guard known else { throw APIError(.notFound, "user_not_found", "no user \"\(username)\" for client \(clientID)") }
        }
        return try openTicket(newTicket(.authentication, clientID: clientID, username: username, approvalData: approvalData))
    }

    // MARK: authenticating device

    /// Moves an open ticket to `status` (attach: scanned; abort: aborted).
    func move(_ id: String?, to status: CrossDeviceTicket.Status) throws(APIError) -> CrossDeviceTicket {
        try run {
            var ticket = try ticket(id)
            guard ticket.isOpen else {
                throw APIError(.badRequest, "cross_device_ticket_closed", "the cross-device flow is already \(ticket.status.rawValue)")
            }
            ticket.status = status
            try save(id ?? "", ticket)
            return ticket
        }
    }

    func attachDevice(_ id: String?) throws(APIError) -> AttachDeviceResult {
        let ticket = try move(id, to: .scanned)
        return AttachDeviceResult(status: ticket.status.rawValue, started_at: ISO8601DateFormatter().string(from: ticket.startedAt),
                                  approval_data: ticket.approvalData)
    }

    func crossDeviceStatus(_ id: String?) throws(APIError) -> CrossDeviceStatus {
        try run {
            let ticket = try ticket(id)
            return CrossDeviceStatus(status: ticket.status.rawValue, session_id: ticket.sessionID)
        }
    }

    func crossDeviceAbort(_ id: String?) throws(APIError) -> CrossDeviceStatus {
        CrossDeviceStatus(status: try move(id, to: .aborted).status.rawValue, session_id: nil)
    }

    func crossDeviceRegisterStart(_ id: String?) throws(APIError) -> (String, CreationOptions) {
        let ticket: CrossDeviceTicket = try run { try openTicketOrFail(id, kind: .registration) }
        return try startRegistration(clientID: ticket.clientID, username: ticket.username ?? "", displayName: nil,
                                     externalUserID: ticket.externalUserID, flow: .crossDevice, flowID: id)
    }

    func crossDeviceAuthenticateStart(_ id: String?) throws(APIError) -> (String, RequestOptions) {
        let ticket: CrossDeviceTicket = try run { try openTicketOrFail(id, kind: .authentication) }
        return try startAuthentication(clientID: ticket.clientID, username: ticket.username, approvalData: ticket.approvalData,
                                       flow: .crossDevice, flowID: id)
    }

    /// The ticket a cross-device ceremony response belongs to, from its webauthn session.
    func ticketID(for credential: SubmittedCredential, sessionID: String?, kind: CeremonySession.Kind) throws(APIError) -> String {
        try run {
            let (_, session) = try session(for: credential, named: sessionID, kind: kind, flow: .crossDevice)
            guard let id = session.flowID else { throw APIError.ticketNotFound() }
            _ = try openTicketOrFail(id, kind: kind)
            return id
        }
    }

    /// Marks the ticket finished: success with what was produced, or error when the ceremony
    /// failed verification (the error is still thrown to the caller).
    func finish<T: Sendable>(ticket id: String, _ body: () throws(APIError) -> T, update: (inout CrossDeviceTicket, T) -> Void) throws(APIError) -> T {
        do {
            let result = try body()
            try run {
                var ticket = try ticket(id)
                ticket.status = .success
                update(&ticket, result)
                try save(id, ticket)
            }
            return result
        } catch {
            try? run {
                var ticket = try ticket(id)
                if ticket.isOpen {
                    ticket.status = .error
                    try save(id, ticket)
                }
            }
            throw error
        }
    }

    func crossDeviceRegister(_ credential: SubmittedCredential, sessionID: String?) throws(APIError) -> (RPUser, RPCredential) {
        let id = try ticketID(for: credential, sessionID: sessionID, kind: .registration)
        return try finish(ticket: id, { () throws(APIError) in
            try completeRegistration(credential, sessionID: sessionID, flow: .crossDevice, flowID: id)
        }, update: { ticket, result in ticket.credentialID = Base64URL.encode(result.1.id) })
    }

    func crossDeviceAuthenticate(_ credential: SubmittedCredential, sessionID: String?) throws(APIError) -> Authenticated {
        let id = try ticketID(for: credential, sessionID: sessionID, kind: .authentication)
        return try finish(ticket: id, { () throws(APIError) in
            try completeAuthentication(credential, sessionID: sessionID, flow: .crossDevice, flowID: id)
        }, update: { ticket, result in ticket.sessionID = result.sessionID })
    }
}
