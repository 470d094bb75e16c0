import ArgumentParser
import Bytes
import CredentialStore
import CTAP
import Foundation
import VirtualKey

struct Credentials: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "creds",
        abstract: "Manage the key's resident credentials (passkeys).",
        subcommands: [List.self, Remove.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List resident credentials: id, RP, user, algorithm.")
        @OptionGroup var stateOptions: StateOptions

        func run() async throws {
            guard let directory = stateOptions.directory else { throw ValidationError("an --ephemeral key has no credentials to list") }
            let store = try SQLiteCredentialStore(directory: directory)
            let all = try store.allResidentCredentials()
            if all.isEmpty { print("no resident credentials") }
            for c in all {
                print("\(c.id.hex)  rp=\(c.rpId)  user=\(c.userName ?? "-") (\(c.userId.hex))  \(c.algorithm)")
            }
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "rm", abstract: "Delete a resident credential by its hex id.")
        @OptionGroup var stateOptions: StateOptions
        @Argument(help: "The credential id, in hex, as `vfido creds list` prints it.") var id: String

        func run() async throws {
            guard let directory = stateOptions.directory else { throw ValidationError("an --ephemeral key has no credentials") }
            guard id.count % 2 == 0, let bytes = [UInt8](hex: id) else { throw ValidationError("not a hex credential id: \(id)") }
            let store = try SQLiteCredentialStore(directory: directory)
            guard try store.residentCredential(id: bytes) != nil else { throw ValidationError("no resident credential \(id)") }
            try store.deleteResidentCredential(id: bytes)
            print("deleted \(id)")
        }
    }
}
