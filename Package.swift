// swift-tools-version:6.0
import PackageDescription

// Layers (dependencies point one way; see docs/architecture.md):
//   CBOR  <-  CTAP  <-  CredentialStore  <-  VirtualKey  <-  vfido
//   CTAPHID (knows no CTAP)  <-  VirtualKey
//   CBOR  <-  RelyingParty (knows no CTAP: an independent verifier)  <-  RelyingPartyServer  <-  vfido
let package = Package(
    name: "vfido",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "vfido", targets: ["vfido"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-crypto.git", "3.12.3"..<"5.0.0"),
        .package(url: "https://github.com/apple/swift-certificates.git", from: "1.21.1"),
        .package(url: "https://github.com/apple/swift-asn1.git", from: "1.7.4"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/vapor/jwt-kit.git", from: "5.7.1"),
    ],
    targets: [
        // Strict CBOR reader with hard limits and a canonical (CTAP2) writer. No dependencies.
        .target(name: "CBOR"),
        // Byte packing, hex and base64url: one of each for every module. No dependencies.
        .target(name: "Bytes"),
        // The words of the CTAP2 wire (statuses, command bytes, map keys, COSE labels), shared by
        // the authenticator core and the WebAuthn client. No dependencies.
        .target(name: "CTAPWire"),
        // The authenticator core: a pure state machine over injected environment protocols.
        .target(name: "CTAP", dependencies: [
            "Bytes", "CBOR", "CTAPWire", "CZlib",
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "CryptoExtras", package: "swift-crypto"),
            .product(name: "X509", package: "swift-certificates"),
            .product(name: "SwiftASN1", package: "swift-asn1"),
        ]),
        // Fault injection: seeded, logged lies in what a key sends (CTAPHID frames, CTAP
        // responses, signatures and flags, USB/IP completions), never in what it stores.
        .target(name: "Faults", dependencies: ["Bytes", "CBOR"]),
        // CTAPHID framing and channel state machine. Knows nothing of CTAP.
        .target(name: "CTAPHID", dependencies: ["Bytes"]),
        // USB/IP server and a generic USB HID function. Knows nothing of FIDO.
        .target(name: "USBIP", dependencies: [
            "Bytes",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        // CTAPHID reports over UDP, the simulator convention test tools speak. Knows nothing of FIDO.
        .target(name: "UDPSimulator", dependencies: [
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
        ]),
        // A HID device through Linux's /dev/uhid. Knows nothing of FIDO.
        .target(name: "UHID", dependencies: ["Bytes"]),
        // SQLite from the system (libsqlite3-dev).
        .systemLibrary(name: "CSQLite", providers: [.apt(["libsqlite3-dev"])]),
        // zlib from the system (zlib1g-dev): raw DEFLATE for large blobs (WebAuthn §10.1.5).
        .systemLibrary(name: "CZlib", providers: [.apt(["zlib1g-dev"])]),
        // A thin typed wrapper over SQLite, shared by the key's store and the RP's.
        .target(name: "SQLite", dependencies: ["CSQLite"]),
        // A 32-byte secret in a file of its own, in clear or sealed under a passphrase (scrypt,
        // AES-GCM): the key store's storage key and the RP's token-signing key.
        .target(name: "KeyFile", dependencies: [
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "CryptoExtras", package: "swift-crypto"),
        ]),
        // Durable, encrypted implementation of CTAP.CredentialStore.
        .target(name: "CredentialStore", dependencies: [
            "Bytes", "CTAP", "KeyFile", "SQLite",
            .product(name: "Crypto", package: "swift-crypto"),
        ]),
        // Composition root: wiring transports to the core, prompt policy, logging.
        .target(name: "VirtualKey", dependencies: [
            "Bytes", "CTAP", "CTAPWire", "CTAPHID", "CredentialStore", "Faults", "KeyFile", "UDPSimulator", "USBIP", "UHID",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        // The daemon's HTTP+JSON control API (loopback TCP and the Unix socket), its web
        // inspector and the Pico controller hook, over VirtualKey.
        .target(name: "ControlAPI", dependencies: [
            "Bytes", "CTAP", "Faults", "HTTPAPI", "VirtualKey",
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "NIOCore", package: "swift-nio"),
        ]),
        // WebAuthn relying-party verification (L3 §7.1/§7.2). Shares only CBOR with the key.
        .target(name: "RelyingParty", dependencies: [
            "CBOR",
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "CryptoExtras", package: "swift-crypto"),
            .product(name: "X509", package: "swift-certificates"),
            .product(name: "SwiftASN1", package: "swift-asn1"),
        ]),
        // What every JSON API here shares: the error shape, the body limit, JSON 404s.
        .target(name: "HTTPAPI", dependencies: [.product(name: "Hummingbird", package: "hummingbird")]),
        // The Mosaic-style HTTP API, hosted pages and tokens, over RelyingParty.
        .target(name: "RelyingPartyServer", dependencies: [
            "HTTPAPI", "KeyFile", "RelyingParty", "SQLite",
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "JWTKit", package: "jwt-kit"),
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "NIOCore", package: "swift-nio"),
        ]),
        // The platform half of a browser: options JSON -> CTAP2 over CTAPHID -> PublicKeyCredential JSON.
        // Knows no authenticator internals (it speaks to any key over a HID report transport).
        .target(name: "WebAuthnClient", dependencies: [
            "Bytes", "CBOR", "CTAPWire", "CTAPHID",
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "CryptoExtras", package: "swift-crypto"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
        ]),
        // `vfido e2e`: every seed flow of the relying-party API through the client and a key.
        .target(name: "EndToEnd", dependencies: [
            "Bytes", "WebAuthnClient", "VirtualKey", "CTAP", "RelyingPartyServer",
            .product(name: "Logging", package: "swift-log"),
        ]),
        .executableTarget(name: "vfido", dependencies: [
            "Bytes", "Faults", "KeyFile", "VirtualKey", "ControlAPI", "EndToEnd", "CTAP", "CredentialStore", "RelyingPartyServer", "RelyingParty", "USBIP",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "X509", package: "swift-certificates"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        .executableTarget(name: "vfido-bench", dependencies: [
            "VirtualKey", "CTAP", "CTAPWire", "CBOR", "CTAPHID", "CredentialStore", "CTAPTestSupport", "WebAuthnClient",
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        // libFuzzer targets that need the package's dependencies: the CTAP2 core and the RP's
        // verifier. Fuzz/run.sh builds them with -sanitize=fuzzer and -DFUZZING; in a normal
        // build they replay saved inputs (FuzzSupport holds the entry point of both modes).
        .target(name: "FuzzSupport", path: "Fuzz/Support"),
        .executableTarget(name: "vfido-fuzz-ctap", dependencies: [
                              "Bytes", "CTAP", "CTAPWire", "CBOR", "CredentialStore", "FuzzSupport", "CTAPTestSupport", "WebAuthnClient",
                              .product(name: "Crypto", package: "swift-crypto"),
                              .product(name: "CryptoExtras", package: "swift-crypto"),
                          ],
                          path: "Fuzz/CTAP"),
        // Deterministic randomness shared by the CTAP unit tests and the CTAP fuzz target.
        .target(name: "CTAPTestSupport", dependencies: ["CTAP", .product(name: "Crypto", package: "swift-crypto")],
                path: "Tests/CTAPTestSupport"),
        .executableTarget(name: "vfido-fuzz-rp", dependencies: ["RelyingParty", "FuzzSupport"], path: "Fuzz/RP"),
        .testTarget(name: "CBORTests", dependencies: ["CBOR"]),
        .testTarget(name: "BytesTests", dependencies: ["Bytes"]),
        .testTarget(name: "SQLiteTests", dependencies: ["SQLite"]),
        .testTarget(name: "KeyFileTests", dependencies: ["KeyFile"]),
        .testTarget(name: "CTAPTests", dependencies: [
            "CTAP", "CTAPWire", "CBOR", "CredentialStore", "CTAPTestSupport",
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "CryptoExtras", package: "swift-crypto"),
            .product(name: "X509", package: "swift-certificates"),
            .product(name: "SwiftASN1", package: "swift-asn1"),
        ]),
        .testTarget(name: "CTAPHIDTests", dependencies: ["CTAPHID"]),
        .testTarget(name: "FaultsTests", dependencies: ["Faults", "CBOR", "Bytes"]),
        .testTarget(name: "UHIDTests", dependencies: ["UHID"]),
        .testTarget(name: "CredentialStoreTests", dependencies: ["CredentialStore", "CTAP"]),
        .testTarget(name: "USBIPTests", dependencies: [
            "USBIP",
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        // The verifier and the HTTP API, fed by a software key written for the tests (not vfido's).
        .testTarget(name: "RelyingPartyTests", dependencies: [
            "KeyFile", "RelyingParty", "RelyingPartyServer", "CBOR",
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "CryptoExtras", package: "swift-crypto"),
            .product(name: "X509", package: "swift-certificates"),
            .product(name: "SwiftASN1", package: "swift-asn1"),
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "HummingbirdTesting", package: "hummingbird"),
        ]),
        .testTarget(name: "WebAuthnClientTests", dependencies: [
            "WebAuthnClient", "EndToEnd", "Bytes", "CBOR", "CTAP",
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        .testTarget(name: "ControlAPITests", dependencies: [
            "Bytes", "ControlAPI", "VirtualKey",
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "HummingbirdTesting", package: "hummingbird"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        .testTarget(name: "VirtualKeyTests", dependencies: [
            "VirtualKey", "Bytes", "CTAP", "CBOR", "UDPSimulator", .product(name: "Logging", package: "swift-log"),
        ]),
    ],
    swiftLanguageModes: [.v6]
)
