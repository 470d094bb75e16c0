"""Fixtures that run the real vfido daemon and reach it over UDP."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

from vfido_udp import open_device

ROOT = Path(__file__).resolve().parents[2]
VFIDO = Path(os.environ.get("VFIDO_BIN", ROOT / ".build" / "debug" / "vfido"))


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def free_tcp_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Daemon:
    """`vfido serve` on its own UDP port, relying-party port and state directory."""

    def __init__(self, state: Path, *args: str):
        self.state = state
        self.args = args
        self.port = free_udp_port()
        self.rp_port = free_tcp_port()
        self.rp_url = f"http://localhost:{self.rp_port}"
        self.log_path = state.parent / f"vfido-{self.port}.log"
        self.proc: subprocess.Popen | None = None
        self.start()

    def start(self) -> None:
        self.log = open(self.log_path, "ab")
        cmd = [str(VFIDO), "serve", "--state", str(self.state), "--udp", f"127.0.0.1:{self.port}", *self.args]
        if "--api" not in self.args and "--no-api" not in self.args:
            cmd += ["--api", "127.0.0.1:0"]
        if "--usbip" not in self.args:
            cmd.append("--no-usbip")
        if "--no-rp" not in self.args and "--rp" not in self.args:
            cmd += ["--rp", f"127.0.0.1:{self.rp_port}"]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=self.log, text=True)
        banner = []
        deadline = time.time() + 30
        while time.time() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                raise RuntimeError(f"vfido exited: {''.join(banner)} {self.log_text()}")
            banner.append(line)
            if line.startswith("Stop with"):
                self.banner = "".join(banner)
                return
        raise RuntimeError("vfido did not start in time")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                raise AssertionError("vfido did not stop on SIGTERM")
        if self.proc and self.proc.stdout:
            self.proc.stdout.close()
        self.log.close()

    def restart(self) -> None:
        self.stop()
        self.start()

    def device(self):
        return open_device(self.port)

    def log_text(self) -> str:
        self.log.flush()
        return self.log_path.read_text(errors="replace")


@pytest.fixture
def start_daemon(tmp_path):
    """Factory: start_daemon('--attestation', 'none') -> Daemon; all are stopped afterwards."""
    daemons: list[Daemon] = []

    def start(*args: str, state: Path | None = None) -> Daemon:
        d = Daemon(state or tmp_path / f"state{len(daemons)}", *args)
        daemons.append(d)
        return d

    yield start
    for d in daemons:
        d.stop()


@pytest.fixture
def daemon(start_daemon):
    return start_daemon()


@pytest.fixture
def vfido_bin() -> Path:
    return VFIDO
