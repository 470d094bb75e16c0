import CBOR

/// Authenticator data (WebAuthn L3 §6.1), parsed here independently of the key's own encoder.
public struct AuthenticatorData: Sendable, Equatable {
    public struct Flags: OptionSet, Sendable, Hashable {
        public let rawValue: UInt8
        public init(rawValue: UInt8) { self.rawValue = rawValue }
        public static let userPresent = Flags(rawValue: 0x01)
        public static let userVerified = Flags(rawValue: 0x04)
        public static let backupEligible = Flags(rawValue: 0x08)
        public static let backedUp = Flags(rawValue: 0x10)
        public static let attestedCredentialData = Flags(rawValue: 0x40)
        public static let extensionData = Flags(rawValue: 0x80)
    }

    public struct AttestedCredential: Sendable, Equatable {
        public let aaguid: [UInt8]
        public let credentialID: [UInt8]
        /// The COSE_Key exactly as the authenticator wrote it (what the RP stores).
        public let publicKeyBytes: [UInt8]
        public let publicKey: COSEPublicKey
    }

    public let raw: [UInt8]
    public let rpIdHash: [UInt8]
    public let flags: Flags
    public let signCount: UInt32
    public let attestedCredential: AttestedCredential?
    public let extensions: CBORValue?

    /// Credential IDs are at most 1023 bytes (L3 §5.8.3).
    public static let maxCredentialIDLength = 1023

    public init(_ bytes: [UInt8]) throws(WebAuthnError) {
        func fail(_ why: String) -> WebAuthnError { WebAuthnError(.invalidAuthenticatorData, why) }
        guard bytes.count >= 37 else { throw fail("authenticator data is \(bytes.count) bytes, under the 37-byte minimum") }
        raw = bytes
        rpIdHash = Array(bytes[0..<32])
        flags = Flags(rawValue: bytes[32])
        signCount = bytes[33..<37].reduce(0) { $0 << 8 | UInt32($1) }
        var offset = 37
        if flags.contains(.attestedCredentialData) {
            guard bytes.count >= offset + 18 else { throw fail("attested credential data is truncated") }
            let aaguid = Array(bytes[offset..<offset + 16])
            let idLength = Int(bytes[offset + 16]) << 8 | Int(bytes[offset + 17])
            offset += 18
            guard idLength > 0, idLength <= Self.maxCredentialIDLength else { throw fail("credential ID length \(idLength) is out of range") }
            guard bytes.count >= offset + idLength else { throw fail("credential ID is truncated") }
            let credentialID = Array(bytes[offset..<offset + idLength])
            offset += idLength
            let keyValue: CBORValue, used: Int
            do {
                (keyValue, used) = try CBORReader.decodePrefix(Array(bytes[offset...]), limits: CBORLimits(maxDepth: 2, maxItems: 32))
            } catch {
                throw fail("credential public key is not valid CBOR (\(error))")
            }
            let publicKey = try COSEPublicKey(keyValue)
            attestedCredential = AttestedCredential(aaguid: aaguid, credentialID: credentialID,
                                                    publicKeyBytes: Array(bytes[offset..<offset + used]), publicKey: publicKey)
            offset += used
        } else {
            attestedCredential = nil
        }
        if flags.contains(.extensionData) {
            guard offset < bytes.count else { throw fail("ED flag set but no extensions follow") }
            do {
                let (value, used) = try CBORReader.decodePrefix(Array(bytes[offset...]), limits: CBORLimits(maxDepth: 4, maxItems: 256))
                guard value.mapValue != nil else { throw fail("extensions are not a CBOR map") }
                extensions = value
                offset += used
            } catch let error as WebAuthnError {
                throw error
            } catch {
                throw fail("extensions are not valid CBOR (\(error))")
            }
        } else {
            extensions = nil
        }
        guard offset == bytes.count else { throw fail("\(bytes.count - offset) unexpected bytes after the authenticator data") }
    }
}
