import ArgumentParser
import VirtualKey

struct Attestation: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show the key's attestation certificates.",
        subcommands: [Root.self])

    struct Root: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the attestation root certificate (PEM).",
            discussion: """
                The root is created with the key's state on first start. Give it to a relying \
                party as a trust anchor: the x5c chain in vfido's `packed` attestation statements \
                chains to it.
                """)

        @OptionGroup var stateOptions: StateOptions

        func run() async throws {
            let authenticator = try makeAuthenticator(configuration: DaemonConfiguration(stateDirectory: stateOptions.directory, keyProtection: stateOptions.protection()))
            print(try await authenticator.attestationRootPEM())
        }
    }
}
