"""pytest fixtures for tests that drive vfido (enable with `-p pytest_vfido`, clients/python on
sys.path, and VFIDO_BIN naming the binary).

    def test_login(vfido_key):
        vfido_key.add_credential(credential_id=..., rp_id="example.com", private_key=pkcs8)
        ...
        vfido_key.approve(wait=10)

`vfido_daemon` is one daemon for the session; `vfido_key` is its key 1, factory-reset and put
back to automatic presence, verified UV and no overrides before each test, so every test starts
from a fresh key.
"""
from __future__ import annotations

import inspect
import os
from pathlib import Path

import pytest

from vfido_control import VfidoControl, VfidoDaemon


class VfidoKey:
    """One key of a daemon: the client's calls with the key number filled in."""

    def __init__(self, daemon: VfidoDaemon, number: int = 1, udp_port: int | None = None):
        self.daemon = daemon
        self.number = number
        self.control: VfidoControl = daemon.control
        self._udp_port = udp_port

    @property
    def udp_port(self) -> int | None:
        return self._udp_port if self.number != 1 else self.daemon.udp_port

    def __getattr__(self, name):
        method = getattr(self.control, name)
        if next(iter(inspect.signature(method).parameters), None) != "key":
            return method  # not per key (events, recent_events, ...)
        return lambda *args, **kwargs: method(self.number, *args, **kwargs)


def _vfido_bin() -> Path:
    return Path(os.environ.get("VFIDO_BIN", ".build/debug/vfido")).resolve()


@pytest.fixture(scope="session")
def vfido_daemon():
    daemon = VfidoDaemon.start(_vfido_bin(), "--reset-window", "0")
    yield daemon
    daemon.stop()


@pytest.fixture
def vfido_key(vfido_daemon) -> VfidoKey:
    key = VfidoKey(vfido_daemon)
    key.control.reset(1)
    key.control.set_presence(1, policy="auto", user_verified=True, touching=False)
    key.control.set_overrides(1, bogus_signature=False, bad_uv=False, bad_up=False)
    key.control.set_faults(1, rules=[])
    key.control.clear_credentials(1)
    return key


@pytest.fixture
def vfido_new_key(vfido_daemon):
    """Adds keys at runtime with WebDriver's or CDP's options, removed after the test:

        def test_u2f_only(vfido_new_key):
            key = vfido_new_key(protocol="ctap1/u2f")
    """
    added: list[int] = []

    def add(**options) -> VfidoKey:
        info = vfido_daemon.control.add_key(**options)
        added.append(info["key"])
        return VfidoKey(vfido_daemon, info["key"], udp_port=info.get("udpPort"))

    yield add
    for number in added:
        vfido_daemon.control.remove_key(number)

