/// Canonical CBOR as CTAP2 §8 defines it: shortest heads, definite lengths, and map keys sorted
/// by their encoded bytes, shorter first, then bytewise (the "length-first" order of RFC 7049 §3.9).
public enum CBORWriter {
    public static func encode(_ value: CBORValue) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(64)
        write(value, into: &out)
        return out
    }

    public enum Order { case orderedAscending, orderedSame, orderedDescending }

    /// CTAP2 canonical key order over encoded keys.
    public static func canonicalOrder<A: Collection<UInt8>, B: Collection<UInt8>>(_ a: A, _ b: B) -> Order {
        if a.count != b.count { return a.count < b.count ? .orderedAscending : .orderedDescending }
        for (x, y) in zip(a, b) where x != y { return x < y ? .orderedAscending : .orderedDescending }
        return .orderedSame
    }

    /// The items in canonical order of their encodings, for arrays that are sets (getInfo's
    /// lists: some tools check their order as they check map keys).
    public static func canonicallySorted(_ items: [CBORValue]) -> [CBORValue] {
        items.map { (item: $0, bytes: encode($0)) }
            .sorted { canonicalOrder($0.bytes, $1.bytes) == .orderedAscending }
            .map(\.item)
    }

    private static func writeHead(major: UInt8, argument: UInt64, into out: inout [UInt8]) {
        let m = major << 5
        switch argument {
        case 0..<24: out.append(m | UInt8(argument))
        case 24...0xFF: out.append(contentsOf: [m | 24, UInt8(argument)])
        case 0x100...0xFFFF: out.append(m | 25); appendBigEndian(argument, bytes: 2, into: &out)
        case 0x1_0000...0xFFFF_FFFF: out.append(m | 26); appendBigEndian(argument, bytes: 4, into: &out)
        default: out.append(m | 27); appendBigEndian(argument, bytes: 8, into: &out)
        }
    }

    private static func appendBigEndian(_ v: UInt64, bytes: Int, into out: inout [UInt8]) {
        for i in stride(from: bytes - 1, through: 0, by: -1) { out.append(UInt8(truncatingIfNeeded: v >> (8 * UInt64(i)))) }
    }

    private static func write(_ value: CBORValue, into out: inout [UInt8]) {
        switch value {
        case .unsigned(let n): writeHead(major: 0, argument: n, into: &out)
        case .negative(let n): writeHead(major: 1, argument: n, into: &out)
        case .bytes(let b):
            writeHead(major: 2, argument: UInt64(b.count), into: &out)
            out.append(contentsOf: b)
        case .text(let s):
            let utf8 = Array(s.utf8)
            writeHead(major: 3, argument: UInt64(utf8.count), into: &out)
            out.append(contentsOf: utf8)
        case .array(let items):
            writeHead(major: 4, argument: UInt64(items.count), into: &out)
            for item in items { write(item, into: &out) }
        case .map(let pairs):
            writeHead(major: 5, argument: UInt64(pairs.count), into: &out)
            let encoded = pairs.map { (key: encode($0.key), value: $0.value) }
                .sorted { canonicalOrder($0.key, $1.key) == .orderedAscending }
            for pair in encoded {
                out.append(contentsOf: pair.key)
                write(pair.value, into: &out)
            }
        case .bool(let b): out.append(b ? 0xF5 : 0xF4)
        case .null: out.append(0xF6)
        case .undefined: out.append(0xF7)
        }
    }
}

extension CBORValue {
    /// The canonical encoding of this item.
    public var encoded: [UInt8] { CBORWriter.encode(self) }
}
