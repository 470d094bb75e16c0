"""pytest plugin: python-fido2's own device suite (`tests/device` of its sdist) against vfido.

The suite looks for a USB HID key through `fido2.hid` and asks a person to unplug and re-plug
it. Here the key is a fresh `vfido serve --ephemeral` reached over the UDP simulator
convention, and the person is this plugin:
- device discovery (`fido2.hid.list_descriptors`, `open_connection`, `open_device`) lists the
  one UDP key while it is "plugged in";
- "Disconnect the Authenticator" (the suite's Printer.remove) takes it off the list;
- "Connect the Authenticator" (Printer.insert) power-cycles the key with the solo simulator's
  reboot datagram and lists it again, so the suite's own reconnect logic runs unchanged;
- touches are answered by vfido's `--presence auto`.
It ends the run with one line: `python-fido2 tests/device: N passed, F failed, S skipped`.

With VFIDO_CONTROLLER=1 the person is vfido's control API instead, as on a bench with a Pico
controller: vfido serves `--presence control`, the suite gets `--controller` pointing at the
API's harness hook, and every touch and every unplug/re-plug is the suite's own HTTP request
(`/usb1/touch/on`, `/usb1/power/off`, ...). Discovery lists the key while the API says it is
plugged in.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import json
import re
import urllib.request

import fido2.hid
from fido2.hid import CtapHidDevice
from fido2.hid.base import HidDescriptor

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "Tests/Interop"))
from vfido_udp import REPORT, UdpConnection  # noqa: E402

VFIDO = Path(os.environ.get("VFIDO_BIN", ROOT / ".build/debug/vfido")).resolve()
# The enterprise-attestation RP ID the suite's vendor-facilitated test asks for (--ep-rp-id).
EP_RP_ID = "ep.example.com"
# solokeys' simulator (and the suites written for it) power-cycle the key with this datagram.
SOLO_REBOOT = bytes.fromhex(
    "ac1052ca95e569de69e02ebff333485f13f9b2da34c5a8a340526697a9ab2e0b"
    "394d8d04973c134005be1a0140bff6045bb26eb77a73eaa47813f6b49a7250dc")


class VirtualKey:
    """One `vfido serve` for the whole session, on its own UDP port."""

    def __init__(self) -> None:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.path = f"udp:127.0.0.1:{self.port}"
        self.controlled = bool(os.environ.get("VFIDO_CONTROLLER"))
        self._plugged = True
        self.power_cycles = 0
        self.log_path = Path(tempfile.gettempdir()) / f"vfido-conformance-{self.port}.log"
        self.log = open(self.log_path, "wb")
        cmd = [str(VFIDO), "serve", "--ephemeral", "--udp", f"127.0.0.1:{self.port}", "--no-usbip", "--no-rp",
               "--enterprise-rp", EP_RP_ID]
        cmd += ["--presence", "control", "--api", "127.0.0.1:0"] if self.controlled else ["--presence", "auto", "--no-api"]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=self.log, text=True)
        deadline = time.monotonic() + 60
        banner = ""
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                raise RuntimeError(f"vfido exited at start; log: {self.log_path.read_text(errors='replace')}")
            banner += line
            if line.startswith("Stop with"):
                break
        else:
            raise RuntimeError("vfido did not print its banner within 60 s")
        if self.controlled:
            api = re.search(r"control API\s+(http://\S+)\s+\(bearer token in ([^;]+);", banner)
            assert api, f"no control API in the banner:\n{banner}"
            self.api_url, self.token = api.group(1), Path(api.group(2)).read_text().strip()

    @property
    def controller_url(self) -> str:
        return f"{self.api_url}/harness/pico/{self.token}"

    @property
    def plugged(self) -> bool:
        if not self.controlled:
            return self._plugged
        request = urllib.request.Request(f"{self.api_url}/keys/1", headers={"Authorization": f"Bearer {self.token}"})
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.load(response)["plugged"]

    def descriptor(self) -> HidDescriptor:
        return HidDescriptor(self.path, 0x1209, 0x0001, REPORT, REPORT, "vfido", "0")

    def unplug(self) -> None:
        self._plugged = False

    def plug(self) -> None:
        # The feed keeps datagrams in order, so the suite's next INIT finds the key rebooted.
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.sendto(SOLO_REBOOT, ("127.0.0.1", self.port))
        self.power_cycles += 1
        self._plugged = True

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.proc.stdout.close()
        self.log.close()


key = VirtualKey()


def list_descriptors():
    return [key.descriptor()] if key.plugged else []


def open_connection(descriptor):
    if descriptor.path != key.path or not key.plugged:
        raise OSError(f"no such device: {descriptor.path}")
    return UdpConnection(key.port)


def open_device(path):
    descriptor = key.descriptor()
    return CtapHidDevice(descriptor, open_connection(descriptor if path == key.path else HidDescriptor(
        path, 0, 0, REPORT, REPORT, None, None)))


# The suite's conftest imports these names from fido2.hid: replace them before it is imported.
fido2.hid.list_descriptors = list_descriptors
fido2.hid.open_connection = open_connection
fido2.hid.open_device = open_device


def pytest_configure(config):
    # What a user running the suite by hand on this key would pass.
    if not config.getoption("ep_rp_id", None):
        config.option.ep_rp_id = EP_RP_ID
    if key.controlled:  # the suite's own PicoController drives touches and power
        config.option.controller = key.controller_url
        config.option.pico_port = 1


def pytest_collection_finish(session):
    """The suite's Printer tells a person to unplug and plug the key: do it instead."""
    suite = sys.modules.get("tests.device")
    if suite is None:
        raise RuntimeError("tests.device was not collected: run pytest on the sdist's tests/device")
    printer = suite.Printer
    original_remove, original_insert = printer.remove, printer.insert

    def remove(self, nfc=False):
        original_remove(self, nfc)
        key.unplug()

    def insert(self, nfc=False):
        original_insert(self, nfc)
        key.plug()

    if not key.controlled:
        printer.remove, printer.insert = remove, insert


counts: dict[str, int] = {}


def pytest_terminal_summary(terminalreporter):
    for name in ("passed", "failed", "error", "skipped"):
        counts[name] = len(terminalreporter.stats.get(name, []))
    how = "through the control API's Pico hook" if key.controlled else f"{key.power_cycles} power cycles"
    terminalreporter.write_line(f"vfido: {how}; log {key.log_path}")


def pytest_unconfigure(config):
    key.stop()
    if counts:  # the run's last line, after pytest's own summary
        failed = counts["failed"] + counts["error"]
        errors = f" ({counts['error']} of them errors)" if counts["error"] else ""
        print(f"python-fido2 tests/device: {counts['passed']} passed, {failed} failed, {counts['skipped']} skipped{errors}")
