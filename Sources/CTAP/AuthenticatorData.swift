import CTAPWire

/// Authenticator data (WebAuthn L3 §6.1), built once and kept verbatim: it is what gets signed.
public struct AuthenticatorData: Sendable {
    public struct Flags: OptionSet, Sendable {
        public let rawValue: UInt8
        public init(rawValue: UInt8) { self.rawValue = rawValue }
        public static let userPresent = Flags(rawValue: 0x01)
        public static let userVerified = Flags(rawValue: 0x04)
        public static let backupEligible = Flags(rawValue: 0x08)
        public static let backedUp = Flags(rawValue: 0x10)
        public static let attestedCredentialData = Flags(rawValue: 0x40)
        public static let extensionData = Flags(rawValue: 0x80)

        /// BE, and BS only with BE (WebAuthn L3 §6.1.3: a credential that cannot be backed up is not).
        mutating func insertBackup(eligible: Bool, state: Bool) {
            if eligible { insert(.backupEligible) }
            if eligible && state { insert(.backedUp) }
        }
    }

    public let bytes: [UInt8]

    public init(rpIdHash: [UInt8], flags: Flags, signCount: UInt32,
                attestedCredential: (aaguid: [UInt8], credentialId: [UInt8], publicKey: [UInt8])? = nil,
                extensions: [UInt8]? = nil) {
        var flags = flags
        if attestedCredential != nil { flags.insert(.attestedCredentialData) }
        if extensions != nil { flags.insert(.extensionData) }
        var out = rpIdHash
        out.append(flags.rawValue)
        out.append(contentsOf: [24, 16, 8, 0].map { UInt8(truncatingIfNeeded: signCount >> $0) })
        if let credential = attestedCredential {
            out.append(contentsOf: credential.aaguid)
            out.append(UInt8(credential.credentialId.count >> 8))
            out.append(UInt8(credential.credentialId.count & 0xFF))
            out.append(contentsOf: credential.credentialId)
            out.append(contentsOf: credential.publicKey)
        }
        if let extensions { out.append(contentsOf: extensions) }
        bytes = out
    }
}
