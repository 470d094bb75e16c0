// libFuzzer target for the relying party's verifier: what an authenticator (or a hostile
// client) sends it. The input is a 2-byte little-endian length, that many bytes of
// clientDataJSON, then an attestation object; the registration is verified against a fixed
// expectation (challenge of 16 zero bytes, origin http://localhost:8080), so mutations that keep
// the client data get through to the attestation formats, COSE keys and certificate chains. The
// same tail bytes go to the authenticator-data parser and, as an assertion, to §7.2's checks.
// Invariants: nothing traps; parsed authenticator data keeps exactly its bytes and a credential
// ID within the spec's 1023 bytes; a registration that verifies has UP set, an allowed
// algorithm and a credential ID within bounds.
import Foundation
import FuzzSupport
import RelyingParty

let relyingParty = RelyingParty(identity: RelyingPartyIdentity(id: "localhost", name: "fuzz", origins: ["http://localhost:8080"]))
let challenge = [UInt8](repeating: 0, count: 16)
/// VERBOSE=1 in the replayer prints how each registration ended.
let verbose = ProcessInfo.processInfo.environment["VERBOSE"] != nil

func run(_ input: [UInt8]) {
    guard input.count >= 2 else { return }
    let split = min(Int(input[0]) | Int(input[1]) << 8, input.count - 2)
    let clientDataJSON = Array(input[2..<(2 + split)])
    let tail = Array(input[(2 + split)...])

    if let authData = try? AuthenticatorData(tail) {
        precondition(authData.raw == tail, "authenticator data does not keep its bytes")
        precondition((authData.attestedCredential?.credentialID.count ?? 0) <= AuthenticatorData.maxCredentialIDLength)
    }
    let expectation = RegistrationExpectation(challenge: challenge, userVerification: .discouraged)
    do {
        let verified = try relyingParty.verifyRegistration(RegistrationResponse(clientDataJSON: clientDataJSON, attestationObject: tail),
                                                           expecting: expectation)
        if verbose { print("  registration: verified") }
        precondition(verified.flags.contains(.userPresent), "a registration without UP verified")
        precondition(expectation.algorithms.contains(verified.algorithm))
        precondition(!verified.credentialID.isEmpty && verified.credentialID.count <= AuthenticatorData.maxCredentialIDLength)
    } catch {
        if verbose { print("  registration: \(error)") }
    }
    // The same bytes as an assertion's authenticator data, signed by nobody: it must never verify.
    let record = CredentialRecord(id: [1], publicKey: Array(tail.prefix(80)), signCount: 0, userHandle: [2], backupEligible: false)
    let assertion = AssertionResponse(credentialID: [1], clientDataJSON: clientDataJSON, authenticatorData: tail,
                                      signature: Array(tail.suffix(72)), userHandle: [2])
    if (try? relyingParty.verifyAssertion(assertion, credential: record, expecting: AssertionExpectation(challenge: challenge))) != nil {
        // Possible only if the fuzzer forged a signature over its own key and data: worth a look.
        preconditionFailure("an assertion verified with a public key and signature cut from the input")
    }
}

@main
struct Main {
    static func main() { fuzzMain(run) }
}
