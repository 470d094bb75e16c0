import CTAP
import Foundation
import Testing
@testable import VirtualKey

@Suite struct DeviceProfileTests {
    /// The `vfido` profile is the key vfido serves without one: applying it changes nothing.
    @Test func theVfidoProfileIsTheDefaultKey() throws {
        let defaults = DaemonConfiguration(stateDirectory: nil)
        var profiled = defaults
        try DeviceProfile.vfido.apply(to: &profiled)
        #expect(profiled.vendorId == defaults.vendorId && profiled.productId == defaults.productId)
        #expect(profiled.manufacturer == defaults.manufacturer && profiled.product == defaults.product)
        #expect(profiled.deviceVersion == defaults.deviceVersion)
        let (a, b) = (profiled.authenticator, defaults.authenticator)
        #expect(a.aaguid == b.aaguid && a.firmwareVersion == b.firmwareVersion && a.maxMessageSize == b.maxMessageSize)
        #expect(a.maxCredentialCountInList == b.maxCredentialCountInList && a.maxResidentCredentials == b.maxResidentCredentials)
        #expect(a.algorithms == b.algorithms && a.transports == b.transports)
        #expect(a.features.level == b.features.level && a.features.extensions == b.features.extensions)
        #expect(a.features.pinUvAuthProtocols == b.features.pinUvAuthProtocols && a.features.largeBlobs == b.features.largeBlobs)
    }

    /// Every built-in profile survives `vfido profile show` -> file -> `--profile file`.
    @Test func everyBuiltInProfileRoundTripsThroughItsJSON() throws {
        for name in DeviceProfile.builtInNames {
            let profile = try #require(DeviceProfile.builtIn[name])
            #expect(try DeviceProfile.decode(Data(profile.json.utf8), source: name) == profile)
        }
    }

    @Test func aMissingFieldIsNamed() throws {
        var object = try #require(try JSONSerialization.jsonObject(with: Data(DeviceProfile.vfido.json.utf8)) as? [String: Any])
        object.removeValue(forKey: "maxMsgSize")
        let data = try JSONSerialization.data(withJSONObject: object)
        #expect(throws: DeviceProfile.Invalid.self) { try DeviceProfile.decode(data, source: "x.json") }
        do { _ = try DeviceProfile.decode(data, source: "x.json") } catch {
            #expect("\(error)" == "profile x.json: field maxMsgSize is missing")
        }
    }
}
