import ArgumentParser
import Foundation
import KeyFile
import Logging
import RelyingParty
import RelyingPartyServer
import X509

/// The bundled relying party's settings, shared by `vfido rp serve` and `vfido serve`.
struct RPOptions: ParsableArguments {
    @Option(name: .customLong("rp"), help: ArgumentHelp(
        "Where the bundled relying party listens (HTTP).",
        discussion: "Default: 127.0.0.1:8080. Port 0 (any free port) needs --rp-origin, since the default origin names the port.",
        valueName: "host:port"))
    var listen: HostPort?

    @Option(name: .customLong("rp-id"), help: ArgumentHelp("The RP ID: a domain the origins belong to.", valueName: "domain"))
    var rpID = "localhost"

    @Option(name: .customLong("rp-origin"), help: ArgumentHelp(
        "An origin allowed in clientDataJSON; repeatable.", discussion: "Default: http://<rp-id>:<port>.", valueName: "origin"))
    var origins: [String] = []

    @Option(name: .customLong("rp-client"), help: ArgumentHelp(
        "An API client as id:secret (for /oidc/token); repeatable.", discussion: "Default: vfido-demo:vfido-demo-secret.",
        valueName: "id:secret"))
    var clients: [String] = []

    @Option(name: .customLong("rp-redirect-prefix"), help: ArgumentHelp(
        "A prefix every redirect_uri of the clients must start with; repeatable.",
        discussion: "Default: http://localhost, http://127.0.0.1 and /demo/.", valueName: "uri"))
    var redirectPrefixes: [String] = []

    @Option(name: .customLong("rp-attestation-root"), help: ArgumentHelp(
        "A PEM certificate the RP trusts for attestation; repeatable. Options then ask for direct attestation.",
        valueName: "file"))
    var attestationRoots: [String] = []

    @Flag(name: .customLong("rp-require-trusted-attestation"), help: "Refuse registrations whose attestation does not chain to an --rp-attestation-root.")
    var requireTrusted = false

    @Option(name: .customLong("rp-ceremony-timeout"), help: ArgumentHelp(
        "Default lifetime of a WebAuthn challenge and of a cross-device flow; also the shortest timeout a request may ask for if under 30.",
        valueName: "seconds"))
    var ceremonyTimeout: Double = 300

    @Option(name: .customLong("rp-resident-key"), help: ArgumentHelp(
        "What registration options ask for: required, preferred or discouraged.", valueName: "requirement"))
    var residentKey: String = "preferred"

    @Option(name: .customLong("rp-user-verification"), help: ArgumentHelp(
        "What every ceremony asks for, and the RP then enforces: required, preferred or discouraged.", valueName: "requirement"))
    var userVerification: String = "preferred"

    @Option(name: .customLong("rp-database"), help: ArgumentHelp(
        "The relying party's SQLite file, or :memory:.", discussion: "Default: <state>/rp.sqlite3 (memory with --ephemeral).",
        valueName: "path"))
    var database: String?

    var address: HostPort { listen ?? HostPort(host: "127.0.0.1", port: 8080) }

    func validate(allowRemote: Bool) throws {
        if !allowRemote && !address.isLoopback {
            throw ValidationError("--rp \(address) is not a loopback address; add --allow-remote if you mean it")
        }
        // The default origin (http://<rp-id>:<port>) is fixed before the socket is bound: with
        // port 0 it would name port 0 and every ceremony would fail on its origin.
        if address.port == 0 && origins.isEmpty {
            throw ValidationError("--rp \(address) lets the system pick the port, so the origin cannot be known in advance; give --rp-origin too")
        }
        if ResidentKeyRequirement(rawValue: residentKey) == nil { throw ValidationError("--rp-resident-key must be required, preferred or discouraged") }
        if UserVerificationRequirement(rawValue: userVerification) == nil { throw ValidationError("--rp-user-verification must be required, preferred or discouraged") }
        if !(1...3600).contains(ceremonyTimeout) { throw ValidationError("--rp-ceremony-timeout must be between 1 and 3600 seconds") }
        for client in clients where !client.contains(":") { throw ValidationError("--rp-client \(client) must look like id:secret") }
    }

