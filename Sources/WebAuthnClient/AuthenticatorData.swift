import CBOR
import CTAPWire
import Crypto

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

/// A COSE public key as SubjectPublicKeyInfo DER (what `getPublicKey()` returns), written by
/// swift-crypto; nil for key types a browser would not know either.
enum SubjectPublicKeyInfo {
    static func der(_ key: CBORValue) -> [UInt8]? {
        let x = key[COSEKeyLabel.x]?.bytesValue ?? [], y = key[COSEKeyLabel.y]?.bytesValue ?? []
        switch (key[COSEKeyLabel.kty]?.intValue, key[COSEKeyLabel.alg]?.intValue, key[COSEKeyLabel.crv]?.intValue) {
        case (COSEKeyType.ec2.rawValue, COSEAlgorithmIdentifier.es256.rawValue, COSECurve.p256.rawValue):
            return (try? P256.Signing.PublicKey(x963Representation: [0x04] + x + y)).map { Array($0.derRepresentation) }
        case (COSEKeyType.ec2.rawValue, COSEAlgorithmIdentifier.es384.rawValue, COSECurve.p384.rawValue):
            return (try? P384.Signing.PublicKey(x963Representation: [0x04] + x + y)).map { Array($0.derRepresentation) }
        case (COSEKeyType.okp.rawValue, COSEAlgorithmIdentifier.edDSA.rawValue, COSECurve.ed25519.rawValue):
            return (try? Curve25519.Signing.PublicKey(rawRepresentation: x)).map { Array($0.derRepresentation) }
        default:
            return nil  // RSA: toJSON may omit publicKey; the attestation object still carries the key
        }
    }
}
