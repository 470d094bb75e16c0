import ArgumentParser
import Bytes
import Foundation
import VirtualKey

/// Options every command that opens a key's state shares.
struct StateOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp(
        "Directory holding the key's credentials, keys and attestation certificates (created 0700, files 0600).",
        discussion: "Default: $XDG_DATA_HOME/vfido, else ~/.local/share/vfido.", valueName: "dir"))
    var state: String?

    @Flag(name: .long, help: "Keep everything in memory: a fresh key that forgets all on exit.")
    var ephemeral = false

    var directory: URL? {
        if ephemeral { return nil }
        return state.map { URL(fileURLWithPath: $0) } ?? DaemonConfiguration.defaultStateDirectory
    }
}

/// HOST:PORT, for listening addresses.
/// A USB vendor:product pair in hex, like 1209:0001.
struct USBIdentifiers: ExpressibleByArgument, CustomStringConvertible {
    var vendor: UInt16
    var product: UInt16

    init?(argument: String) {
        let parts = argument.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, parts.allSatisfy({ (1...4).contains($0.count) }),
              let vendor = UInt16(parts[0], radix: 16), let product = UInt16(parts[1], radix: 16) else { return nil }
        self.vendor = vendor
        self.product = product
    }

    init(vendor: UInt16, product: UInt16) {
        self.vendor = vendor
        self.product = product
    }

    var description: String { (vendor.bigEndianBytes.hex + ":" + product.bigEndianBytes.hex) }
}

struct HostPort: ExpressibleByArgument, CustomStringConvertible {
    var host: String
    var port: Int

    init?(argument: String) {
        guard let colon = argument.lastIndex(of: ":"), let port = Int(argument[argument.index(after: colon)...]),
              (0...65535).contains(port) else { return nil }
        host = String(argument[..<colon]).trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
        self.port = port
    }

    init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    var isLoopback: Bool { host == "127.0.0.1" || host == "localhost" || host == "::1" || host.hasPrefix("127.") }
    var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}
