import CTAP
import Crypto
import Foundation

/// Deterministic randomness for the unit tests and the CTAP fuzz target (so a failing case
/// reproduces): SHA-256 in counter mode over a seed. Never for keys in use.
public final class SeededRandom: RandomSource, @unchecked Sendable {
    private var counter: UInt64 = 0
    private let seed: [UInt8]
    private let lock = NSLock()
    public init(seed: String = "vfido tests") { self.seed = Array(seed.utf8) }
    public func bytes(_ count: Int) -> [UInt8] {
        lock.lock()
        defer { lock.unlock() }
        var out: [UInt8] = []
        while out.count < count {
            counter += 1
            out += SHA256.hash(data: seed + withUnsafeBytes(of: counter) { Array($0) })
        }
        return Array(out.prefix(count))
    }
}
