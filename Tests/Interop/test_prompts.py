"""Prompt policies: `terminal` driven through a real pseudo-terminal, `control` driven by
`vfido approve/deny`, and `vfido power-cycle`. python-fido2 is the platform: it sees the
KEEPALIVEs, sends CTAPHID CANCEL and reports the CTAP status."""
from __future__ import annotations

import os
import pty
import select
import subprocess
import threading
import time

import pytest
from fido2.ctap import CtapError
from fido2.ctap2 import Ctap2
from fido2.ctap2.pin import ClientPin, PinProtocolV2

from conftest import VFIDO, free_udp_port
from ctap_helpers import PIN, RP_ID, cdh, make
from vfido_udp import open_device

UPNEEDED = 2


class TerminalDaemon:
    """`vfido serve --presence terminal` with a pseudo-terminal as its controlling terminal."""

    def __init__(self, tmp_path, timeout: float):
        self.port = free_udp_port()
        self.state = tmp_path / "state"
        log = tmp_path / "vfido.log"
        self.pid, self.master = pty.fork()
        if self.pid == 0:  # the child: the pty is its controlling terminal; the log goes to a file
            fd = os.open(str(log), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            os.dup2(fd, 2)
            os.execv(str(VFIDO), [str(VFIDO), "serve", "--state", str(self.state), "--udp", f"127.0.0.1:{self.port}",
                                  "--no-usbip", "--no-rp", "--presence", "terminal", "--prompt-timeout", str(timeout)])
        self.screen = ""
        self.read_until("Stop with", 30)

    def read_until(self, text: str, seconds: float) -> str:
        deadline = time.time() + seconds
        while text not in self.screen:
            remaining = deadline - time.time()
            if remaining <= 0:
                raise AssertionError(f"{text!r} did not appear on the terminal: {self.screen[-500:]!r}")
            ready, _, _ = select.select([self.master], [], [], remaining)
            if ready:
                self.screen += os.read(self.master, 4096).decode(errors="replace")
        found = self.screen
        self.screen = self.screen[self.screen.index(text) + len(text):]
        return found

    def answer(self, text: str) -> str:
        prompt = self.read_until("[y/n]", 10)
        os.write(self.master, text.encode() + b"\n")
        return prompt

    def stop(self):
        os.kill(self.pid, 15)
        os.waitpid(self.pid, 0)
        os.close(self.master)


@pytest.fixture
def terminal(tmp_path):
    d = TerminalDaemon(tmp_path, timeout=3)
    yield d
    d.stop()


def in_background(call):
    """Runs call() in a thread; returns a function that joins and returns (result, error)."""
    box = {}

    def run():
        try:
            box["result"] = call()
        except Exception as e:  # noqa: BLE001 - handed to the test
            box["error"] = e

    thread = threading.Thread(target=run)
    thread.start()

    def join():
        thread.join(30)
        assert not thread.is_alive()
        return box.get("result"), box.get("error")

    return join


def test_terminal_policy_yes_no_timeout_and_cancel(terminal):
    ctap2 = Ctap2(open_device(terminal.port))
    done = in_background(lambda: make(ctap2, rk=True))
    prompt = terminal.answer("y")
    assert "example.com wants to create a credential as \"user1\"" in prompt and "Touch the key?" in prompt
    made, error = done()
    assert error is None and made.auth_data.flags & 0x01

    statuses = []
    ga = lambda: ctap2.get_assertion(RP_ID, cdh(), on_keepalive=statuses.append)  # noqa: E731
    done = in_background(ga)
    prompt = terminal.answer("y")
    assert "example.com wants to sign in as \"user1\" [getAssertion]" in prompt
    result, error = done()
    assert error is None and result.auth_data.flags & 0x01
    assert UPNEEDED in statuses  # the platform was told the key waits for the user

    done = in_background(ga)
    terminal.answer("n")
    _, error = done()
    assert isinstance(error, CtapError) and error.code == CtapError.ERR.OPERATION_DENIED

    started = time.time()
    done = in_background(ga)
    terminal.read_until("[y/n]", 10)  # and nobody answers
    _, error = done()
    assert isinstance(error, CtapError) and error.code == CtapError.ERR.USER_ACTION_TIMEOUT
    assert time.time() - started >= 2.5
    terminal.read_until("timed out", 5)

    cancel = threading.Event()
    done = in_background(lambda: ctap2.get_assertion(RP_ID, cdh(), event=cancel))
    terminal.read_until("[y/n]", 10)
    cancel.set()  # python-fido2 sends CTAPHID_CANCEL
    _, error = done()
    assert isinstance(error, CtapError) and error.code == CtapError.ERR.KEEPALIVE_CANCEL
    terminal.read_until("cancelled", 5)

    # and the key still works
    done = in_background(ga)
    terminal.answer("yes")
    assert done()[1] is None


def vfido(*args, check=True):
    return subprocess.run([str(VFIDO), *args], capture_output=True, text=True, check=check, timeout=30)


def test_control_policy_approve_deny_and_timeout(start_daemon):
    d = start_daemon("--presence", "control", "--prompt-timeout", "3")
    ctap2 = Ctap2(d.device())
    assert "0 waiting" in vfido("prompts", "--state", str(d.state)).stdout
    refused = vfido("approve", "--state", str(d.state), check=False)
    assert refused.returncode == 1 and "no prompt is waiting" in refused.stderr

    done = in_background(lambda: make(ctap2, rk=True))
    out = vfido("approve", "--state", str(d.state), "--wait", "10").stdout
    assert "approved: example.com wants to create a credential as \"user1\"" in out
    assert done()[1] is None

    statuses = []
    done = in_background(lambda: ctap2.get_assertion(RP_ID, cdh(), on_keepalive=statuses.append))
    time.sleep(0.5)
    listed = vfido("prompts", "--state", str(d.state)).stdout
    assert listed.startswith("1 waiting; [") and "example.com wants to sign in" in listed
    vfido("deny", "--state", str(d.state), "--wait", "10")
    _, error = done()
    assert error.code == CtapError.ERR.OPERATION_DENIED and UPNEEDED in statuses

    done = in_background(lambda: ctap2.get_assertion(RP_ID, cdh()))
    _, error = done()
    assert error.code == CtapError.ERR.USER_ACTION_TIMEOUT
    assert "approved" in d.log_text() and "denied" in d.log_text()


def test_power_cycle_command_lifts_the_pin_block(daemon):
    ctap2 = Ctap2(daemon.device())
    cp = ClientPin(ctap2, PinProtocolV2())
    cp.set_pin(PIN)
    for _ in range(3):
        with pytest.raises(CtapError):
            cp.get_pin_token("0000")
    with pytest.raises(CtapError) as e:
        cp.get_pin_token(PIN)
    assert e.value.code == CtapError.ERR.PIN_AUTH_BLOCKED
    assert cp.get_pin_retries() == (5, True)
    out = vfido("power-cycle", "--state", str(daemon.state)).stdout
    assert "power-cycled" in out
    assert cp.get_pin_retries() == (5, None)  # same device handle: the daemon kept running
    cp.get_pin_token(PIN)
    assert cp.get_pin_retries() == (8, None)
    missing = vfido("power-cycle", "--state", str(daemon.state / "nowhere"), check=False)
    assert missing.returncode == 2 and "no vfido daemon answers" in missing.stderr
