import CBOR

/// The parts of authenticator data (L3 §6.1) a client needs: the new credential's ID and public
/// key, and the extension outputs.
struct ParsedAuthenticatorData {
    var flags: UInt8
    var credentialID: [UInt8]?
    var credentialPublicKey: CBORValue?
    var extensions: CBORValue?

    init(_ bytes: [UInt8]) throws {
        let malformed = WebAuthnClientError(.unknown, "the key's authenticator data is malformed")
        guard bytes.count >= 37 else { throw malformed }
        flags = bytes[32]
        var offset = 37
        if flags & 0x40 != 0 {
            guard bytes.count >= offset + 18 else { throw malformed }
            let length = Int(bytes[offset + 16]) << 8 | Int(bytes[offset + 17])
            offset += 18
            guard bytes.count >= offset + length else { throw malformed }
            credentialID = Array(bytes[offset..<offset + length])
            offset += length
            guard let (key, used) = try? CBORReader.decodePrefix(Array(bytes[offset...])) else { throw malformed }
            credentialPublicKey = key
            offset += used
        }
        if flags & 0x80 != 0 {
            guard let (value, used) = try? CBORReader.decodePrefix(Array(bytes[offset...])) else { throw malformed }
            extensions = value
            offset += used
        }
        guard offset == bytes.count else { throw malformed }
    }
}

/// A COSE public key as SubjectPublicKeyInfo DER (what `getPublicKey()` returns); nil for key
/// types a browser would not know either.
enum SubjectPublicKeyInfo {
    static func der(_ key: CBORValue) -> [UInt8]? {
        switch (key[int: 1]?.intValue, key[int: 3]?.intValue, key[int: -1]?.intValue) {
        case (2, -7, 1):  // EC2 P-256
            guard let x = key[int: -2]?.bytesValue, let y = key[int: -3]?.bytesValue, x.count == 32, y.count == 32 else { return nil }
            return [0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x02, 0x01, 0x06, 0x08, 0x2A, 0x86, 0x48,
                    0xCE, 0x3D, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00, 0x04] + x + y
        case (2, -35, 2):  // EC2 P-384
            guard let x = key[int: -2]?.bytesValue, let y = key[int: -3]?.bytesValue, x.count == 48, y.count == 48 else { return nil }
            return [0x30, 0x76, 0x30, 0x10, 0x06, 0x07, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x02, 0x01, 0x06, 0x05, 0x2B, 0x81, 0x04,
                    0x00, 0x22, 0x03, 0x62, 0x00, 0x04] + x + y
        case (1, -8, 6):  // OKP Ed25519
            guard let x = key[int: -2]?.bytesValue, x.count == 32 else { return nil }
            return [0x30, 0x2A, 0x30, 0x05, 0x06, 0x03, 0x2B, 0x65, 0x70, 0x03, 0x21, 0x00] + x
        default:
            return nil  // RSA: toJSON may omit publicKey; the attestation object still carries the key
        }
    }
}
