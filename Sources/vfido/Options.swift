import ArgumentParser
import Bytes
import Foundation
import KeyFile
import VirtualKey

/// Options every command that opens a key's state shares.
struct StateOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp(
        "Directory holding the key's credentials, keys and attestation certificates (created 0700, files 0600).",
        discussion: "Default: $XDG_DATA_HOME/vfido, else ~/.local/share/vfido.", valueName: "dir"))
    var state: String?

    @Flag(name: .long, help: "Keep everything in memory: a fresh key that forgets all on exit.")
    var ephemeral = false

    @Option(name: .long, help: ArgumentHelp(
        "Read the passphrase that seals the key files (storage.key, rp-signing.key) from this file's first line.",
        discussion: "Without it: --passphrase-prompt, else $VFIDO_PASSPHRASE, else the systemd credential vfido.passphrase ($CREDENTIALS_DIRECTORY), else none (the key files lie in clear, 0600). See docs/security.md.",
        valueName: "file"))
    var passphraseFile: String?

    @Flag(name: .long, help: "Ask for that passphrase on the terminal.")
    var passphrasePrompt = false

    var directory: URL? {
        if ephemeral { return nil }
        return state.map { URL(fileURLWithPath: $0) } ?? DaemonConfiguration.defaultStateDirectory
    }

    /// What protects the key files, from the first source given. Call once: it may prompt.
    func protection() throws -> KeyProtection {
        guard !ephemeral else { return .fileMode }
        if passphraseFile != nil && passphrasePrompt { throw ValidationError("give --passphrase-file or --passphrase-prompt, not both") }
        let environment = ProcessInfo.processInfo.environment
        if let passphraseFile { return try Passphrase.read(file: passphraseFile, what: "--passphrase-file") }
        if passphrasePrompt { return try Passphrase.prompt("passphrase for \(directory?.path ?? "the key")") }
        if let value = environment["VFIDO_PASSPHRASE"] { return try Passphrase.checked(Array(value.utf8), what: "VFIDO_PASSPHRASE") }
        if let credentials = environment["CREDENTIALS_DIRECTORY"] {
            let file = credentials + "/vfido.passphrase"
            if FileManager.default.fileExists(atPath: file) { return try Passphrase.read(file: file, what: "the systemd credential vfido.passphrase") }
        }
        return .fileMode
    }
}

/// Reading a passphrase from a file or the terminal.
enum Passphrase {
    static let maxLength = 1024

    static func checked(_ bytes: [UInt8], what: String) throws -> KeyProtection {
        guard !bytes.isEmpty else { throw ValidationError("\(what): the passphrase is empty") }
        guard bytes.count <= maxLength else { throw ValidationError("\(what): the passphrase is longer than \(maxLength) bytes") }
        return .passphrase(bytes)
    }

    /// A new passphrase: from `file`'s first line, else the environment variable `variable`, else
    /// the terminal, asked twice.
    static func new(file: String?, fileOption: String, variable: String, question: String) throws -> KeyProtection {
        if let file { return try read(file: file, what: fileOption) }
        if let value = ProcessInfo.processInfo.environment[variable] { return try checked(Array(value.utf8), what: variable) }
        let first = try prompt(question)
        guard try prompt("the passphrase again") == first else { throw ValidationError("the two passphrases differ; nothing was changed") }
        return first
    }

    /// A file's first line (a file written by `echo` ends in a newline that is not part of it).
    static func read(file: String, what: String) throws -> KeyProtection {
        guard let data = FileManager.default.contents(atPath: file) else { throw ValidationError("\(what): cannot read \(file)") }
        return try checked(Array(data.prefix { $0 != 0x0A && $0 != 0x0D }), what: what)
    }

    /// Asks on the controlling terminal with echo off.
    static func prompt(_ question: String) throws -> KeyProtection {
        let tty = open("/dev/tty", O_RDWR | O_CLOEXEC)
        guard tty >= 0 else { throw ValidationError("--passphrase-prompt: there is no terminal to ask on") }
        defer { close(tty) }
        var saved = termios()
        let hasTermios = tcgetattr(tty, &saved) == 0
        if hasTermios {
            var quiet = saved
            quiet.c_lflag &= ~tcflag_t(ECHO)
            tcsetattr(tty, TCSAFLUSH, &quiet)
        }
        defer { if hasTermios { tcsetattr(tty, TCSAFLUSH, &saved) } }
        let message = Array("vfido: \(question): ".utf8)
        _ = message.withUnsafeBytes { write(tty, $0.baseAddress, $0.count) }
        var line: [UInt8] = []
        var byte: UInt8 = 0
        while Glibc.read(tty, &byte, 1) == 1, byte != 0x0A, byte != 0x0D, line.count <= maxLength { line.append(byte) }
        _ = write(tty, "\n", 1)
        return try checked(line, what: "--passphrase-prompt")
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
