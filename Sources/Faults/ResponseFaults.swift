import Bytes
import CBOR

/// The response-stage faults: what a reply says (status, CBOR, signatures, authenticator data).
/// Each returns what it did, or nil when it does not apply to this response (a CBOR fault on a
/// bare status, a signature fault where nothing is signed); nothing is recorded then.
enum ResponseFaults {
    /// What one key has said before, for faults that lie relative to it.
    struct Memory { var highestCounter: UInt32 = 0 }

    static let errorStatuses: [UInt8] = [0x01, 0x02, 0x03, 0x11, 0x12, 0x14, 0x19, 0x27, 0x2E, 0x31, 0x33, 0x36, 0x7F, 0xF0]
    static let u2fErrors: [[UInt8]] = [[0x69, 0x85], [0x6A, 0x80], [0x67, 0x00], [0x6D, 0x00]]

    static func apply(_ fault: Fault, to response: inout [UInt8], command: String, request: [UInt8],
                      rng: inout SplitMix64, memory: inout Memory) -> String? {
        let u2f = command == "u2f"
        switch fault {
        case .truncated:
            let keep = response.count <= 1 ? 0 : Int.random(in: (u2f ? 0 : 1)..<response.count, using: &rng)
            let was = response.count
            response = Array(response.prefix(keep))
            return "\(was) bytes cut to \(keep)"
        case .wrongStatus:
            if u2f {
                guard response.count >= 2 else { return nil }
                let ok = response.suffix(2) == [0x90, 0x00]
                let sw = ok ? u2fErrors.randomElement(using: &rng)! : [0x90, 0x00]
                response = Array(response.dropLast(2)) + sw
                return "status word \(sw.hex)"
            }
            guard let status = response.first else { return nil }
            let new = status == 0 ? errorStatuses.randomElement(using: &rng)! : 0x00
            response[0] = new
            return "status 0x\([status].hex) became 0x\([new].hex)"
        case .badSignature, .wrongRpIdHash, .counterBackwards, .upLie, .uvLie:
            return u2f ? applyU2F(fault, to: &response, request: request, rng: &rng, memory: &memory)
                : applySigned(fault, to: &response, command: command, rng: &rng, memory: &memory)
        case .nonCanonical, .wrongType, .hugeLength, .unknownKey:
            guard !u2f, response.first == 0, response.count > 1,
                  let body = try? CBORReader.decode(Array(response.dropFirst()), limits: CBORLimits(maxDepth: 16, maxItems: 1 << 16)),
                  let pairs = body.mapValue, !pairs.isEmpty else { return nil }
            var encoded: [UInt8]
            let detail: String
            switch fault {
            case .nonCanonical:
                let style = [NonCanonical.Style.longHeads, .reversedKeys, .indefiniteMap].randomElement(using: &rng)!
                if style == .reversedKeys && pairs.count < 2 { return nil }
                encoded = NonCanonical.encode(body, style: style)
                detail = "\(style)"
            case .wrongType:
                var pairs = pairs
                let i = Int.random(in: 0..<pairs.count, using: &rng)
                pairs[i].value = otherType(pairs[i].value)
                encoded = CBORValue.map(pairs).encoded
                detail = "member \(describe(pairs[i].key)) now \(kind(pairs[i].value))"
            case .hugeLength:
                let sized = pairs.indices.filter { [2, 3, 4, 5].contains(major(of: pairs[$0].value)) }
                guard let i = sized.randomElement(using: &rng) else { return nil }
                encoded = NonCanonical.encode(body, hugeLengthAt: pairs[i].key)
                detail = "member \(describe(pairs[i].key)) claims 4294967295"
            default:
                let used = Set(pairs.compactMap(\.key.intValue))
                let free = (0x20...0x7F).filter { !used.contains($0) }
                guard let key = free.randomElement(using: &rng) else { return nil }
                let value = CBORValue.bytes((0..<Int.random(in: 1...16, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) })
                encoded = CBORValue.map(pairs + [CBORPair(.int(key), value)]).encoded
                detail = "member \(key) added"
            }
            response = [0] + encoded
            return detail
        default:
            return nil
        }
    }

