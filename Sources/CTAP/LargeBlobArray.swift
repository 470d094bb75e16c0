import Bytes
import CBOR
import CZlib
import Crypto
import Foundation

/// The serialized large-blob array's entries as WebAuthn's largeBlob extension writes them
/// (WebAuthn L3 §10.1.5, CTAP 2.1 §6.10.3): the blob raw-DEFLATE-compressed, sealed with
/// AES-256-GCM under the credential's largeBlobKey, associated data "blob" || uint64LE(origSize).
/// The control API reads and writes a credential's blob through this, as a browser would.
struct LargeBlobArray {
    var entries: [CBORValue]

    init(serialized: [UInt8]) {
        // The array is the platform's to write; an unreadable one is treated as empty here,
        // as a platform does (§6.10.3: it then starts a fresh array).
        guard serialized.count >= 17, Array(serialized.suffix(16)) == Array(Digest.sha256(serialized.dropLast(16)).prefix(16)),
              case .array(let items)? = try? CBORReader.decode(Array(serialized.dropLast(16))) else {
            entries = []
            return
        }
        entries = items
    }

    var serialized: [UInt8] {
        let body = CBORValue.array(entries).encoded
        return body + Digest.sha256(body).prefix(16)
    }

    /// The blob of the credential whose key opens an entry, if one does.
    func blob(key: [UInt8]) -> [UInt8]? {
        for entry in entries { if let blob = Self.open(entry, key: key) { return blob } }
        return nil
    }

    /// Replaces the credential's entry (or removes it, with nil).
    mutating func set(_ blob: [UInt8]?, key: [UInt8], nonce: [UInt8]) throws {
        entries.removeAll { Self.open($0, key: key) != nil }
        guard let blob else { return }
        let compressed = try Deflate.compress(blob)
        let sealed = try AES.GCM.seal(compressed, using: SymmetricKey(data: key), nonce: AES.GCM.Nonce(data: nonce),
                                      authenticating: Self.associatedData(origSize: blob.count))
        entries.append(.intMap([(1, .bytes(Array(sealed.ciphertext) + Array(sealed.tag))), (2, .bytes(nonce)), (3, .int(blob.count))]))
    }

    static func associatedData(origSize: Int) -> [UInt8] {
        Array("blob".utf8) + (0..<8).map { UInt8(truncatingIfNeeded: UInt64(origSize) >> (8 * $0)) }
    }

    static func open(_ entry: CBORValue, key: [UInt8]) -> [UInt8]? {
        guard let ciphertext = entry[int: 1]?.bytesValue, ciphertext.count >= 16, let nonce = entry[int: 2]?.bytesValue, nonce.count == 12,
              case .unsigned(let size)? = entry[int: 3], size <= Deflate.maxInflated,
              let box = try? AES.GCM.SealedBox(nonce: AES.GCM.Nonce(data: nonce), ciphertext: ciphertext.dropLast(16), tag: ciphertext.suffix(16)),
              let compressed = try? AES.GCM.open(box, using: SymmetricKey(data: key), authenticating: associatedData(origSize: Int(size))),
              let blob = try? Deflate.decompress(Array(compressed), limit: Int(size)), blob.count == Int(size) else { return nil }
        return blob
    }
}

/// Raw DEFLATE (RFC 1951, no zlib header), as the largeBlob extension compresses.
enum Deflate {
    /// A large-blob array holds a few KiB; nothing inflates beyond this.
    static let maxInflated = 1 << 20

    struct Failure: Error { let code: Int32 }

    static func compress(_ input: [UInt8]) throws -> [UInt8] {
        var stream = z_stream()
        var status = deflateInit2_(&stream, Z_BEST_COMPRESSION, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY, ZLIB_VERSION,
                                   Int32(MemoryLayout<z_stream>.size))
        guard status == Z_OK else { throw Failure(code: status) }
        defer { deflateEnd(&stream) }
        var output = [UInt8](repeating: 0, count: Int(deflateBound(&stream, UInt(input.count))))
        status = pump(&stream, input, into: &output) { deflate(&$0, Z_FINISH) }
        guard status == Z_STREAM_END else { throw Failure(code: status) }
        return Array(output.prefix(Int(stream.total_out)))
    }

    /// Runs one zlib step over all of `input` into `output` (both buffers pinned for the call).
    private static func pump(_ stream: inout z_stream, _ input: [UInt8], into output: inout [UInt8],
                             _ step: (inout z_stream) -> Int32) -> Int32 {
        var input = input
        return input.withUnsafeMutableBufferPointer { inBuffer in
            output.withUnsafeMutableBufferPointer { outBuffer in
                stream.next_in = inBuffer.baseAddress
                stream.avail_in = UInt32(inBuffer.count)
                stream.next_out = outBuffer.baseAddress
                stream.avail_out = UInt32(outBuffer.count)
                return step(&stream)
            }
        }
    }

    /// Inflates at most `limit` bytes; more, or a broken stream, is an error.
    static func decompress(_ input: [UInt8], limit: Int) throws -> [UInt8] {
        var stream = z_stream()
        var status = inflateInit2_(&stream, -15, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size))
        guard status == Z_OK else { throw Failure(code: status) }
        defer { inflateEnd(&stream) }
        var output = [UInt8](repeating: 0, count: limit + 1)
        status = pump(&stream, input, into: &output) { inflate(&$0, Z_FINISH) }
        guard status == Z_STREAM_END, Int(stream.total_out) <= limit else { throw Failure(code: status) }
        return Array(output.prefix(Int(stream.total_out)))
    }
}

extension Authenticator {
    /// A stored credential's large blob (CDP's Credential.largeBlob), if the array holds one.
    public func largeBlob(credentialId: [UInt8]) throws(ManagementError) -> [UInt8]? {
        let array = LargeBlobArray(serialized: try managed { try storedLargeBlobArray() })
        return array.blob(key: credentialSecrets.largeBlobKey(credentialId: credentialId))
    }

    /// Writes (or with nil removes) a credential's large blob, as a platform's largeBlob write
    /// does; refused if the array would outgrow maxSerializedLargeBlobArray.
    func setLargeBlob(_ blob: [UInt8]?, credentialId: [UInt8]) throws(ManagementError) {
        var array = LargeBlobArray(serialized: try managed { try storedLargeBlobArray() })
        do { try array.set(blob, key: credentialSecrets.largeBlobKey(credentialId: credentialId), nonce: random.bytes(12)) } catch {
            throw .invalid("the large blob cannot be sealed: \(error)")
        }
        let serialized = array.serialized
        guard serialized.count <= config.maxSerializedLargeBlobArray else {
            throw .full("the large-blob array would be \(serialized.count) bytes; this key holds \(config.maxSerializedLargeBlobArray)")
        }
        try managed { try store.saveSecret(Self.largeBlobsStoreName, serialized) }
    }
}
