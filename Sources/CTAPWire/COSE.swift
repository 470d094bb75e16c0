/// COSE_Key labels and values (RFC 9052 §7, RFC 9053, RFC 8230) as CTAP2 carries them.
public enum COSEKeyLabel: Int, Sendable {
    case kty = 1, alg = 3
    /// EC2 and OKP: the curve; RSA: the modulus n.
    case crv = -1
    /// EC2 and OKP: the x coordinate; RSA: the public exponent e.
    case x = -2
    /// EC2: the y coordinate.
    case y = -3
}

public enum COSEKeyType: Int, Sendable { case okp = 1, ec2 = 2, rsa = 3 }

public enum COSECurve: Int, Sendable { case p256 = 1, p384 = 2, ed25519 = 6 }

/// The COSE algorithm identifiers CTAP2 uses (IANA COSE registry).
public enum COSEAlgorithmIdentifier: Int, Sendable {
    case es256 = -7, edDSA = -8, es384 = -35, rs256 = -257
    /// The key agreement key's algorithm (CTAP 2.1 §6.5.6).
    case ecdhEsHkdf256 = -25
}