    /// makeCredential, getAssertion and getNextAssertion responses: authenticatorData (0x02) and
    /// the signature (getAssertion 0x03, makeCredential attStmt.sig).
    static func applySigned(_ fault: Fault, to response: inout [UInt8], command: String,
                            rng: inout SplitMix64, memory: inout Memory) -> String? {
        guard ["makeCredential", "getAssertion", "getNextAssertion"].contains(command), response.first == 0,
              let body = try? CBORReader.decode(Array(response.dropFirst()), limits: CBORLimits(maxDepth: 16, maxItems: 1 << 16)),
              var pairs = body.mapValue,
              let a = pairs.firstIndex(where: { $0.key == .int(2) }), var authData = pairs[a].value.bytesValue, authData.count >= 37
        else { return nil }
        let counter = UInt32(bigEndianBytes: authData[33..<37])
        defer { memory.highestCounter = max(memory.highestCounter, counter) }
        let detail: String
        switch fault {
        case .badSignature:
            if command == "makeCredential" {
                guard let s = pairs.firstIndex(where: { $0.key == .int(3) }), var statement = pairs[s].value.mapValue,
                      let g = statement.firstIndex(where: { $0.key == .text("sig") }), var sig = statement[g].value.bytesValue, !sig.isEmpty
                else { return nil }  // attestation "none" signs nothing
                let bit = flipBit(&sig, rng: &rng)
                statement[g].value = .bytes(sig)
                pairs[s].value = .map(statement)
                response = [0] + CBORValue.map(pairs).encoded
                return "attestation signature bit \(bit) flipped"
            }
            guard let s = pairs.firstIndex(where: { $0.key == .int(3) }), var sig = pairs[s].value.bytesValue, !sig.isEmpty else { return nil }
            let bit = flipBit(&sig, rng: &rng)
            pairs[s].value = .bytes(sig)
            response = [0] + CBORValue.map(pairs).encoded
            return "signature bit \(bit) flipped"
        case .wrongRpIdHash:
            let i = Int.random(in: 0..<32, using: &rng)
            authData[i] ^= UInt8.random(in: 1...255, using: &rng)
            detail = "rpIdHash byte \(i) changed"
        case .upLie:
            authData[32] ^= 0x01
            detail = "UP now \(authData[32] & 1)"
        case .uvLie:
            authData[32] ^= 0x04
            detail = "UV now \(authData[32] >> 2 & 1)"
        default:
            let highest = max(memory.highestCounter, counter)
            guard highest > 0 else { return nil }
            let lower = UInt32.random(in: 0..<highest, using: &rng)
            authData.replaceSubrange(33..<37, with: lower.bigEndianBytes)
            detail = "counter \(counter) sent as \(lower) (highest sent so far \(highest))"
        }
        pairs[a].value = .bytes(authData)
        response = [0] + CBORValue.map(pairs).encoded
        return detail
    }

    /// U2F register (its signature ends just before the status word) and authenticate
    /// (presence byte, 4-byte counter, signature, status word).
    static func applyU2F(_ fault: Fault, to response: inout [UInt8], request: [UInt8],
                         rng: inout SplitMix64, memory: inout Memory) -> String? {
        guard request.count > 1, response.count > 9, response.suffix(2) == [0x90, 0x00] else { return nil }
        let ins = request[1]
        switch (fault, ins) {
        case (.badSignature, 0x01), (.badSignature, 0x02):
            // The last bytes before the status word are inside the DER signature's s value.
            let i = response.count - 3 - Int.random(in: 0..<8, using: &rng)
            let bit = Int.random(in: 0..<8, using: &rng)
            response[i] ^= 1 << bit
            return "signature byte \(i) bit \(bit) flipped"
        case (.upLie, 0x02):
            response[0] ^= 0x01
            return "user presence now \(response[0] & 1)"
        case (.counterBackwards, 0x02):
            let counter = UInt32(bigEndianBytes: response[1..<5])
            defer { memory.highestCounter = max(memory.highestCounter, counter) }
            let highest = max(memory.highestCounter, counter)
            guard highest > 0 else { return nil }
            let lower = UInt32.random(in: 0..<highest, using: &rng)
            response.replaceSubrange(1..<5, with: lower.bigEndianBytes)
            return "counter \(counter) sent as \(lower)"
        default:
            return nil
        }
    }

    static func flipBit(_ bytes: inout [UInt8], rng: inout SplitMix64) -> Int {
        let bit = Int.random(in: 0..<(bytes.count * 8), using: &rng)
        bytes[bit / 8] ^= 0x80 >> UInt8(bit % 8)
        return bit
    }

    static func major(of value: CBORValue) -> Int { Int(value.encoded[0] >> 5) }

    static func otherType(_ value: CBORValue) -> CBORValue {
        switch value {
        case .bytes(let b): .text(b.hex)
        case .text(let s): .bytes(Array(s.utf8))
        case .unsigned(let n): .text("\(n)")
        case .negative(let n): .text("-\(n + 1)")
        case .map(let pairs): .array(pairs.map(\.value))
        case .array(let items): .map(items.enumerated().map { CBORPair(.int($0.offset), $0.element) })
        case .bool(let b): .int(b ? 1 : 0)
        case .null, .undefined: .bool(false)
        }
    }

