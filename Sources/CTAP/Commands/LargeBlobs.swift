import CBOR
import CTAPWire

/// authenticatorLargeBlobs (CTAP 2.1 §6.10): one serialized array (CBOR array of large-blob
/// maps, then the first 16 bytes of its SHA-256), read and written in fragments.
struct LargeBlobsRequest {
    typealias Key = LargeBlobsKey

    var get: Int?
    var set: [UInt8]?
    var offset: Int
    var length: Int?
    var pinUvAuthParam: [UInt8]?
    var pinUvAuthProtocol: Int?

    init(_ p: Parameters) throws(CTAPError) {
        get = try p.int(Key.get)
        set = try p.bytes(Key.set)
        offset = try p.required(Key.offset).expectInt("offset")
        length = try p.int(Key.length)
        pinUvAuthParam = try p.bytes(Key.pinUvAuthParam)
        pinUvAuthProtocol = try p.int(Key.pinUvAuthProtocol)
        guard offset >= 0, (get ?? 0) >= 0, (length ?? 0) >= 0 else { throw CTAPError(.invalidParameter, "negative offset or length") }
    }
}

/// A fragment of the serialized large-blob array (a get's answer).
struct LargeBlobsResponse: CommandResponse {
    typealias Key = LargeBlobsResponseKey
    var config: [UInt8]
    var cbor: CBORValue { .keyed([(Key.config, .bytes(config))]) }
}

/// A write in progress: the fragments so far and the announced total length.
struct LargeBlobWrite: Sendable {
    var expectedLength: Int
    var buffer: [UInt8] = []
}

extension Authenticator {
    static let largeBlobsStoreName = "largeBlobs"
    /// The initial serialized array: an empty CBOR array and its truncated hash.
    static let emptyLargeBlobArray: [UInt8] = [0x80] + Digest.sha256([0x80]).prefix(16)

    /// Fragments can be the message size less room for the CBOR around them (§6.10.1).
    var maxLargeBlobFragment: Int { config.maxMessageSize - 64 }

    func storedLargeBlobArray() throws(CTAPError) -> [UInt8] {
        try storeCall { try store.loadSecret(Self.largeBlobsStoreName) } ?? Self.emptyLargeBlobArray
    }

    func largeBlobs(_ request: LargeBlobsRequest) throws(CTAPError) -> LargeBlobsResponse? {
        switch (request.get, request.set) {
        case (let count?, nil):
            guard request.length == nil, request.pinUvAuthParam == nil, request.pinUvAuthProtocol == nil else {
                throw CTAPError(.invalidParameter, "get takes only an offset")
            }
            guard count <= maxLargeBlobFragment else { throw CTAPError(.invalidLength, "get \(count) exceeds the fragment size") }
            let array = try storedLargeBlobArray()
            guard request.offset <= array.count else { throw CTAPError(.invalidParameter, "offset beyond the array") }
            let end = min(array.count, request.offset + count)
            return LargeBlobsResponse(config: Array(array[request.offset..<end]))
        case (nil, let fragment?):
            try writeLargeBlobFragment(fragment, request)
            return nil
        default:
            throw CTAPError(.invalidParameter, "exactly one of get and set")
        }
    }

    func writeLargeBlobFragment(_ fragment: [UInt8], _ request: LargeBlobsRequest) throws(CTAPError) {
        guard fragment.count <= maxLargeBlobFragment else { throw CTAPError(.invalidLength, "fragment larger than \(maxLargeBlobFragment)") }
        if request.offset == 0 {
            guard let length = request.length else { throw CTAPError(.invalidParameter, "the first fragment needs the total length") }
            guard length <= config.maxSerializedLargeBlobArray else {
                throw CTAPError(.largeBlobStorageFull, "\(length) bytes exceed \(config.maxSerializedLargeBlobArray)")
            }
            guard length >= 17 else { throw CTAPError(.invalidParameter, "a serialized array has at least 17 bytes") }
            largeBlobWrite = LargeBlobWrite(expectedLength: length)
        } else {
            guard request.length == nil else { throw CTAPError(.invalidParameter, "length only with offset 0") }
            guard let write = largeBlobWrite, request.offset == write.buffer.count else {
                throw CTAPError(.invalidSeq, "fragment at \(request.offset) does not continue the write")
            }
        }
        if isProtectedByUV || settings.alwaysUv {
            guard let param = request.pinUvAuthParam else { throw CTAPError(.puatRequired, "writing large blobs needs a pinUvAuthToken") }
            let offset = UInt32(request.offset)
            let message = [UInt8](repeating: 0xFF, count: 32) + [CTAPCommand.largeBlobs.rawValue, 0x00]
                + [0, 8, 16, 24].map { UInt8(truncatingIfNeeded: offset >> $0) } + Digest.sha256(fragment)
            try verifyTokenParam(param, protocol: request.pinUvAuthProtocol, message: message, permission: .largeBlobWrite)
        }
        guard var write = largeBlobWrite, write.buffer.count + fragment.count <= write.expectedLength else {
            largeBlobWrite = nil
            throw CTAPError(.invalidParameter, "more data than the announced length")
        }
        write.buffer += fragment
        guard write.buffer.count == write.expectedLength else {
            largeBlobWrite = write
            return
        }
        largeBlobWrite = nil
        let body = write.buffer.dropLast(16)
        guard Array(write.buffer.suffix(16)) == Array(Digest.sha256(body).prefix(16)) else {
            throw CTAPError(.integrityFailure, "the array's hash does not match")
        }
        let complete = write.buffer
        try storeCall { try store.saveSecret(Self.largeBlobsStoreName, complete) }
    }
}
