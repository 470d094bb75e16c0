import Foundation
/// A CTAP status byte (CTAP 2.1 §8.2). A struct rather than an enum so that codes this file
/// does not name still round-trip.
public struct CTAPStatus: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    public static let ok = CTAPStatus(rawValue: 0x00)
    public static let invalidCommand = CTAPStatus(rawValue: 0x01)
    public static let invalidParameter = CTAPStatus(rawValue: 0x02)
    public static let invalidLength = CTAPStatus(rawValue: 0x03)
    public static let invalidSeq = CTAPStatus(rawValue: 0x04)
    public static let timeout = CTAPStatus(rawValue: 0x05)
    public static let channelBusy = CTAPStatus(rawValue: 0x06)
    public static let lockRequired = CTAPStatus(rawValue: 0x0A)
    public static let invalidChannel = CTAPStatus(rawValue: 0x0B)
    public static let cborUnexpectedType = CTAPStatus(rawValue: 0x11)
    public static let invalidCBOR = CTAPStatus(rawValue: 0x12)
    public static let missingParameter = CTAPStatus(rawValue: 0x14)
    public static let limitExceeded = CTAPStatus(rawValue: 0x15)
    public static let fpDatabaseFull = CTAPStatus(rawValue: 0x17)
    public static let largeBlobStorageFull = CTAPStatus(rawValue: 0x18)
    public static let credentialExcluded = CTAPStatus(rawValue: 0x19)
    public static let processing = CTAPStatus(rawValue: 0x21)
    public static let invalidCredential = CTAPStatus(rawValue: 0x22)
    public static let userActionPending = CTAPStatus(rawValue: 0x23)
    public static let operationPending = CTAPStatus(rawValue: 0x24)
    public static let noOperations = CTAPStatus(rawValue: 0x25)
    public static let unsupportedAlgorithm = CTAPStatus(rawValue: 0x26)
    public static let operationDenied = CTAPStatus(rawValue: 0x27)
    public static let keyStoreFull = CTAPStatus(rawValue: 0x28)
    public static let unsupportedOption = CTAPStatus(rawValue: 0x2B)
    public static let invalidOption = CTAPStatus(rawValue: 0x2C)
    public static let keepaliveCancel = CTAPStatus(rawValue: 0x2D)
    public static let noCredentials = CTAPStatus(rawValue: 0x2E)
    public static let userActionTimeout = CTAPStatus(rawValue: 0x2F)
    public static let notAllowed = CTAPStatus(rawValue: 0x30)
    public static let pinInvalid = CTAPStatus(rawValue: 0x31)
    public static let pinBlocked = CTAPStatus(rawValue: 0x32)
    public static let pinAuthInvalid = CTAPStatus(rawValue: 0x33)
    public static let pinAuthBlocked = CTAPStatus(rawValue: 0x34)
    public static let pinNotSet = CTAPStatus(rawValue: 0x35)
    public static let puatRequired = CTAPStatus(rawValue: 0x36)
    public static let pinPolicyViolation = CTAPStatus(rawValue: 0x37)
    public static let requestTooLarge = CTAPStatus(rawValue: 0x39)
    public static let actionTimeout = CTAPStatus(rawValue: 0x3A)
    public static let upRequired = CTAPStatus(rawValue: 0x3B)
    public static let uvBlocked = CTAPStatus(rawValue: 0x3C)
    public static let integrityFailure = CTAPStatus(rawValue: 0x3D)
    public static let invalidSubcommand = CTAPStatus(rawValue: 0x3E)
    public static let uvInvalid = CTAPStatus(rawValue: 0x3F)
    public static let unauthorizedPermission = CTAPStatus(rawValue: 0x40)
    public static let other = CTAPStatus(rawValue: 0x7F)

    public var description: String {
        String(format: "0x%02X", rawValue)
    }
}

/// A failed CTAP operation: the status to answer with, and why (for the log).
/// Compares equal on the status only, so tests assert on what the wire shows.
public struct CTAPError: Error, Equatable, Sendable, CustomStringConvertible {
    public let status: CTAPStatus
    public let reason: String

    public init(_ status: CTAPStatus, _ reason: String = "") {
        self.status = status
        self.reason = reason
    }

    public static func == (a: CTAPError, b: CTAPError) -> Bool { a.status == b.status }
    public var description: String { reason.isEmpty ? "CTAP \(status)" : "CTAP \(status): \(reason)" }
}

import CBOR

extension CTAPError {
    /// The one place where a CBOR decoding failure becomes a CTAP status (CTAP 2.1 §8).
    public init(_ error: CBORError) {
        self.init(.invalidCBOR, "malformed CBOR: \(error)")
    }
}
