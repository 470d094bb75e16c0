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
        discussion: "list and rm read the store itself; import and export talk to the running daemon's control API.",
        subcommands: [List.self, Remove.self, Import.self, Export.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List resident credentials: id, RP, user, algorithm.")
        @OptionGroup var stateOptions: StateOptions

        func run() async throws {
            guard let directory = stateOptions.directory else { throw ValidationError("an --ephemeral key has no credentials to list") }
            let store = try SQLiteCredentialStore(directory: directory, protection: stateOptions.protection())
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
            let store = try SQLiteCredentialStore(directory: directory, protection: stateOptions.protection())
            guard try store.storedCredential(id: bytes) != nil else { throw ValidationError("no resident credential \(id)") }
            try store.deleteCredential(id: bytes)
            print("deleted \(id)")
        }
    }

    struct Import: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add credentials to a running key: WebDriver credential JSON (one or an array) or a CXF export.",
            discussion: "Each credential needs credentialId, isResidentCredential, rpId and privateKey (PKCS#8, base64url); see docs/control-api.md. A CXF file's passkey items become resident credentials.")
        @OptionGroup var options: ControlOptions
        @Argument(help: "The JSON file ('-' reads standard input).") var file: String

        func run() throws {
            let data = file == "-" ? FileHandle.standardInput.readDataToEndOfFile() : FileManager.default.contents(atPath: file)
            guard let data, let json = try? JSONSerialization.jsonObject(with: data) else { throw ValidationError("\(file) is not JSON") }
            let credentials = try Self.credentials(in: json)
            for credential in credentials {
                let added = try options.call("POST", options.keyPath("/credentials"), credential) as? [String: Any]
                print("added \(added?["credentialId"] as? String ?? "?")  rp=\(added?["rpId"] as? String ?? "?")  user=\(added?["userName"] as? String ?? "-")")
            }
        }

        /// What an export adds for reading (algorithm, publicKey, createdAt) is not a field to set;
        /// a null is an absent field.
        static func writable(_ credential: [String: Any]) -> [String: Any] {
            credential.filter { key, value in !["algorithm", "publicKey", "createdAt"].contains(key) && !(value is NSNull) }
        }

        /// WebDriver objects as they are; CXF passkey items translated to them.
        static func credentials(in json: Any) throws -> [[String: Any]] {
            if let one = json as? [String: Any], let accounts = one["accounts"] as? [[String: Any]] {
                return accounts.flatMap { ($0["items"] as? [[String: Any]]) ?? [] }
                    .flatMap { ($0["credentials"] as? [[String: Any]]) ?? [] }
                    .filter { $0["type"] as? String == "passkey" }
                    .map { p in
                        var c: [String: Any] = ["credentialId": p["credentialId"] ?? "", "isResidentCredential": true, "rpId": p["rpId"] ?? "",
                                                "privateKey": p["key"] ?? "", "userHandle": p["userHandle"] ?? ""]
                        if let name = p["username"] as? String, !name.isEmpty { c["userName"] = name }
                        if let name = p["userDisplayName"] as? String, !name.isEmpty { c["userDisplayName"] = name }
                        return c
                    }
            }
            if let one = json as? [String: Any] { return [writable(one)] }
            if let many = json as? [[String: Any]] { return many.map(writable) }
            throw ValidationError("expected a credential object, an array of them, or a CXF export")
        }
    }

    struct Export: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Export a running key's stored credentials WITH their private keys.",
            discussion: "The output holds private keys in clear: --out writes it 0600. Formats: webdriver (the credential JSON `vfido creds import` and WebDriver's Add Credential take) or cxf (the FIDO Credential Exchange Format).")
        @OptionGroup var options: ControlOptions
        @Option(name: .long, help: ArgumentHelp("webdriver or cxf.", valueName: "format")) var format = "webdriver"
        @Option(name: .long, help: ArgumentHelp("Write to this file (mode 0600) instead of standard output.", valueName: "path")) var out: String?

        func run() throws {
            let exported = try options.call("POST", options.keyPath("/credentials/export"), ["format": format])
            let data = try JSONSerialization.data(withJSONObject: exported ?? [], options: [.prettyPrinted, .sortedKeys])
            guard let out else {
                print(String(decoding: data, as: UTF8.self))
                return
            }
            let fd = open(out, O_CREAT | O_WRONLY | O_TRUNC | O_CLOEXEC, 0o600)
            guard fd >= 0 else { throw ValidationError("cannot write \(out): errno \(errno)") }
            fchmod(fd, 0o600)
            let bytes = Array(data)
            let written = write(fd, bytes, bytes.count)
            close(fd)
            guard written == bytes.count else { throw ValidationError("cannot write \(out)") }
            FileHandle.standardError.write(Data("vfido: wrote \(out) (0600): it holds private keys in clear\n".utf8))
        }
    }
}
