"""`--presence pinentry` (docs/usage.md, "Prompts on a desktop") with Debian's pinentry-tty on a
pty the test holds, as a person at a terminal would: the dialog names the RP, the account and
the operation; Allow registers (python-fido2 checks the attestation), Deny refuses, silence
times out, the host's CANCEL closes the dialog, and a missing program is a refusal with a log
line that says why."""
from __future__ import annotations

import os
import pty
import re
import select
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from fido2.attestation import Attestation
from fido2.ctap import CtapError
from fido2.ctap2 import Ctap2

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "Interop"))
from conftest import VFIDO, Daemon, start_daemon  # noqa: E402,F401  (the fixture)
from ctap_helpers import RP_ID, cdh, make, user  # noqa: E402


class Terminal:
    """The pty pinentry-tty asks on ($GPG_TTY), read and typed on like a person would."""

    def __init__(self):
        self.master, self.slave = pty.openpty()
        self.name = os.ttyname(self.slave)
        self.seen = b""

    def wait_for(self, pattern: bytes, timeout: float = 60) -> bytes:
        deadline = time.monotonic() + timeout
        while not re.search(pattern, self.seen):
            left = deadline - time.monotonic()
            assert left > 0, f"no {pattern!r} on the terminal; it shows {self.seen[-400:]!r}"
            ready, _, _ = select.select([self.master], [], [], min(left, 0.5))
            if ready:
                self.seen += os.read(self.master, 4096)
        return self.seen

    def type(self, text: str) -> None:
        os.write(self.master, text.encode())

    def forget(self) -> None:
        self.seen = b""

    def close(self) -> None:
        os.close(self.master)
        os.close(self.slave)


@pytest.fixture
def terminal():
    t = Terminal()
    yield t
    t.close()


def pinentry_daemon(start_daemon, terminal: Terminal, *args: str, state: Path | None = None) -> Daemon:
    saved = dict(os.environ)
    os.environ.update(GPG_TTY=terminal.name, TERM="dumb")
    try:
        return start_daemon("--presence", "pinentry", "--pinentry", "pinentry-tty", *args, state=state)
    finally:
        os.environ.clear()
        os.environ.update(saved)


def in_background(call):
    """Runs `call` in a thread; returns a function giving its result or raising its error."""
    box: dict = {}

    def run():
        try:
            box["value"] = call()
        except BaseException as e:  # noqa: BLE001
            box["error"] = e

    thread = threading.Thread(target=run, daemon=True)
    thread.start()

    def result(timeout: float = 60):
        thread.join(timeout)
        assert not thread.is_alive(), "the request did not finish"
        if "error" in box:
            raise box["error"]
        return box["value"]
    return result


def pinentries() -> int:
    return len(subprocess.run(["pgrep", "-x", "pinentry-tty"], capture_output=True, text=True).stdout.split())


def test_allow_and_deny_on_the_dialog(start_daemon, terminal):
    d = pinentry_daemon(start_daemon, terminal)
    ctap2 = Ctap2(d.device())
    made = in_background(lambda: make(ctap2, rk=True, user=user(1)))
    seen = terminal.wait_for(rb"\[ad\]\? ")
    assert f"{RP_ID} wants to create a credential as \"user1\"".encode() in seen
    terminal.type("a")
    credential = made()
    assert credential.auth_data.is_user_present()
    # python-fido2 checks the packed attestation signature.
    Attestation.for_type(credential.fmt)().verify(credential.att_stmt, credential.auth_data, cdh())
    terminal.forget()
    asserted = in_background(lambda: ctap2.get_assertion(RP_ID, cdh()))
    seen = terminal.wait_for(rb"\[ad\]\? ")
    assert f"{RP_ID} wants to sign in".encode() in seen
    terminal.type("d")
    with pytest.raises(CtapError) as e:
        asserted()
    assert e.value.code == CtapError.ERR.OPERATION_DENIED
    assert "denied" in d.log_text() and "by pinentry" in d.log_text()


def test_silence_times_out(start_daemon, terminal):
    d = pinentry_daemon(start_daemon, terminal, "--prompt-timeout", "2")
    made = in_background(lambda: make(Ctap2(d.device())))
    terminal.wait_for(rb"\[ad\]\? ")
    with pytest.raises(CtapError) as e:
        made()
    assert e.value.code == CtapError.ERR.USER_ACTION_TIMEOUT
    assert "pinentry: no answer in 2 s" in d.log_text()


def test_the_hosts_cancel_closes_the_dialog(start_daemon, terminal):
    d = pinentry_daemon(start_daemon, terminal)
    before = pinentries()
    cancel = threading.Event()
    made = in_background(lambda: make(Ctap2(d.device()), event=cancel))
    terminal.wait_for(rb"\[ad\]\? ")
    assert pinentries() == before + 1
    cancel.set()  # python-fido2 sends CTAPHID_CANCEL
    with pytest.raises(CtapError) as e:
        made()
    assert e.value.code == CtapError.ERR.KEEPALIVE_CANCEL
    deadline = time.monotonic() + 30
    while pinentries() > before and time.monotonic() < deadline:
        time.sleep(0.1)
    assert pinentries() == before, "the dialog is still open"
    assert "the host cancelled; the dialog is closed" in d.log_text()


def test_built_in_verification_asks_for_the_keys_passphrase(start_daemon, terminal, tmp_path):
    state = tmp_path / "state"
    start_daemon(state=state).stop()  # the state directory exists once a key has run
    (tmp_path / "passphrase").write_text("correct horse\n")
    subprocess.run([str(VFIDO), "uv", "set", "--state", str(state), "--uv-passphrase-file", str(tmp_path / "passphrase")],
                   check=True, capture_output=True, timeout=60)
    uv_key = state / "uv.key"
    assert uv_key.stat().st_mode & 0o777 == 0o600 and b"correct horse" not in uv_key.read_bytes()
    d = pinentry_daemon(start_daemon, terminal, "--builtin-uv", state=state)
    ctap2 = Ctap2(d.device())
    made = in_background(lambda: make(ctap2, rk=True, options={"uv": True}))
    seen = terminal.wait_for(rb"Passphrase:")
    assert b"passphrase to verify it is you" in seen
    terminal.type("correct horse\n")
    credential = made()
    assert credential.auth_data.is_user_verified()
    terminal.forget()
    asserted = in_background(lambda: ctap2.get_assertion(RP_ID, cdh(), options={"uv": True}))
    terminal.wait_for(rb"Passphrase:")
    terminal.type("wrong horse\n")
    with pytest.raises(CtapError) as e:
        asserted()
    assert e.value.code == CtapError.ERR.UV_INVALID  # and the key's UV retries count down
    assert "the passphrase is wrong" in d.log_text()
    d.stop()
    subprocess.run([str(VFIDO), "uv", "remove", "--state", str(state)], check=True, capture_output=True, timeout=60)
    assert not uv_key.exists()


def test_a_missing_pinentry_is_a_refusal_that_says_why(start_daemon, tmp_path):
    d = start_daemon("--presence", "pinentry", "--pinentry", str(tmp_path / "no-such-pinentry"))
    with pytest.raises(CtapError) as e:
        make(Ctap2(d.device()))
    assert e.value.code == CtapError.ERR.OPERATION_DENIED
    assert "no-such-pinentry" in d.log_text() and "the request is denied" in d.log_text()
