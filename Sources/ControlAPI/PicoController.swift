import Foundation
import HTTPAPI
import Hummingbird
import VirtualKey

/// The touch and power controller that python-fido2's device tests drive with
/// `--controller URL --pico_port N` (tests/device/__init__.py, PicoController): plain GETs of
/// `/`, `/usb<N>/touch/on|off` and `/usb<N>/power/on|off`. Its client sends no headers, so the
/// token is part of the base URL: `--controller http://127.0.0.1:8112/harness/pico/<token>`.
/// touch/on holds a finger on key N (every prompt is approved, waiting ones too); power/off
/// unplugs it, power/on plugs it back in.
struct PicoController: Sendable {
    static let base = "/harness/pico/"
    let daemon: Daemon

    func add(to router: Router<BasicRequestContext>) {
        router.get("/harness/pico/:token") { _, _ in Response(status: .ok, body: .init(byteBuffer: .init(string: "vfido pico controller\n"))) }
        router.get("/harness/pico/:token/:port/:switch/:state") { _, context in
            let port = context.parameters.get("port") ?? ""
            guard port.hasPrefix("usb"), let number = Int(port.dropFirst(3)), let key = daemon.key(number) else {
                throw APIError(.notFound, "key_not_found", "no key \(port) (usb1 to usb\(daemon.keys.count))")
            }
            let on: Bool
            switch context.parameters.get("state") {
            case "on": on = true
            case "off": on = false
            default: throw APIError(.notFound, "endpoint_not_found", "the state is on or off")
            }
            switch context.parameters.get("switch") {
            case "touch": await key.presence.setTouching(on)
            case "power":
                if on { try await daemon.plug(key) } else { await daemon.unplug(key) }
            default: throw APIError(.notFound, "endpoint_not_found", "the switch is touch or power")
            }
            return Response(status: .ok, body: .init(byteBuffer: .init(string: "ok\n")))
        }
    }
}
