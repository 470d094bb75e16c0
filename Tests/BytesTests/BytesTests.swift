import Foundation
import Testing
import Bytes

/// The shared base64url vectors (Tests/Fixtures/base64url-vectors.json); the relying party's
/// own implementation is held to the same file in RelyingPartyTests.
struct Base64URLVectors: Decodable {
    struct Pair: Decodable { var hex: String; var text: String }
    struct Refused: Decodable { var text: String; var why: String }
    var canonical: [Pair]
    var alsoAccepted: [Pair]
    var refused: [Refused]

    static func load() throws -> Base64URLVectors {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../Fixtures/base64url-vectors.json")
        return try JSONDecoder().decode(Base64URLVectors.self, from: Data(contentsOf: url))
    }
}

@Suite struct Base64URLTests {
    @Test func sharedVectors() throws {
        let vectors = try Base64URLVectors.load()
        for pair in vectors.canonical {
            let bytes = try #require([UInt8](hex: pair.hex))
            #expect(Base64URL.encode(bytes) == pair.text)
            #expect(Base64URL.decode(pair.text) == bytes, "\(pair.text)")
        }
        for pair in vectors.alsoAccepted {
            #expect(Base64URL.decode(pair.text) == [UInt8](hex: pair.hex), "\(pair.text)")
        }
        for refused in vectors.refused {
            #expect(Base64URL.decode(refused.text) == nil, "\(refused.why)")
        }
    }

    @Test func standardPaddedIsWhatBtoaWrites() {
        #expect(Base64URL.encodeStandard([0xFB, 0xFF]) == "+/8=")
        #expect(Base64URL.encodeStandard(Array("foob".utf8)) == "Zm9vYg==")
    }

    @Test func randomBytesRoundTripAndMatchFoundation() {
        var generator = SystemRandomNumberGenerator()
        for length in 0..<70 {
            let bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &generator) }
            let text = Base64URL.encode(bytes)
            #expect(Base64URL.decode(text) == bytes)
            #expect(Base64URL.encodeStandard(bytes) == Data(bytes).base64EncodedString())
        }
    }
}

@Suite struct HexAndIntegers {
    @Test func hexBothWays() {
        #expect([UInt8]([0x00, 0x0F, 0xA0, 0xFF]).hex == "000fa0ff")
        #expect([UInt8](hex: "000FA0ff") == [0x00, 0x0F, 0xA0, 0xFF])
        #expect([UInt8](hex: "") == [])
        #expect([UInt8](hex: "abc") == nil)      // odd length
        #expect([UInt8](hex: "zz") == nil)
        #expect([UInt8](hex: "0x12") == nil)
    }

    @Test func integersInBothByteOrders() {
        #expect(UInt32(0x1122_3344).bigEndianBytes == [0x11, 0x22, 0x33, 0x44])
        #expect(UInt32(0x1122_3344).littleEndianBytes == [0x44, 0x33, 0x22, 0x11])
        #expect(UInt16(0xABCD).littleEndianBytes == [0xCD, 0xAB])
        #expect(UInt32(bigEndianBytes: [0x11, 0x22, 0x33, 0x44, 0x55]) == 0x1122_3344)  // only the first four
        #expect(UInt32(littleEndianBytes: [0x44, 0x33, 0x22, 0x11]) == 0x1122_3344)
        #expect(UInt16(bigEndianBytes: [0xAB, 0xCD][...]) == 0xABCD)
    }

    @Test func readerNeverReadsPastTheEnd() {
        var reader = ByteReader([0, 0, 0, 5, 0xAA, 0xBB][...])
        #expect(reader.u32() == 5)
        #expect(reader.u32() == nil)        // two bytes left: refused, nothing consumed
        #expect(reader.consumed == 4)
        #expect(reader.u16() == 0xAABB)
        #expect(reader.u8() == nil)
        #expect(reader.bytes(-1) == nil)
        var writer = ByteWriter()
        writer.u32(5); writer.u16(0xAABB); writer.u32LittleEndian(1); writer.fixedString("abc", 5)
        #expect(writer.out == [0, 0, 0, 5, 0xAA, 0xBB, 1, 0, 0, 0] + Array("abc".utf8) + [0, 0])
    }
}
