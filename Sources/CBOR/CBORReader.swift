/// Why a byte string is not acceptable CBOR. Every case maps to CTAP2_ERR_INVALID_CBOR
/// except where the CTAP layer says otherwise.
public enum CBORError: Error, Equatable, Sendable {
    case truncated
    case trailingBytes(count: Int)
    case nonMinimalEncoding
    case indefiniteLength
    case unsupportedItem(initialByte: UInt8)
    case invalidUTF8
    case duplicateKey
    case unsortedKeys
    case tooDeep
    case tooManyItems
}

/// Hard limits applied while reading. Defaults fit every CTAP2 message: the deepest request
/// (makeCredential > extensions > hmac-secret > keyAgreement COSE key) nests four containers.
public struct CBORLimits: Sendable {
    public var maxDepth: Int
    public var maxItems: Int
    public init(maxDepth: Int = 5, maxItems: Int = 4096) {
        self.maxDepth = maxDepth
        self.maxItems = maxItems
    }
}

/// A strict, allocation-safe CBOR reader: minimal integers and lengths only, definite lengths,
/// no tags or floats, valid UTF-8, map keys strictly ascending in CTAP2 canonical order (which
/// also rules out duplicates), and nothing after the top-level item. Every length is checked
/// against the bytes left before anything is allocated.
public struct CBORReader {
    private let bytes: [UInt8]
    private var offset = 0
    private var items = 0
    private let limits: CBORLimits

    public static func decode(_ bytes: [UInt8], limits: CBORLimits = CBORLimits()) throws(CBORError) -> CBORValue {
        var reader = CBORReader(bytes: bytes, limits: limits)
        let value = try reader.readItem(depth: 0)
        if reader.offset != bytes.count { throw .trailingBytes(count: bytes.count - reader.offset) }
        return value
    }

    /// Reads one item from the front of `bytes` and reports how many bytes it used
    /// (for formats that append raw data after a CBOR item, like authenticator data).
    public static func decodePrefix(_ bytes: [UInt8], limits: CBORLimits = CBORLimits()) throws(CBORError) -> (CBORValue, Int) {
        var reader = CBORReader(bytes: bytes, limits: limits)
        let value = try reader.readItem(depth: 0)
        return (value, reader.offset)
    }

    private init(bytes: [UInt8], limits: CBORLimits) {
        self.bytes = bytes
        self.limits = limits
    }

    private var remaining: Int { bytes.count - offset }

    private mutating func readByte() throws(CBORError) -> UInt8 {
        guard offset < bytes.count else { throw .truncated }
        defer { offset += 1 }
        return bytes[offset]
    }

    private mutating func readBytes(_ count: Int) throws(CBORError) -> ArraySlice<UInt8> {
        guard count <= remaining else { throw .truncated }
        defer { offset += count }
        return bytes[offset..<offset + count]
    }

    /// Reads the argument of a head and enforces the shortest form.
    private mutating func readArgument(_ info: UInt8, initial: UInt8) throws(CBORError) -> UInt64 {
        let value: UInt64
        switch info {
        case 0..<24: return UInt64(info)
        case 24:
            value = UInt64(try readByte())
            if value < 24 { throw .nonMinimalEncoding }
        case 25:
            value = try readBytes(2).reduce(0) { $0 << 8 | UInt64($1) }
            if value <= 0xFF { throw .nonMinimalEncoding }
        case 26:
            value = try readBytes(4).reduce(0) { $0 << 8 | UInt64($1) }
            if value <= 0xFFFF { throw .nonMinimalEncoding }
        case 27:
            value = try readBytes(8).reduce(0) { $0 << 8 | UInt64($1) }
            if value <= 0xFFFF_FFFF { throw .nonMinimalEncoding }
        case 31: throw .indefiniteLength
        default: throw .unsupportedItem(initialByte: initial)
        }
        return value
    }

    /// A length or count that must fit in what is left of the input (each element of an
    /// array or map takes at least one byte, so this bounds allocation by the input size).
    private func checkedLength(_ n: UInt64, minimumBytesEach: Int) throws(CBORError) -> Int {
        guard n <= UInt64(remaining / minimumBytesEach) else { throw .truncated }
        return Int(n)
    }

    private mutating func readItem(depth: Int) throws(CBORError) -> CBORValue {
        items += 1
        if items > limits.maxItems { throw .tooManyItems }
        let initial = try readByte()
        let major = initial >> 5
        let info = initial & 0x1F
        switch major {
        case 0:
            return .unsigned(try readArgument(info, initial: initial))
        case 1:
            return .negative(try readArgument(info, initial: initial))
        case 2:
            let n = try checkedLength(try readArgument(info, initial: initial), minimumBytesEach: 1)
            return .bytes(Array(try readBytes(n)))
        case 3:
            let n = try checkedLength(try readArgument(info, initial: initial), minimumBytesEach: 1)
            let raw = try readBytes(n)
            guard let text = String(validating: raw, as: UTF8.self) else { throw .invalidUTF8 }
            return .text(text)
        case 4:
            guard depth < limits.maxDepth else { throw .tooDeep }
            let n = try checkedLength(try readArgument(info, initial: initial), minimumBytesEach: 1)
            var elements: [CBORValue] = []
            for _ in 0..<n { elements.append(try readItem(depth: depth + 1)) }
            return .array(elements)
        case 5:
            guard depth < limits.maxDepth else { throw .tooDeep }
            let n = try checkedLength(try readArgument(info, initial: initial), minimumBytesEach: 2)
            var pairs: [CBORPair] = []
            var previousKey: ArraySlice<UInt8>? = nil
            for _ in 0..<n {
                let keyStart = offset
                let key = try readItem(depth: depth + 1)
                let keyBytes = bytes[keyStart..<offset]
                if let previous = previousKey {
                    switch CBORWriter.canonicalOrder(previous, keyBytes) {
                    case .orderedSame: throw .duplicateKey
                    case .orderedDescending: throw .unsortedKeys
                    case .orderedAscending: break
                    }
                }
                previousKey = keyBytes
                pairs.append(CBORPair(key, try readItem(depth: depth + 1)))
            }
            return .map(pairs)
        case 6:
            throw .unsupportedItem(initialByte: initial)  // tags are not used by CTAP2
        default:  // major 7: simple values and floats
            switch info {
            case 20: return .bool(false)
            case 21: return .bool(true)
            case 22: return .null
            case 23: return .undefined
            case 31: throw .indefiniteLength
            default: throw .unsupportedItem(initialByte: initial)
            }
        }
    }
}
