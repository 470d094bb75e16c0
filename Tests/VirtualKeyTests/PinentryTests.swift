import CTAP
import Foundation
import Testing
@testable import VirtualKey

/// The words `--presence pinentry` (Assuan) and `--presence notify` (gdbus) speak; the prompts
/// themselves are tier 12 (Tests/Desktop).
@Suite struct PinentryTests {
    @Test func notificationSignalsAreReadFromGdbusMonitor() {
        let action = NotifyPresence.parseSignal("/org/freedesktop/Notifications: org.freedesktop.Notifications.ActionInvoked (uint32 7, 'allow')")
        #expect(action?.id == 7 && action?.outcome == .action("allow"))
        let closed = NotifyPresence.parseSignal("/org/freedesktop/Notifications: org.freedesktop.Notifications.NotificationClosed (uint32 7, uint32 2)")
        #expect(closed?.id == 7 && closed?.outcome == .closed(2))
        #expect(NotifyPresence.parseSignal("The name org.freedesktop.Notifications is owned by :1.0") == nil)
        #expect(NotifyPresence.text("it's a \\ test") == "'it\\'s a \\\\ test'")
    }

    @Test func answersAreReadWithTheirGPGErrorCodes() {
        #expect(Assuan.parse("OK") == .ok([]))
        #expect(Assuan.parse("OK Pleased to meet you") == .ok([]))
        #expect(Assuan.unescape("a%25b%0Ac") == Array("a%b\nc".utf8))
        #expect(Assuan.parse("ERR 83886179 Operation cancelled <Pinentry>") == .error(code: Assuan.cancelled, text: "Operation cancelled <Pinentry>"))
        #expect(Assuan.parse("ERR 83886142 Timeout <Pinentry>") == .error(code: Assuan.timeout, text: "Timeout <Pinentry>"))
        #expect(Assuan.parse("S BUTTON_INFO close") == nil)
        #expect(Assuan.parse("# a comment") == nil)
        #expect(Assuan.parse("D data") == nil)
    }

    @Test func descriptionsAreEscapedAsAssuanAsks() {
        #expect(Assuan.escape("100% sure\r\nAllow?") == "100%25 sure%0D%0AAllow?")
    }

    @Test func aMissingProgramIsARefusalNotACrash() async {
        let presence = PinentryPresence(program: "/nonexistent/pinentry", timeout: .seconds(5))
        let request = UserPresenceRequest(operation: .getAssertion, rpId: "example.com", userName: "alice", verification: false)
        #expect(await presence.confirm(request) == .denied)
        #expect(LineProcess.resolve("sh") != nil && LineProcess.resolve("no-such-program-here") == nil)
    }
}
