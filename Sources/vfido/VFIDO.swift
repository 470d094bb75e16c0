import ArgumentParser

@main
struct VFIDO: AsyncParsableCommand {
    static let version = "0.1.0"
    static let configuration = CommandConfiguration(
        commandName: "vfido",
        abstract: "A virtual FIDO2 security key.",
        discussion: """
            vfido behaves like a USB FIDO2 security key (CTAPHID framing, CTAP 2.1 commands, \
            resident keys) and shows itself to clients over the UDP simulator convention: one \
            64-byte HID report per datagram on 127.0.0.1:8111.

            Start with `vfido serve`; its output says how to connect python-fido2 or libfido2,
            and where the bundled test relying party (http://localhost:8080) listens.
            State (credentials, keys, attestation) lives in $XDG_DATA_HOME/vfido, or
            ~/.local/share/vfido, unless --state says otherwise.
            """,
        version: version,
        subcommands: [Serve.self, RelyingPartyCommand.self, EndToEndCommand.self, Attestation.self, Credentials.self, PassphraseCommand.self, UVCommand.self, ProfileCommand.self, FaultsCommand.self, FuzzHost.self, Keys.self, Approve.self, Deny.self, Prompts.self, Presence.self,
                      Overrides.self, Events.self, PowerCycle.self, Unplug.self, Plug.self, API.self])
}
