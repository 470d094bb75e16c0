/// A decoded CBOR data item (RFC 8949), restricted to what CTAP2 uses: no tags, no floats,
/// no indefinite lengths. Maps keep their entries as ordered pairs so that duplicates can be
/// detected on input and tests can compare exact bytes on output.
public enum CBORValue: Hashable, Sendable {
    case unsigned(UInt64)
    /// A negative integer, stored as CBOR does: the value is `-1 - n`.
    case negative(UInt64)
    case bytes([UInt8])
    case text(String)
    case array([CBORValue])
    case map([CBORPair])
    case bool(Bool)
    case null
    case undefined

    public static func int(_ v: Int) -> CBORValue {
        v >= 0 ? .unsigned(UInt64(v)) : .negative(UInt64(-1 - v))
    }

    /// Builds a map from integer keys, the shape of every CTAP request and response.
    public static func intMap(_ pairs: [(Int, CBORValue?)]) -> CBORValue {
        .map(pairs.compactMap { key, value in value.map { CBORPair(.int(key), $0) } })
    }

    /// Builds a map keyed by a protocol's named integer keys (`enum Key: Int`).
    public static func keyed<Key: RawRepresentable<Int>>(_ pairs: [(Key, CBORValue?)]) -> CBORValue {
        intMap(pairs.map { ($0.0.rawValue, $0.1) })
    }

    /// Builds a map from text keys (WebAuthn entities, option maps).
    public static func textMap(_ pairs: [(String, CBORValue?)]) -> CBORValue {
        .map(pairs.compactMap { key, value in value.map { CBORPair(.text(key), $0) } })
    }
}

public struct CBORPair: Hashable, Sendable {
    public var key: CBORValue
    public var value: CBORValue
    public init(_ key: CBORValue, _ value: CBORValue) {
        self.key = key
        self.value = value
    }
}

// MARK: - Typed access. Each returns nil when the item has another type.

extension CBORValue {
    /// The integer value, when it fits an `Int`.
    public var intValue: Int? {
        switch self {
        case .unsigned(let n): return n <= UInt64(Int.max) ? Int(n) : nil
        case .negative(let n): return n <= UInt64(Int.max) ? -1 - Int(n) : nil
        default: return nil
        }
    }
    public var bytesValue: [UInt8]? { if case .bytes(let b) = self { return b } else { return nil } }
    public var textValue: String? { if case .text(let s) = self { return s } else { return nil } }
    public var arrayValue: [CBORValue]? { if case .array(let a) = self { return a } else { return nil } }
    public var mapValue: [CBORPair]? { if case .map(let m) = self { return m } else { return nil } }
    public var boolValue: Bool? { if case .bool(let b) = self { return b } else { return nil } }

    /// Looks a key up in a map (linear: CTAP maps are small).
    public subscript(key: CBORValue) -> CBORValue? {
        mapValue?.first(where: { $0.key == key })?.value
    }
    public subscript(int key: Int) -> CBORValue? { self[.int(key)] }
    public subscript(text key: String) -> CBORValue? { self[.text(key)] }
    /// A member by a protocol's named integer key (`enum Key: Int`).
    public subscript<Key: RawRepresentable<Int>>(_ key: Key) -> CBORValue? { self[.int(key.rawValue)] }
}

extension CBORValue: ExpressibleByIntegerLiteral, ExpressibleByStringLiteral, ExpressibleByBooleanLiteral {
    public init(integerLiteral value: Int) { self = .int(value) }
    public init(stringLiteral value: String) { self = .text(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
}
