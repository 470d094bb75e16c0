import Bytes
import CTAP
import Foundation
import HTTPAPI

/// The FIDO Alliance Credential Exchange Format (CXF, the "passkey" item of its data format):
/// how password managers move passkeys. Export writes one account with an item per credential;
/// `vfido creds import` reads the passkey items back.
enum CXF {
    struct Header: Encodable {
        var version = ["major": 1, "minor": 0]
        var exporterRpId = "vfido.invalid"
        var exporterDisplayName = "vfido"
        var timestamp: Int
        var accounts: [Account]
    }

    struct Account: Encodable {
        var id: String
        var username = ""
        var email = ""
        var items: [Item]
    }

    struct Item: Encodable {
        var id: String
        var creationAt: Int
        var title: String
        var scope: Scope
        var credentials: [Passkey]
    }

    struct Scope: Encodable {
        var urls: [String]
        var androidApps: [String] = []
    }

    struct Passkey: Encodable {
        var type = "passkey"
        var credentialId: String
        var rpId: String
        var username: String
        var userDisplayName: String
        var userHandle: String
        /// PKCS#8, base64url.
        var key: String
    }

    static func export(_ credentials: [StoredCredential]) throws -> Header {
        let items = try credentials.map { c in
            Item(id: Base64URL.encode(c.id), creationAt: Int(c.createdAt), title: c.rpId, scope: Scope(urls: ["https://\(c.rpId)"]),
                 credentials: [Passkey(
                    credentialId: Base64URL.encode(c.id), rpId: c.rpId, username: c.userName ?? "", userDisplayName: c.userDisplayName ?? "",
                    userHandle: Base64URL.encode(c.userId),
                    key: Base64URL.encode(try CredentialPrivateKey(algorithm: c.algorithm, raw: c.privateKey).pkcs8()))])
        }
        return Header(timestamp: Int(Date().timeIntervalSince1970),
                      accounts: [Account(id: Base64URL.encode(Array("vfido".utf8)), items: items)])
    }
}