    static func kind(_ value: CBORValue) -> String {
        ["an unsigned integer", "a negative integer", "a byte string", "a text string", "an array", "a map", "a tag", "a simple value"][major(of: value)]
    }

    static func describe(_ key: CBORValue) -> String { key.intValue.map { "0x" + [UInt8(truncatingIfNeeded: $0)].hex } ?? key.textValue ?? "?" }
}

/// CBOR that CTAP2's canonical form forbids (CTAP 2.1 §8), for hosts that must refuse it or at
/// least survive it.
enum NonCanonical {
    enum Style: CustomStringConvertible {
        case longHeads, reversedKeys, indefiniteMap
        var description: String {
            switch self {
            case .longHeads: "every head one size longer than needed"
            case .reversedKeys: "map keys in reverse canonical order"
            case .indefiniteMap: "the response map with indefinite length"
            }
        }
    }

    static func encode(_ value: CBORValue, style: Style) -> [UInt8] {
        var out: [UInt8] = []
        write(value, style: style, top: true, into: &out)
        return out
    }

    /// The canonical encoding, except that the member under `key` has a head claiming
    /// 0xFFFFFFFF bytes or items, followed by its real content.
    static func encode(_ map: CBORValue, hugeLengthAt key: CBORValue) -> [UInt8] {
        guard let pairs = map.mapValue else { return map.encoded }
        var out: [UInt8] = []
        head(major: 5, argument: UInt64(pairs.count), long: false, into: &out)
        for pair in sortedCanonically(pairs) {
            out += pair.key.encoded
            let value = pair.value.encoded
            guard pair.key == key else { out += value; continue }
            out += [value[0] & 0xE0 | 26, 0xFF, 0xFF, 0xFF, 0xFF]
            out += value.dropFirst(headLength(value[0]))
        }
        return out
    }

    static func headLength(_ first: UInt8) -> Int {
        switch first & 0x1F { case 24: 2; case 25: 3; case 26: 5; case 27: 9; default: 1 }
    }

    static func sortedCanonically(_ pairs: [CBORPair]) -> [CBORPair] {
        pairs.map { (pair: $0, key: $0.key.encoded) }
            .sorted { CBORWriter.canonicalOrder($0.key, $1.key) == .orderedAscending }.map(\.pair)
    }

    static func head(major: UInt8, argument: UInt64, long: Bool, into out: inout [UInt8]) {
        let m = major << 5
        var size: Int = argument < 24 ? 0 : argument <= 0xFF ? 1 : argument <= 0xFFFF ? 2 : argument <= 0xFFFF_FFFF ? 4 : 8
        if long { size = size == 0 ? 1 : min(8, size * 2) }
        switch size {
        case 0: out.append(m | UInt8(argument))
        default:
            out.append(m | [1: 24, 2: 25, 4: 26, 8: 27][size]!)
            for i in stride(from: size - 1, through: 0, by: -1) { out.append(UInt8(truncatingIfNeeded: argument >> (8 * UInt64(i)))) }
        }
    }

    static func write(_ value: CBORValue, style: Style, top: Bool, into out: inout [UInt8]) {
        let long = style == .longHeads
        switch value {
        case .unsigned(let n): head(major: 0, argument: n, long: long, into: &out)
        case .negative(let n): head(major: 1, argument: n, long: long, into: &out)
        case .bytes(let b): head(major: 2, argument: UInt64(b.count), long: long, into: &out); out += b
        case .text(let s): head(major: 3, argument: UInt64(s.utf8.count), long: long, into: &out); out += Array(s.utf8)
        case .array(let items):
            head(major: 4, argument: UInt64(items.count), long: long, into: &out)
            for item in items { write(item, style: style, top: false, into: &out) }
        case .map(let pairs):
            var sorted = sortedCanonically(pairs)
            if style == .reversedKeys { sorted.reverse() }
            if style == .indefiniteMap && top { out.append(0xBF) } else { head(major: 5, argument: UInt64(pairs.count), long: long, into: &out) }
            for pair in sorted {
                write(pair.key, style: style, top: false, into: &out)
                write(pair.value, style: style, top: false, into: &out)
            }
            if style == .indefiniteMap && top { out.append(0xFF) }
        case .bool, .null, .undefined: out += value.encoded
        }
    }
}
