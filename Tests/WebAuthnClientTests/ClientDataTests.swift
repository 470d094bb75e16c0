import Bytes
import Foundation
import Testing
@testable import WebAuthnClient

/// clientDataJSON bytes as browsers write them (L3 §5.8.1.1): verifiers hash them unparsed.
struct ClientDataTests {
    @Test func keysInTheFixedOrder() {
        let data = ClientData(type: .create, challenge: "AAEC-_8", origin: "http://localhost:8080")
        #expect(String(decoding: data.json, as: UTF8.self)
                == #"{"type":"webauthn.create","challenge":"AAEC-_8","origin":"http://localhost:8080","crossOrigin":false}"#)
        let framed = ClientData(type: .get, challenge: "AAEC", origin: "https://rp.example", crossOrigin: true, topOrigin: "https://top.example")
        #expect(String(decoding: framed.json, as: UTF8.self)
                == #"{"type":"webauthn.get","challenge":"AAEC","origin":"https://rp.example","crossOrigin":true,"topOrigin":"https://top.example"}"#)
    }

    @Test func ccdToStringEscapesOnlyQuotesBackslashesAndControls() {
        let data = ClientData(type: .get, challenge: "c", origin: "https://é.example/\"\\\u{01}\u{1F}/<>")
        let text = String(decoding: data.json, as: UTF8.self)
        #expect(text.contains(#""origin":"https://é.example/\"\\\u0001\u001f/<>""#))
        // Still JSON a server can parse, with the same origin.
        let parsed = try? JSONSerialization.jsonObject(with: Data(data.json)) as? [String: Any]
        #expect(parsed?["origin"] as? String == "https://é.example/\"\\\u{01}\u{1F}/<>")
    }

    @Test func base64URLRoundTripsAndAcceptsBothAlphabets() {
        let bytes: [UInt8] = [0xFB, 0xFF, 0xBF, 0x00, 0x01]
        #expect(Base64URL.encode(bytes) == "-_-_AAE")
        #expect(Base64URL.decode("-_-_AAE") == bytes)
        #expect(Base64URL.decode("+/+/AAE=") == bytes)
        #expect(Base64URL.decode("not base64!") == nil)
    }
}
