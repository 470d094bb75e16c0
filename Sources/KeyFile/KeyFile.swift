import Crypto
import CryptoExtras
import Foundation

/// What protects a key file besides its 0600 mode.
public enum KeyProtection: Sendable, Equatable {
    /// The key lies in clear: whoever reads the file has it.
    case fileMode
    /// The key is sealed (AES-256-GCM) under a key that scrypt derives from this passphrase.
    case passphrase([UInt8])

    var passphrase: [UInt8]? {
        if case .passphrase(let bytes) = self { return bytes }
        return nil
    }
}

/// An error of a key file, naming the file and what to do.
public struct KeyFileError: Error, CustomStringConvertible, Equatable {
    public enum Kind: Sendable { case needsPassphrase, wrongPassphrase, clearButPassphraseGiven, malformed, io }
    public let kind: Kind
    public let description: String
}

/// A 32-byte secret in a 0600 file of its own, in clear or sealed under a passphrase.
///
/// A sealed file is `magic(8) log2N(1) r(1) p(1) salt(16)` then AES-GCM's nonce, ciphertext and
/// tag, the header authenticated as associated data: a wrong passphrase and a damaged file
/// both fail the tag, and neither ever yields a wrong key. scrypt (memory-hard) with N = 2^15,
/// r = 8, p = 1 costs 32 MiB and about 0.1 s per opening here; the parameters travel in the
/// header, within bounds, so a crafted file cannot make an opening take gigabytes.
public enum KeyFile {
    public static let keySize = 32
    static let magic = Array("vfidoSK1".utf8)
    static let headerSize = 8 + 3 + 16
    static let sealedSize = headerSize + 12 + keySize + 16
    /// Written with these; read within these bounds.
    static let writeParameters = (log2N: UInt8(15), r: UInt8(8), p: UInt8(1))
    static let maxLog2N: UInt8 = 20, maxR: UInt8 = 16, maxP: UInt8 = 4

    /// Whether the file at `url` is sealed under a passphrase (nil: there is no file).
    public static func isSealed(_ url: URL) -> Bool? {
        guard let data = FileManager.default.contents(atPath: url.path) else { return nil }
        return data.starts(with: magic)
    }

    /// The key in `url`, or a new one from `create` written there (atomically, 0600) when the file
    /// does not exist.
    public static func loadOrCreate(_ url: URL, protection: KeyProtection, create: () -> [UInt8]) throws(KeyFileError) -> [UInt8] {
        if FileManager.default.fileExists(atPath: url.path) { return try load(url, protection: protection) }
        let key = create()
        try write(key, to: url, protection: protection)
        return key
    }

    /// The key in `url`.
    public static func load(_ url: URL, protection: KeyProtection) throws(KeyFileError) -> [UInt8] {
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw KeyFileError(kind: .io, description: "cannot read \(url.path)")
        }
        let bytes = [UInt8](data)
        guard bytes.starts(with: magic) else {
            guard bytes.count == keySize else {
                throw KeyFileError(kind: .malformed, description: "\(url.path) is neither a 32-byte key nor a sealed key file (\(bytes.count) bytes); it was left untouched")
            }
            if protection.passphrase != nil {
                throw KeyFileError(kind: .clearButPassphraseGiven, description: "\(url.path) lies in clear but a passphrase was given: seal it first with `vfido passphrase set`, or give no passphrase")
            }
            return bytes
        }
        guard let passphrase = protection.passphrase else {
            throw KeyFileError(kind: .needsPassphrase, description: "\(url.path) is sealed with a passphrase: give it with --passphrase-file, VFIDO_PASSPHRASE, --passphrase-prompt or a systemd credential named vfido.passphrase")
        }
        return try open(bytes, passphrase: passphrase, path: url.path)
    }

    /// Writes `key` to `url` atomically (a 0600 temporary file, fsync, rename), sealed when a
    /// passphrase is given.
    public static func write(_ key: [UInt8], to url: URL, protection: KeyProtection) throws(KeyFileError) {
        precondition(key.count == keySize)
        let contents: [UInt8]
        if let passphrase = protection.passphrase {
            contents = try seal(key, passphrase: passphrase, path: url.path)
        } else {
            contents = key
        }
        let temporary = url.path + ".tmp"
        let fd = Foundation.open(temporary, O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw KeyFileError(kind: .io, description: "cannot create \(temporary): \(String(cString: strerror(errno)))") }
        fchmod(fd, 0o600)
        let written = contents.withUnsafeBytes { Foundation.write(fd, $0.baseAddress, $0.count) }
        let synced = fsync(fd) == 0
        close(fd)
        guard written == contents.count, synced, rename(temporary, url.path) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(temporary)
            throw KeyFileError(kind: .io, description: "cannot write \(url.path): \(reason)")
        }
    }

    static func seal(_ key: [UInt8], passphrase: [UInt8], path: String) throws(KeyFileError) -> [UInt8] {
        var salt = [UInt8](repeating: 0, count: 16)
        for i in salt.indices { salt[i] = UInt8.random(in: .min ... .max) }
        let (log2N, r, p) = writeParameters
        let header = magic + [log2N, r, p] + salt
        do {
            let wrapping = try derive(passphrase, salt: salt, log2N: log2N, r: r, p: p)
            guard let combined = try AES.GCM.seal(key, using: wrapping, authenticating: header).combined else {
                throw KeyFileError(kind: .io, description: "sealing \(path) failed")
            }
            return header + combined
        } catch let error as KeyFileError {
            throw error
        } catch {
            throw KeyFileError(kind: .io, description: "sealing \(path) failed: \(error)")
        }
    }

    static func open(_ bytes: [UInt8], passphrase: [UInt8], path: String) throws(KeyFileError) -> [UInt8] {
        guard bytes.count == sealedSize else {
            throw KeyFileError(kind: .malformed, description: "\(path) is a sealed key file of the wrong size (\(bytes.count) bytes, not \(sealedSize)); it was left untouched")
        }
        let (log2N, r, p) = (bytes[8], bytes[9], bytes[10])
        guard (10...maxLog2N).contains(log2N), (1...maxR).contains(r), (1...maxP).contains(p) else {
            throw KeyFileError(kind: .malformed, description: "\(path) names scrypt parameters out of bounds (N=2^\(log2N), r=\(r), p=\(p)); it was left untouched")
        }
        let header = Array(bytes[..<headerSize])
        do {
            let wrapping = try derive(passphrase, salt: Array(bytes[11..<headerSize]), log2N: log2N, r: r, p: p)
            let box = try AES.GCM.SealedBox(combined: bytes[headerSize...])
            return Array(try AES.GCM.open(box, using: wrapping, authenticating: header))
        } catch {
            throw KeyFileError(kind: .wrongPassphrase, description: "\(path) does not open with this passphrase (a wrong passphrase, or a damaged file; it was left untouched)")
        }
    }

    static func derive(_ passphrase: [UInt8], salt: [UInt8], log2N: UInt8, r: UInt8, p: UInt8) throws -> SymmetricKey {
        try KDF.Scrypt.deriveKey(from: passphrase, salt: salt, outputByteCount: keySize,
                                 rounds: 1 << Int(log2N), blockSize: Int(r), parallelism: Int(p))
    }
}