    func configuration(stateDirectory: URL?, protection: KeyProtection) throws -> RPConfiguration {
        let path = database ?? stateDirectory.map { $0.appendingPathComponent(RPConfiguration.databaseName).path } ?? ":memory:"
        let prefixes = redirectPrefixes.isEmpty ? RPConfiguration.demoClient.redirectURIPrefixes : redirectPrefixes
        let parsedClients = clients.isEmpty
            ? [RPClient(id: RPConfiguration.demoClient.id, secret: RPConfiguration.demoClient.secret, redirectURIPrefixes: prefixes)]
            : clients.map { spec in
                let colon = spec.firstIndex(of: ":")!
                return RPClient(id: String(spec[..<colon]), secret: String(spec[spec.index(after: colon)...]), redirectURIPrefixes: prefixes)
            }
        var configuration = RPConfiguration(host: address.host, port: address.port, rpID: rpID, origins: origins.isEmpty ? nil : origins,
                                            clients: parsedClients, databasePath: path)
        configuration.signingKeyProtection = protection
        if !clients.isEmpty && !parsedClients.contains(where: { $0.id == RPConfiguration.demoClient.id }) {
            configuration.clients.append(RPConfiguration.demoClient)  // the demo page's own client
        }
        configuration.ceremonyTimeout = ceremonyTimeout
        configuration.minimumTimeout = min(30, ceremonyTimeout)
        configuration.crossDeviceTimeout = ceremonyTimeout
        configuration.residentKey = ResidentKeyRequirement(rawValue: residentKey) ?? .preferred
        configuration.userVerification = UserVerificationRequirement(rawValue: userVerification) ?? .preferred
        if !attestationRoots.isEmpty {
            configuration.attestation.trustRoots = try attestationRoots.map { file in
                do {
                    return try Certificate(pemEncoded: String(contentsOfFile: file, encoding: .utf8))
                } catch {
                    throw ValidationError("--rp-attestation-root \(file): not a readable PEM certificate (\(error))")
                }
            }
            configuration.attestationConveyance = "direct"
        }
        configuration.attestation.requireTrusted = requireTrusted
        return configuration
    }

    /// Lines for a banner: where the RP is and what to try first.
    static func banner(_ running: RPServer.Running, _ configuration: RPConfiguration) -> [String] {
        let base = "http://\(configuration.identity.id):\(running.port)"
        return ["  relying party \(base)/   (demo page; API under \(base)\(RPRoutes.apiBase)/)",
                "                RP ID \(configuration.identity.id), origins \(configuration.identity.origins.sorted().joined(separator: " ")), "
                    + "client \(configuration.clients.map(\.id).joined(separator: ", "))",
                "                data \(configuration.databasePath)"]
    }
}

struct RelyingPartyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rp",
        abstract: "The bundled test relying party (a Mosaic-style WebAuthn API, hosted pages, a demo).",
        subcommands: [RPServe.self])
}

struct RPServe: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the relying party alone, until interrupted.",
        discussion: """
            Serves the WebAuthn API under /cis/v1/auth/webauthn/ (registration, authentication, \
            cross-device, hosted registration hints), the auth-session variant under /cis/v1/, \
            /oidc/token, the hosted passkey registration page \
            (/cis/hosted/passkey/passkey-registration?register_webauthn_cred_token=...), the hosted \
            login page (/cis/oidc/auth) and a demo page at /. `vfido serve` runs the same RP next \
            to the key; use this command to test another authenticator, or to run the RP elsewhere.
            """)

    @OptionGroup var stateOptions: StateOptions
    @OptionGroup var rp: RPOptions

    @Flag(name: .long, help: "Allow an --rp address beyond loopback.")
    var allowRemote = false

    @Option(name: .long, help: ArgumentHelp("Log level: trace, debug, info, notice, warning, error.", valueName: "level"))
    var logLevel: Logger.Level = .info

    func validate() throws { try rp.validate(allowRemote: allowRemote) }

    func run() async throws {
        LoggingSystem.bootstrap { StreamLogHandler.standardError(label: $0) }
        var logger = Logger(label: "vfido-rp")
        logger.logLevel = logLevel
        let termination = TerminationSignal()
        let configuration = try rp.configuration(stateDirectory: stateOptions.directory, protection: stateOptions.protection())
        let running: RPServer.Running
        do {
            running = try await RPServer.start(configuration, logger: logger)
        } catch {
            FileHandle.standardError.write(Data("vfido rp serve: \(error)\n".utf8))
            throw ExitCode(1)
        }
        print((["vfido \(VFIDO.version): the test relying party is ready"] + RPOptions.banner(running, configuration) + ["Stop with Ctrl-C."])
            .joined(separator: "\n"))
        fflush(nil)
        await termination.wait()
        await running.stop()
    }
}
