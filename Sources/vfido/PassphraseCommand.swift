import ArgumentParser
import CredentialStore
import Foundation
import KeyFile
import RelyingPartyServer
import VirtualKey

/// Seals a state directory's key files under a passphrase, changes it, or takes it off.
struct PassphraseCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "passphrase",
        abstract: "Seal the key files under a passphrase, change it, or remove it.",
        discussion: """
            The key files are every key's storage.key (which seals its credentials' private keys) \
            and the RP's rp-signing.key. The current passphrase comes from the usual sources \
            (--passphrase-file, --passphrase-prompt, VFIDO_PASSPHRASE, the systemd credential); \
            every file is opened with it before any is rewritten. The daemon must not be running.
            """,
        subcommands: [Set.self, Remove.self])

    struct Set: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Seal the key files under a new passphrase (or change it).")
        @OptionGroup var stateOptions: StateOptions
        @Option(name: .long, help: ArgumentHelp("Read the new passphrase from this file's first line (else $VFIDO_NEW_PASSPHRASE, else the terminal, asked twice).", valueName: "file"))
        var newPassphraseFile: String?

        func run() throws {
            let new = try Passphrase.new(file: newPassphraseFile, fileOption: "--new-passphrase-file", variable: "VFIDO_NEW_PASSPHRASE",
                                         question: "new passphrase")
            try reseal(stateOptions, to: new)
        }
    }

    struct Remove: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Put the key files back in clear (protected by their 0600 mode only).")
        @OptionGroup var stateOptions: StateOptions

        func run() throws { try reseal(stateOptions, to: .fileMode) }
    }

    /// Opens every key file of the state directory with the current protection, then rewrites
    /// each (atomically) with the new one.
    static func reseal(_ stateOptions: StateOptions, to new: KeyProtection) throws {
        guard let directory = stateOptions.directory else { throw ValidationError("an --ephemeral key has no key files") }
        let lock = try StateLock.acquire(directory)
        defer { lock.release() }
        let files = keyFiles(in: directory)
        guard !files.isEmpty else { throw ValidationError("\(directory.path) holds no key files yet: start `vfido serve` once, with the passphrase, to create them sealed") }
        let current = try stateOptions.protection()
        let keys = try files.map { try KeyFile.load($0, protection: current) }
        for (file, key) in zip(files, keys) {
            try KeyFile.write(key, to: file, protection: new)
            print("\(new == .fileMode ? "in clear" : "sealed")  \(file.path)")
        }
    }

    /// Every key's storage.key and the RP's signing key (for its default database).
    static func keyFiles(in directory: URL) -> [URL] {
        let storageKeys = DaemonConfiguration(stateDirectory: directory).existingKeyDirectories()
            .map { $0.appendingPathComponent(SQLiteCredentialStore.storageKeyName) }
        let rpSigningKey = RPConfiguration(databasePath: directory.appendingPathComponent(RPConfiguration.databaseName).path).signingKeyPath
        return (storageKeys + [rpSigningKey].compactMap { $0.map(URL.init(fileURLWithPath:)) })
            .filter { FileManager.default.fileExists(atPath: $0.path) }
    }
}
