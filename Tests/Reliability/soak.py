#!/usr/bin/env python3
"""`make soak`: load and abuse against one real `vfido serve`, as JSON on stdout.

- RSS after a warm-up, then after N bad UDP datagrams (INITs on channels never allocated, and
  short datagrams), after M USB/IP connections opened and closed, after K relying-party requests;
  the goal is each within 2 MiB of the warmed-up figure.
- C channels x O operations each (getInfo and PING, concurrently, CHANNEL_BUSY retried):
  errors and the latency distribution.
- the crash-safety run with its own number of SIGKILLs (crash_safety.py).
Bounded in time by its counts; not part of `make test`. Usage: soak.py [--scale F]
"""
from __future__ import annotations

import argparse
import json
import os
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[0] / "Interop"))
sys.path.insert(0, str(HERE))
from conftest import Daemon, free_tcp_port  # noqa: E402  (Tests/Interop/conftest.py)
from ctaphid_udp import CBOR, ERROR, PING, Busy, Channel, Hang, rss_kib  # noqa: E402

MIB = 1024


def udp_flood(port: int, count: int) -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.setblocking(False)
    for n in range(count):
        if n % 2:
            packet = struct.pack(">IBH", 0x10000000 + n, 0x86, 8) + os.urandom(8)  # INIT on a stranger's channel
            packet = packet.ljust(64, b"\0")
        else:
            packet = os.urandom(10)
        try:
            sock.sendto(packet, ("127.0.0.1", port))
        except BlockingIOError:
            time.sleep(0.001)
        if n % 256 == 0:  # drain the answers so our own buffer never blocks the flood
            try:
                while sock.recv(128):
                    pass
            except BlockingIOError:
                pass
    sock.close()


def alive(port: int) -> bool:
    """A fresh channel's PING comes back. A flood can overrun the daemon's socket buffer, and
    the kernel then drops datagrams (ours too) as UDP may, and while the daemon works off the
    flood its report queue is full and INIT answers CHANNEL_BUSY: so INIT is tried again, as a
    host would, for up to a minute."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            return Channel(port, timeout=5).ping()
        except Hang:
            continue
        except Busy:
            time.sleep(0.1)
    return False


def usbip_churn(port: int, count: int) -> int:
    refused = 0
    for _ in range(count):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
                s.sendall(struct.pack(">HHI", 0x0111, 0x8005, 0))  # OP_REQ_DEVLIST
                s.recv(8)
        except OSError:
            refused += 1
    return refused


def rp_requests(port: int, count: int) -> int:
    errors = 0
    for n in range(count):
        path = "/" if n % 2 else "/.well-known/webauthn"
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=30) as r:
                r.read()
        except urllib.error.HTTPError:
            pass  # an answer all the same (404 for a path the RP does not serve)
        except OSError:
            errors += 1
    return errors


def channels(port: int, clients: int, operations: int) -> dict:
    latencies: list[float] = []
    errors: list[str] = []
    busy = [0]
    lock = threading.Lock()

    def client() -> None:
        ch = Channel(port)
        mine = []
        for n in range(operations):
            cmd, payload = (CBOR, b"\x04") if n % 2 else (PING, os.urandom(32))
            while True:
                start = time.perf_counter()
                answer = ch.transact(cmd, payload)
                if answer[0] == ERROR and answer[1][:1] == b"\x06":  # CHANNEL_BUSY: try again
                    with lock:
                        busy[0] += 1
                    continue
                mine.append(time.perf_counter() - start)
                ok = answer == (PING, payload) if cmd == PING else answer[0] == CBOR and answer[1][:1] == b"\0"
                if not ok:
                    with lock:
                        errors.append(f"{cmd:#x} answered {answer[0]:#x} {answer[1][:4].hex()}")
                break
        ch.close()
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seconds = time.perf_counter() - started
    latencies.sort()

    def at(q: float) -> float:
        return round(latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000, 3)

    return {"clients": clients, "operations": len(latencies), "errors": len(errors), "first_errors": errors[:5],
            "channel_busy_retried": busy[0], "per_second": round(len(latencies) / seconds),
            "latency_ms": {"p50": at(0.5), "p90": at(0.9), "p99": at(0.99), "max": at(1.0)}}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", type=float, default=1.0, help="multiplies every count (0.01 for a quick look)")
    args = parser.parse_args()
    n = lambda base: max(1, int(base * args.scale))  # noqa: E731
    work = Path(tempfile.mkdtemp(prefix="vfido-soak-"))
    usbip_port, rp_port = free_tcp_port(), free_tcp_port()
    daemon = Daemon(work / "state", "--presence", "auto", "--no-api", "--usbip", f"127.0.0.1:{usbip_port}",
                    "--rp", f"127.0.0.1:{rp_port}")
    pid = daemon.proc.pid
    result: dict = {"machine": {"cpus": os.cpu_count()}}
    try:
        # Warm-up: each path once at a small scale, so that what follows measures growth only.
        udp_flood(daemon.port, 2000)
        usbip_churn(usbip_port, 200)
        rp_requests(rp_port, 200)
        channels(daemon.port, 8, 100)
        baseline = rss_kib(pid)
        rss = {"warmed_up_kib": baseline}
        udp_flood(daemon.port, n(300_000))
        result["alive_after_udp_flood"] = alive(daemon.port)
        rss["after_udp_flood_kib"] = rss_kib(pid)
        refused = usbip_churn(usbip_port, n(20_000))
        rss["after_usbip_churn_kib"] = rss_kib(pid)
        rp_errors = rp_requests(rp_port, n(10_000))
        rss["after_rp_requests_kib"] = rss_kib(pid)
        result["counts"] = {"bad_udp_datagrams": n(300_000), "usbip_connections": n(20_000),
                            "usbip_connections_failed": refused, "rp_requests": n(10_000), "rp_request_errors": rp_errors}
        rss["growth_kib"] = {k: v - baseline for k, v in rss.items() if k != "warmed_up_kib"}
        rss["within_2_mib"] = all(v <= 2 * MIB for v in rss["growth_kib"].values())
        result["rss"] = rss
        result["channels"] = channels(daemon.port, 8, n(10_000))
    finally:
        daemon.stop()
    crash = subprocess.run([sys.executable, str(HERE / "crash_safety.py"), "--kills", str(n(300)), "--json"],
                           capture_output=True, text=True)
    result["crash_safety"] = json.loads(crash.stdout) if crash.stdout.strip() else {"error": crash.stderr[-2000:]}
    result["goals_met"] = (result["alive_after_udp_flood"] and result["rss"]["within_2_mib"] and result["channels"]["errors"] == 0
                           and not result["crash_safety"].get("failures", ["no result"]))
    print(json.dumps(result, indent=2))
    return 0 if result["goals_met"] else 1


if __name__ == "__main__":
    sys.exit(main())
