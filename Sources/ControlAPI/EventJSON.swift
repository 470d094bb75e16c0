import Bytes
import CTAP
import Foundation
import VirtualKey

/// A KeyEvent as the event stream sends it: `{"sequence", "time", "key", "type", ...fields}`,
/// with CDP's event names for the credential lifecycle.
struct EventJSON: Encodable {
    var sequence: Int
    var time: String
    var key: Int
    var type: String
    var credentialId: String?
    var rpId: String?
    var userHandle: String?
    var userName: String?
    var isResidentCredential: Bool?
    var signCount: UInt32?
    var source: String?
    var promptId: Int?
    var operation: String?
    var verification: Bool?
    var result: String?
    var answeredBy: String?
    var command: String?
    var status: String?
    var milliseconds: Double?

    init(_ event: KeyEvent) {
        sequence = event.sequence
        time = ControlJSON.time(event.time)
        key = event.key
        switch event.kind {
        case .authenticator(let e):
            switch e {
            case .credentialAdded(let c): type = "credentialAdded"; describe(c)
            case .credentialAsserted(let c): type = "credentialAsserted"; describe(c)
            case .credentialUpdated(let c): type = "credentialUpdated"; describe(c)
            case .credentialDeleted(let c): type = "credentialDeleted"; describe(c)
            case .pinSet: type = "pinSet"
            case .pinChanged: type = "pinChanged"
            case .reset: type = "reset"
            }
        case .promptStarted(let id, let request):
            type = "promptStarted"
            prompt(id, request)
        case .promptAnswered(let id, let request, let outcome, let by):
            type = "promptAnswered"
            prompt(id, request)
            result = "\(outcome)"
            answeredBy = by
        case .command(let name, let outcome, let ms):
            type = "command"
            command = name
            status = outcome
            milliseconds = (ms * 10).rounded() / 10
        case .plugged: type = "plugged"
        case .unplugged: type = "unplugged"
        case .powerCycled: type = "powerCycled"
        case .added: type = "keyAdded"
        case .removed: type = "keyRemoved"
        }
    }

    private mutating func describe(_ c: CredentialSummary) {
        credentialId = Base64URL.encode(c.id)
        rpId = c.rpId
        userHandle = c.userId.flatMap { $0.isEmpty ? nil : Base64URL.encode($0) }
        userName = c.userName
        isResidentCredential = c.discoverable
        signCount = c.signCount
        source = c.viaControl ? "control" : "ctap"
    }

    private mutating func prompt(_ id: Int, _ request: UserPresenceRequest) {
        promptId = id
        operation = request.operation.rawValue
        rpId = request.rpId
        userName = request.userName
        verification = request.verification
    }
}
