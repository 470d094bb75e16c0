// Structured mode of the CTAP fuzz target: FUZZ_COMMAND=<command> turns the fuzzer's bytes into
// requests of that command that are well-formed CBOR with the command's own keys, each member
// of its expected shape most of the time, of another type or missing some of the time, plus
// unknown keys; and a valid pinUvAuthParam (under a real PIN token) when the bytes say so. The
// raw mode spends nearly every input on CBOR the parser refuses; this one reaches the logic
// behind it: extensions, PIN permissions, credential management of stored credentials, large
// blob fragments, config.
import Bytes
import CBOR
import Crypto
import CTAP
import CTAPWire
import WebAuthnClient

/// The fuzzer's bytes read as a stream of choices; past the end every choice is 0.
struct Choices {
    let bytes: [UInt8]
    var at = 0

    mutating func byte() -> UInt8 {
        defer { at += 1 }
        return at < bytes.count ? bytes[at] : 0
    }
    mutating func below(_ n: Int) -> Int { Int(byte()) % max(n, 1) }
    mutating func bool() -> Bool { byte() & 1 == 1 }
    mutating func data(max: Int) -> [UInt8] { (0..<below(max + 1)).map { _ in byte() } }
    mutating func text(max: Int) -> String {
        let words = ["example.com", "a.example.com", "localhost", "user", "", "é", "\u{0}", "xn--caf-dma", String(repeating: "x", count: 70)]
        return below(3) == 0 ? String(decoding: data(max: max), as: UTF8.self) : words[below(words.count)]
    }
    mutating func integer() -> Int {
        let edges = [0, 1, -1, 2, -7, -8, -257, 23, 24, 255, 256, 65_535, 65_536, Int(Int32.max), Int(Int32.min), Int.max, Int.min]
        return bool() ? edges[below(edges.count)] : Int(Int8(bitPattern: byte()))
    }

    /// A value of any type (the "wrong type" branch), nested at most `depth` deep.
    mutating func anyValue(depth: Int = 2) -> CBORValue {
        switch below(depth > 0 ? 8 : 6) {
        case 0: return .int(integer())
        case 1: return .bytes(data(max: 80))
        case 2: return .text(text(max: 40))
        case 3: return .bool(bool())
        case 4: return .null
        case 5: return .undefined
        case 6: return .array((0..<below(4)).map { _ in anyValue(depth: depth - 1) })
        default: return .map((0..<below(4)).map { i in CBORPair(.int(i), anyValue(depth: depth - 1)) })
        }
    }

    /// The expected shape most of the time; sometimes absent, sometimes of any type.
    mutating func member(_ expected: (inout Choices) -> CBORValue) -> CBORValue? {
        switch below(8) {
        case 0: return nil
        case 1: return anyValue()
        default: return expected(&self)
        }
    }
}

/// What a structured request needs from the device: a PIN token, and stored credential IDs to name.
struct Context {
    var token: [UInt8]
    var credentialIds: [[UInt8]]
}

enum Shapes {
    static let rpId = "example.com"
    static let algorithms = [-7, -8, -257, -35, 0, 1]

    static func rp(_ c: inout Choices) -> CBORValue {
        .textMap([("id", c.bool() ? .text(rpId) : .text(c.text(max: 30))), ("name", c.bool() ? .text(c.text(max: 20)) : nil)])
    }
    static func user(_ c: inout Choices) -> CBORValue {
        .textMap([("id", .bytes(c.below(4) == 0 ? c.data(max: 70) : [c.byte()])), ("name", c.member { .text($0.text(max: 70)) }),
                  ("displayName", c.member { .text($0.text(max: 70)) }), ("icon", c.below(8) == 0 ? .text("https://x") : nil)])
    }
    static func descriptor(_ c: inout Choices, _ context: Context) -> CBORValue {
        let id: [UInt8] = !context.credentialIds.isEmpty && c.bool()
            ? context.credentialIds[c.below(context.credentialIds.count)] : c.data(max: 100)
        return .textMap([("type", .text(c.below(6) == 0 ? "not-public-key" : "public-key")), ("id", .bytes(id)),
                         ("transports", c.below(4) == 0 ? .array([.text("usb")]) : nil)])
    }
    static func descriptors(_ c: inout Choices, _ context: Context) -> CBORValue {
        .array((0..<c.below(5)).map { _ in descriptor(&c, context) })
    }
    static func options(_ c: inout Choices) -> CBORValue {
        .textMap(["rk", "up", "uv", "plat", "unknown"].map { name in (name, c.below(3) == 0 ? .bool(c.bool()) : nil) })
    }
    static func extensions(_ c: inout Choices) -> CBORValue {
        let candidates: [(String, (inout Choices) -> CBORValue)] = [
            ("credProtect", { .int(Int($0.below(5))) }),
            ("hmac-secret", { $0.bool() ? .bool(true) : $0.anyValue() }),
            ("hmac-secret-mc", { $0.anyValue() }),
            ("credBlob", { $0.bool() ? .bytes($0.data(max: 40)) : .bool(true) }),
            ("largeBlobKey", { .bool($0.bool()) }),
            ("minPinLength", { .bool($0.bool()) }),
            ("thirdPartyPayment", { .bool($0.bool()) }),
            ("unknownExtension", { $0.anyValue() }),
        ]
        return .textMap(candidates.map { name, value in (name, c.below(3) == 0 ? value(&c) : nil) })
    }
    static func algorithmsList(_ c: inout Choices) -> CBORValue {
        .array((0..<c.below(4) + 1).map { _ in
            .textMap([("type", .text(c.below(8) == 0 ? "other" : "public-key")), ("alg", .int(algorithms[c.below(algorithms.count)]))])
        })
    }

