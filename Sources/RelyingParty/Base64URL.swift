import Foundation

/// WebAuthn's binary-to-text encodings. Browsers' toJSON() writes unpadded base64url; the
/// Mosaic SDK wrapper writes padded standard base64 (`btoa`). Decoding accepts either.
public enum Base64URL {
    public static func encode(_ bytes: [UInt8]) -> String {
        Data(bytes).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    /// Padded standard base64, as `btoa` writes it.
    public static func encodeStandard(_ bytes: [UInt8]) -> String {
        Data(bytes).base64EncodedString()
    }

    /// Decodes base64url or standard base64, padded or not. Nil for anything else
    /// (whitespace, mixed garbage, impossible lengths).
    public static func decode(_ text: String) -> [UInt8]? {
        // Padding is all-or-nothing: it completes the last group of four.
        if text.hasSuffix("=") && text.utf8.count % 4 != 0 { return nil }
        var standard = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        if standard.hasSuffix("==") { standard.removeLast(2) } else if standard.hasSuffix("=") { standard.removeLast() }
        guard standard.count % 4 != 1 else { return nil }
        standard += String(repeating: "=", count: (4 - standard.count % 4) % 4)
        return Data(base64Encoded: standard).map { [UInt8]($0) }
    }
}
