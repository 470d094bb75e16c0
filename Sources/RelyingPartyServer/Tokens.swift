import Crypto
import Foundation
import JWTKit

/// The claims of every token the RP signs. `token_use` tells the kinds apart, so a client
/// token is never accepted where a user token is required (and the reverse).
public struct RPTokenClaims: JWTPayload, Equatable {
    public enum Use: String, Codable, Sendable { case client, user, id, refresh }

    public var iss: IssuerClaim
    public var sub: SubjectClaim
    public var aud: AudienceClaim
    public var exp: ExpirationClaim
    public var iat: IssuedAtClaim
    public var jti: IDClaim
    public var tokenUse: Use
    public var clientID: String
    public var sessionID: String?
    public var webauthnUsername: String?
    public var externalUserID: String?
    public var approvalData: [String: String]?
    public var amr: [String]?

    enum CodingKeys: String, CodingKey {
        case iss, sub, aud, exp, iat, jti, amr
        case tokenUse = "token_use", clientID = "client_id", sessionID = "session_id"
        case webauthnUsername = "webauthn_username", externalUserID = "external_user_id", approvalData = "approval_data"
    }

    public func verify(using algorithm: some JWTAlgorithm) async throws {
        try exp.verifyNotExpired()
    }
}

/// What `authenticate` and `/oidc/token` answer after a user proved a credential.
public struct TokenSet: Codable, Sendable, Equatable {
    public var access_token: String
    public var id_token: String
    public var refresh_token: String
    public var token_type: String
    public var expires_in: Int
    public var session_id: String
}

/// Signs and checks the RP's tokens: ES256 JWTs under a key kept in the RP's store, so tokens
/// survive a restart when the store is a file.
public actor TokenIssuer {
    public static let keyID = "vfido-rp-1"
    let keys = JWTKeyCollection()
    let issuer: String
    let lifetime: TimeInterval
    public let publicJWK: [String: String]

    public init(privateKeyPEM: String, issuer: String, lifetime: TimeInterval) async throws {
        let key = try ES256PrivateKey(pem: privateKeyPEM)
        await keys.add(ecdsa: key, kid: JWKIdentifier(string: Self.keyID))
        self.issuer = issuer
        self.lifetime = lifetime
        let parameters = key.parameters
        publicJWK = ["kty": "EC", "crv": "P-256", "alg": "ES256", "use": "sig", "kid": Self.keyID,
                     "x": parameters?.x ?? "", "y": parameters?.y ?? ""]
    }

    func claims(_ use: RPTokenClaims.Use, subject: String, clientID: String, now: Date) -> RPTokenClaims {
        RPTokenClaims(iss: .init(value: issuer), sub: .init(value: subject), aud: .init(value: [clientID]),
                      exp: .init(value: now.addingTimeInterval(lifetime)), iat: .init(value: now),
                      jti: .init(value: UUID().uuidString), tokenUse: use, clientID: clientID)
    }

    public func clientToken(clientID: String, now: Date = Date()) async throws -> String {
        try await keys.sign(claims(.client, subject: clientID, clientID: clientID, now: now))
    }

    /// access, id and refresh tokens for a user who just authenticated with a passkey.
    public func userTokens(user: RPUser, sessionID: String, approvalData: [String: String]?, now: Date = Date()) async throws -> TokenSet {
        var access = claims(.user, subject: user.id, clientID: user.clientID, now: now)
        access.sessionID = sessionID
        var id = claims(.id, subject: user.id, clientID: user.clientID, now: now)
        id.webauthnUsername = user.username
        id.externalUserID = user.externalUserID
        id.approvalData = approvalData
        id.sessionID = sessionID
        id.amr = ["webauthn"]
        var refresh = claims(.refresh, subject: user.id, clientID: user.clientID, now: now)
        refresh.sessionID = sessionID
        return TokenSet(access_token: try await keys.sign(access), id_token: try await keys.sign(id),
                        refresh_token: try await keys.sign(refresh), token_type: "Bearer",
                        expires_in: Int(lifetime), session_id: sessionID)
    }

    /// The claims of a valid, unexpired token of the wanted use; nil otherwise.
    public func verify(_ token: String, use: RPTokenClaims.Use) async -> RPTokenClaims? {
        guard let claims = try? await keys.verify(token, as: RPTokenClaims.self), claims.tokenUse == use,
              claims.iss.value == issuer else { return nil }
        return claims
    }
}