    /// The pinUvAuthParam and protocol members: missing, random, or valid for `message`.
    static func auth(_ c: inout Choices, _ context: Context, message: [UInt8]) -> (param: CBORValue?, proto: CBORValue?) {
        switch c.below(4) {
        case 0: return (nil, nil)
        case 1: return (.bytes(c.data(max: 40)), c.bool() ? .int(2) : .int(Int(c.below(4))))
        default: return (.bytes(PinProtocolTwo.authenticate(token: context.token, message)), .int(2))
        }
    }
}

/// One structured request (command byte, then CBOR) for `command`.
func structuredRequest(_ command: CTAPCommand, _ c: inout Choices, _ context: Context) -> [UInt8] {
    var unknown: [CBORPair] = []
    if c.below(8) == 0 { unknown.append(CBORPair(.int(0x20 + c.below(8)), c.anyValue())) }
    func request(_ members: [(Int, CBORValue?)]) -> [UInt8] {
        guard case .map(let pairs) = CBORValue.intMap(members) else { return [command.rawValue] }
        return [command.rawValue] + CBORValue.map(pairs + unknown).encoded
    }
    switch command {
    case .makeCredential:
        let clientDataHash = c.below(8) == 0 ? c.data(max: 40) : [UInt8](repeating: c.byte(), count: 32)
        let auth = Shapes.auth(&c, context, message: clientDataHash)
        return request([
            (1, .bytes(clientDataHash)), (2, c.member(Shapes.rp)), (3, c.member(Shapes.user)),
            (4, c.member(Shapes.algorithmsList)), (5, c.member { Shapes.descriptors(&$0, context) }),
            (6, c.member(Shapes.extensions)), (7, c.member(Shapes.options)), (8, auth.param), (9, auth.proto),
            (10, c.below(6) == 0 ? .int(c.below(4)) : nil),
        ])
    case .getAssertion:
        let clientDataHash = [UInt8](repeating: c.byte(), count: 32)
        let auth = Shapes.auth(&c, context, message: clientDataHash)
        return request([
            (1, c.bool() ? .text(Shapes.rpId) : c.member { .text($0.text(max: 30)) }), (2, .bytes(clientDataHash)),
            (3, c.member { Shapes.descriptors(&$0, context) }), (4, c.member(Shapes.extensions)),
            (5, c.member(Shapes.options)), (6, auth.param), (7, auth.proto),
        ])
    case .clientPIN:
        return request([
            (1, c.member { _ in .int(2) }), (2, .int(c.below(12))), (3, c.member { .intMap([(1, .int(2)), (3, .int(-25)), (-1, .int(1)), (-2, .bytes($0.data(max: 33))), (-3, .bytes($0.data(max: 33)))]) }),
            (4, c.member { .bytes($0.data(max: 32)) }), (5, c.member { .bytes($0.data(max: 96)) }), (6, c.member { .bytes($0.data(max: 48)) }),
            (9, c.member { .int($0.below(256)) }), (10, c.member { .text($0.text(max: 20)) }),
        ])
    case .credentialManagement:
        let subCommand = c.below(9)
        let parameters: CBORValue? = c.member { c in
            let rpIdHash = Array(SHA256.hash(data: Array((c.bool() ? Shapes.rpId : c.text(max: 20)).utf8)))
            return .intMap([(1, c.bool() ? .bytes(rpIdHash) : nil), (2, c.bool() ? Shapes.descriptor(&c, context) : nil),
                            (3, c.bool() ? Shapes.user(&c) : nil)])
        }
        let auth = Shapes.auth(&c, context, message: [UInt8(subCommand)] + (parameters?.encoded ?? []))
        return request([(1, .int(subCommand)), (2, parameters), (3, auth.proto), (4, auth.param)])
    case .largeBlobs:
        let offset = c.bool() ? 0 : c.below(40) * 16
        let set: CBORValue? = c.bool() ? .bytes(c.data(max: 200)) : nil
        let message = [UInt8](repeating: 0xFF, count: 32) + [0x0C, 0x00] + UInt32(offset).littleEndianBytes
            + (set?.bytesValue.map { Array(SHA256.hash(data: $0)) } ?? [])
        let auth = set == nil ? (param: nil, proto: nil) : Shapes.auth(&c, context, message: message)
        return request([
            (1, set == nil ? .int(c.below(300)) : nil), (2, set), (3, .int(offset)),
            (4, offset == 0 && set != nil ? .int(c.below(400)) : nil), (5, auth.param), (6, auth.proto),
        ])
    case .config:
        let subCommand = c.below(5)
        let parameters: CBORValue? = subCommand == 3 ? c.member { c in
            .intMap([(1, c.member { .int($0.below(70)) }), (2, c.member { .array([.text($0.text(max: 20))]) }), (3, c.member { .bool($0.bool()) })])
        } : nil
        let message = [UInt8](repeating: 0xFF, count: 32) + [0x0D, UInt8(subCommand)] + (parameters?.encoded ?? [])
        let auth = Shapes.auth(&c, context, message: message)
        return request([(1, .int(subCommand)), (2, parameters), (3, auth.proto), (4, auth.param)])
    default:
        return [command.rawValue]
    }
}
