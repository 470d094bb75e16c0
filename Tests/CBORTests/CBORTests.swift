import Testing
@testable import CBOR

func hex(_ s: String) -> [UInt8] {
    var out: [UInt8] = []
    var i = s.startIndex
    while i < s.endIndex {
        let j = s.index(i, offsetBy: 2)
        out.append(UInt8(s[i..<j], radix: 16)!)
        i = j
    }
    return out
}

/// Vectors from RFC 8949 Appendix A (those inside the CTAP2 subset: no floats, no tags).
let rfc8949Vectors: [(CBORValue, String)] = [
    (0, "00"), (1, "01"), (10, "0a"), (23, "17"), (24, "1818"), (25, "1819"), (100, "1864"), (1000, "1903e8"),
    (1_000_000, "1a000f4240"), (.unsigned(1_000_000_000_000), "1b000000e8d4a51000"),
    (.unsigned(18_446_744_073_709_551_615), "1bffffffffffffffff"), (.negative(18_446_744_073_709_551_615), "3bffffffffffffffff"),
    (-1, "20"), (-10, "29"), (-100, "3863"), (-1000, "3903e7"),
    (.bytes([]), "40"), (.bytes([1, 2, 3, 4]), "4401020304"),
    ("", "60"), ("a", "6161"), ("IETF", "6449455446"), ("\"\\", "62225c"), ("\u{00fc}", "62c3bc"), ("\u{6c34}", "63e6b0b4"),
    (.array([]), "80"), (.array([1, 2, 3]), "83010203"), (.array([1, .array([2, 3]), .array([4, 5])]), "8301820203820405"),
    (.map([]), "a0"), (.intMap([(1, 2), (3, 4)]), "a201020304"),
    (.textMap([("a", 1), ("b", .array([2, 3]))]), "a26161016162820203"),
    (false, "f4"), (true, "f5"), (.null, "f6"), (.undefined, "f7"),
]

@Suite struct CBORVectors {
    @Test(arguments: rfc8949Vectors.indices)
    func encodesAndDecodesRFCVector(_ index: Int) throws {
        let (value, encoding) = rfc8949Vectors[index]
        #expect(value.encoded == hex(encoding))
        #expect(try CBORReader.decode(hex(encoding)) == value)
    }

    @Test func writerSortsKeysLengthFirstThenBytewise() {
        let value = CBORValue.map([
            CBORPair("aa", 0), CBORPair(100, 0), CBORPair("z", 0), CBORPair(-1, 0), CBORPair(10, 0),
        ])
        // 0a < 20 < 1864 < 617a < 626161
        #expect(value.encoded == hex("a5" + "0a00" + "2000" + "186400" + "617a00" + "62616100"))
    }

    @Test func nestedMapsAreSortedToo() {
        let value = CBORValue.intMap([(2, .textMap([("up", true), ("rk", false)])), (1, 1)])
        #expect(value.encoded == hex("a2" + "0101" + "02a2" + "62726bf4" + "627570f5"))
    }

    @Test func decodePrefixReportsConsumedBytes() throws {
        let (value, used) = try CBORReader.decodePrefix(hex("a10102ffff"))
        #expect(value == .intMap([(1, 2)]))
        #expect(used == 3)
    }
}

@Suite struct CBORRejections {
    func rejects(_ encoding: String, _ expected: CBORError, limits: CBORLimits = CBORLimits()) {
        #expect(throws: expected) { try CBORReader.decode(hex(encoding), limits: limits) }
    }

    @Test func everyProperPrefixOfAValidItemIsTruncated() throws {
        let valid = CBORValue.intMap([
            (1, .bytes(Array(repeating: 7, count: 40))), (2, .textMap([("id", "example.com")])),
            (3, .array([.textMap([("alg", -7), ("type", "public-key")])])), (4, .unsigned(0x1_0000_0000)),
        ]).encoded
        for length in 0..<valid.count {
            #expect(throws: CBORError.truncated) { try CBORReader.decode(Array(valid.prefix(length))) }
        }
        _ = try CBORReader.decode(valid)
    }

    @Test func trailingBytes() { rejects("0000", .trailingBytes(count: 1)) }
    @Test func nonMinimalIntegers() {
        rejects("1817", .nonMinimalEncoding)
        rejects("190017", .nonMinimalEncoding)
        rejects("1900ff", .nonMinimalEncoding)
        rejects("1a0000ffff", .nonMinimalEncoding)
        rejects("1b00000000ffffffff", .nonMinimalEncoding)
        rejects("3817", .nonMinimalEncoding)
    }
    @Test func nonMinimalLengths() {
        rejects("5801ff", .nonMinimalEncoding)
        rejects("98020102", .nonMinimalEncoding)
        rejects("b8010102", .nonMinimalEncoding)
    }
    @Test func indefiniteLengths() {
        rejects("5f41ff", .indefiniteLength)
        rejects("7f6161ff", .indefiniteLength)
        rejects("9f01ff", .indefiniteLength)
        rejects("bf0102ff", .indefiniteLength)
    }
    @Test func tagsFloatsAndOtherSimpleValues() {
        rejects("c11a514b67b0", .unsupportedItem(initialByte: 0xC1))
        rejects("f93c00", .unsupportedItem(initialByte: 0xF9))
        rejects("fb3ff199999999999a", .unsupportedItem(initialByte: 0xFB))
        rejects("f0", .unsupportedItem(initialByte: 0xF0))
        rejects("f818", .unsupportedItem(initialByte: 0xF8))
        rejects("1c", .unsupportedItem(initialByte: 0x1C))
        rejects("ff", .indefiniteLength)
    }
    @Test func invalidUTF8() {
        rejects("62c328", .invalidUTF8)
        rejects("61ff", .invalidUTF8)
        rejects("63eda080", .invalidUTF8)  // a UTF-16 surrogate encoded as UTF-8
    }
    @Test func duplicateKeys() {
        rejects("a201010102", .duplicateKey)
        rejects("a2616101616102", .duplicateKey)
    }
    @Test func unsortedKeys() {
        rejects("a202010101", .unsortedKeys)
        rejects("a2626161016162", .unsortedKeys)       // "aa" before "b": longer key first
        rejects("a2616101186402", .unsortedKeys)       // text key before a 2-byte int key
    }
    @Test func nestingTooDeep() {
        rejects("8181818181818101", .tooDeep)
        rejects("a101a101a101a101a101a10101", .tooDeep)
        #expect(throws: Never.self) { try CBORReader.decode(hex("818181818101")) }  // five levels: the limit
    }
    @Test func absurdLengthsFailWithoutAllocating() {
        rejects("5affffffff00", .truncated)
        rejects("7b7fffffffffffffff", .truncated)
        rejects("9b0000000100000000", .truncated)
        rejects("bb0000000100000000", .truncated)
        rejects("a30102", .truncated)  // map of 3 pairs with room for 1
    }
    @Test func itemCountIsLimited() {
        let many = "99" + "0400" + String(repeating: "00", count: 1024)
        rejects(many, .tooManyItems, limits: CBORLimits(maxDepth: 5, maxItems: 100))
    }
}
