import ArgumentParser
import Foundation
import KeyFile
import VirtualKey

/// A passphrase for a key's built-in user verification, asked through pinentry.
struct UVCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "uv",
        abstract: "Give a key's built-in user verification a passphrase (asked through pinentry), or take it away.",
        discussion: """
            With --builtin-uv and --presence pinentry or notify, "verify it is you" then asks for \
            this passphrase in the pinentry dialog (GETPIN) instead of a plain confirmation; a \
            wrong one fails verification and counts down the key's UV retries, as a fingerprint \
            that does not match. It is kept as <state>/uv.key (key n: <state>/key-n/uv.key), a \
            random key file sealed under the passphrase itself (scrypt, AES-GCM), so that \
            checking a passphrase is opening the file and nothing in clear can be compared \
            with. The daemon must not be running.
            """,
        subcommands: [Set.self, Remove.self])

    struct Set: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Set (or change) the passphrase.")
        @OptionGroup var stateOptions: StateOptions
        @Option(help: "Which key (1 is the state directory's own).") var key = 1
        @Option(name: .long, help: ArgumentHelp("Read the passphrase from this file's first line (else $VFIDO_UV_PASSPHRASE, else the terminal, asked twice).", valueName: "file"))
        var uvPassphraseFile: String?

        func run() throws {
            let passphrase = try Passphrase.new(file: uvPassphraseFile, fileOption: "--uv-passphrase-file", variable: "VFIDO_UV_PASSPHRASE",
                                                question: "key \(key)'s verification passphrase")
            let file = try UVCommand.file(stateOptions, key: key)
            let lock = try StateLock.acquire(stateOptions.directory!)
            defer { lock.release() }
            try KeyFile.write((0..<KeyFile.keySize).map { _ in UInt8.random(in: .min ... .max) }, to: file, protection: passphrase)
            print("key \(key): verification asks for the passphrase (\(file.path))")
        }
    }

    struct Remove: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove the passphrase: verification asks for a confirmation again.")
        @OptionGroup var stateOptions: StateOptions
        @Option(help: "Which key (1 is the state directory's own).") var key = 1

        func run() throws {
            let file = try UVCommand.file(stateOptions, key: key)
            let lock = try StateLock.acquire(stateOptions.directory!)
            defer { lock.release() }
            guard FileManager.default.fileExists(atPath: file.path) else { throw ValidationError("key \(key) has no verification passphrase") }
            try FileManager.default.removeItem(at: file)
            print("key \(key): verification asks for a confirmation")
        }
    }

    /// Where key `key`'s passphrase lives; its state directory must exist.
    static func file(_ stateOptions: StateOptions, key: Int) throws -> URL {
        guard let directory = stateOptions.directory else { throw ValidationError("an --ephemeral key keeps nothing: give --state") }
        let configuration = DaemonConfiguration(stateDirectory: directory)
        guard key >= 1, let keyDirectory = configuration.stateDirectory(forKey: key),
              FileManager.default.fileExists(atPath: keyDirectory.path), let file = configuration.uvKeyFile(forKey: key) else {
            throw ValidationError("key \(key) has no state directory yet: start `vfido serve` (with --keys \(key)) once first")
        }
        return file
    }
}
