/// Reading and writing fixed-size integers in byte strings: the one place that packs them, for
/// USB/IP (big endian), uhid (little endian), CTAPHID channel ids and counters. No dependencies,
/// so the fuzz targets compile it with the sources they test.

/// Reads from the front of a byte string; nil once it runs out (nothing is read past the end).
public struct ByteReader {
    public let bytes: ArraySlice<UInt8>
    public private(set) var index: Int

    public init(_ bytes: ArraySlice<UInt8>) {
        self.bytes = bytes
        index = bytes.startIndex
    }

    public var consumed: Int { index - bytes.startIndex }
    public var remaining: Int { bytes.endIndex - index }

    public mutating func bytes(_ n: Int) -> ArraySlice<UInt8>? {
        guard n >= 0, remaining >= n else { return nil }
        defer { index += n }
        return bytes[index..<index + n]
    }

    public mutating func u8() -> UInt8? { bytes(1)?.first }
    public mutating func u16() -> UInt16? { bytes(2).map { UInt16(bigEndianBytes: $0) } }
    public mutating func u32() -> UInt32? { bytes(4).map { UInt32(bigEndianBytes: $0) } }
    public mutating func u32LittleEndian() -> UInt32? { bytes(4).map { UInt32(littleEndianBytes: $0) } }
}

/// Appends to a byte string.
public struct ByteWriter {
    public var out: [UInt8] = []
    public init() {}
    public mutating func bytes(_ b: some Sequence<UInt8>) { out += b }
    public mutating func u8(_ v: UInt8) { out.append(v) }
    public mutating func u16(_ v: UInt16) { out += v.bigEndianBytes }
    public mutating func u32(_ v: UInt32) { out += v.bigEndianBytes }
    public mutating func u16LittleEndian(_ v: UInt16) { out += v.littleEndianBytes }
    public mutating func u32LittleEndian(_ v: UInt32) { out += v.littleEndianBytes }
    /// `s` in UTF-8, cut to leave room for a NUL, zero-padded to `size` bytes.
    public mutating func fixedString(_ s: String, _ size: Int) {
        let utf8 = Array(s.utf8.prefix(size - 1))
        out += utf8 + [UInt8](repeating: 0, count: size - utf8.count)
    }
}

extension FixedWidthInteger {
    /// The value's bytes, most significant first.
    public var bigEndianBytes: [UInt8] {
        (0..<Self.bitWidth / 8).reversed().map { UInt8(truncatingIfNeeded: self >> ($0 * 8)) }
    }

    /// The value's bytes, least significant first.
    public var littleEndianBytes: [UInt8] { bigEndianBytes.reversed() }

    /// The value of the first `bitWidth / 8` bytes, most significant first.
    public init(bigEndianBytes bytes: some Collection<UInt8>) {
        self = bytes.prefix(Self.bitWidth / 8).reduce(0) { $0 << 8 | Self($1) }
    }

    /// The value of the first `bitWidth / 8` bytes, least significant first.
    public init(littleEndianBytes bytes: some Collection<UInt8>) {
        self.init(bigEndianBytes: bytes.prefix(Self.bitWidth / 8).reversed())
    }
}
