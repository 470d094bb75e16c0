"""`--presence notify` (docs/usage.md, "Prompts on a desktop") against a session bus the test
starts (dbus-daemon --session, what dbus-run-session runs) with a notification server of the
test's own that answers as the test says: Allow, Deny, dismissed, unanswered (the notification
is withdrawn at the timeout), the host's CANCEL (withdrawn at once), and a server without
actions (the request goes to pinentry instead)."""
from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from fido2.ctap import CtapError
from fido2.ctap2 import Ctap2

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "Interop"))
sys.path.insert(0, str(HERE))
from conftest import Daemon, start_daemon  # noqa: E402,F401  (the fixture)
from ctap_helpers import RP_ID, make, user  # noqa: E402
from notification_server import NotificationServer  # noqa: E402
from test_pinentry import Terminal, in_background, terminal  # noqa: E402,F401  (the fixture)


@pytest.fixture
def bus():
    daemon = subprocess.Popen(["dbus-daemon", "--session", "--nofork", "--print-address=1"], stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, text=True)
    address = daemon.stdout.readline().strip()
    assert address.startswith("unix:"), f"dbus-daemon printed {address!r}"
    yield address
    daemon.kill()
    daemon.wait()


def notify_daemon(start_daemon, bus: str, *args: str, env: dict | None = None) -> Daemon:
    saved = dict(os.environ)
    os.environ.update(DBUS_SESSION_BUS_ADDRESS=bus, **(env or {}))
    try:
        return start_daemon("--presence", "notify", *args)
    finally:
        os.environ.clear()
        os.environ.update(saved)


def wait_for_notification(server: NotificationServer, count: int = 1, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while len(server.shown) < count:
        assert time.monotonic() < deadline, "no notification was shown"
        server.changed.wait(0.2)
        server.changed.clear()
    return server.shown[count - 1]


def wait_until(condition, what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


def test_allow_and_deny_from_the_notification(start_daemon, bus):
    server = NotificationServer(bus)
    try:
        d = notify_daemon(start_daemon, bus)
        ctap2 = Ctap2(d.device())
        credential = make(ctap2, rk=True, user=user(1))
        assert credential.auth_data.is_user_present()
        shown = wait_for_notification(server)
        assert shown["summary"] == "vfido security key" and shown["app"] == "vfido"
        assert f'{RP_ID} wants to create a credential as "user1"' in shown["body"]
        assert shown["actions"] == ["allow", "Allow", "deny", "Deny"]
        server.answer = "deny"
        with pytest.raises(CtapError) as e:
            ctap2.get_assertion(RP_ID, b"\0" * 32)
        assert e.value.code == CtapError.ERR.OPERATION_DENIED
        assert f"{RP_ID} wants to sign in" in wait_for_notification(server, 2)["body"]
        server.answer = "dismiss"
        with pytest.raises(CtapError) as e:
            ctap2.get_assertion(RP_ID, b"\0" * 32)
        assert e.value.code == CtapError.ERR.OPERATION_DENIED
        assert "the notification was dismissed" in d.log_text()
    finally:
        server.stop()


def test_unanswered_it_times_out_and_is_withdrawn(start_daemon, bus):
    server = NotificationServer(bus)
    server.answer = "ignore"
    try:
        d = notify_daemon(start_daemon, bus, "--prompt-timeout", "2")
        with pytest.raises(CtapError) as e:
            make(Ctap2(d.device()))
        assert e.value.code == CtapError.ERR.USER_ACTION_TIMEOUT
        shown = wait_for_notification(server)
        assert shown["timeout"] == 2000
        wait_until(lambda: shown["id"] in server.closed, "the notification was not withdrawn")
    finally:
        server.stop()


def test_the_hosts_cancel_withdraws_it(start_daemon, bus):
    server = NotificationServer(bus)
    server.answer = "ignore"
    try:
        d = notify_daemon(start_daemon, bus)
        cancel = threading.Event()
        made = in_background(lambda: make(Ctap2(d.device()), event=cancel))
        shown = wait_for_notification(server)
        cancel.set()
        with pytest.raises(CtapError) as e:
            made()
        assert e.value.code == CtapError.ERR.KEEPALIVE_CANCEL
        wait_until(lambda: shown["id"] in server.closed, "the notification was not withdrawn")
        assert "the host cancelled; the notification is withdrawn" in d.log_text()
    finally:
        server.stop()


def test_a_server_without_actions_hands_over_to_pinentry(start_daemon, bus, terminal):
    server = NotificationServer(bus, capabilities=["body"])
    try:
        d = notify_daemon(start_daemon, bus, "--pinentry", "pinentry-tty", env={"GPG_TTY": terminal.name, "TERM": "dumb"})
        made = in_background(lambda: make(Ctap2(d.device())))
        terminal.wait_for(rb"\[ad\]\? ")
        terminal.type("a")
        assert made().auth_data.is_user_present()
        assert server.shown == []
        assert "shows no actions (Allow/Deny); asking through pinentry" in d.log_text()
    finally:
        server.stop()


def test_no_session_bus_hands_over_to_pinentry(start_daemon, tmp_path):
    d = notify_daemon(start_daemon, f"unix:path={tmp_path}/no-bus", "--pinentry", str(tmp_path / "no-pinentry"))
    with pytest.raises(CtapError) as e:
        make(Ctap2(d.device()))
    assert e.value.code == CtapError.ERR.OPERATION_DENIED
    assert "no notification server on the session bus" in d.log_text() and "no-pinentry" in d.log_text()
