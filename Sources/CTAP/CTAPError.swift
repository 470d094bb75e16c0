import CBOR
import CTAPWire

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

extension CTAPError {
    /// The one place where a CBOR decoding failure becomes a CTAP status (CTAP 2.1 §8).
    public init(_ error: CBORError) {
        self.init(.invalidCBOR, "malformed CBOR: \(error)")
    }
}
