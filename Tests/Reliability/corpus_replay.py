#!/usr/bin/env python3
"""Replays google/CTAP2-test-tool-corpus against a real `vfido serve` over UDP.

Every input is sent as the message the corpus means (a CBOR parameter map behind its command
byte, or a raw CTAPHID command and payload); the key must answer it, and a PING after each input
must come back intact. A hang, a dead daemon or a failed PING fails the run. The daemon's RSS is
reported before and after. Usage: corpus_replay.py CORPUS.tar.gz [--limit N] [--json]
"""
from __future__ import annotations

import argparse
import collections
import json
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[0] / "Interop"))
sys.path.insert(0, str(HERE))
from conftest import Daemon  # noqa: E402  (Tests/Interop/conftest.py)
from ctaphid_udp import CANCEL, CBOR, ERROR, Channel, Hang, rss_kib  # noqa: E402
from ctap2_corpus import extract, inputs  # noqa: E402

def messages(root: Path):
    """Every input as the CTAPHID command and payload it means."""
    for folder, name, ctap_command, data in inputs(root):
        if ctap_command is not None:
            yield folder, name, CBOR, bytes([ctap_command]) + data
        elif data:
            yield folder, name, data[0] | 0x80, data[1:]


def answer_kind(cmd: int, payload: bytes) -> str:
    if cmd == ERROR:
        return f"CTAPHID error {payload[:1].hex()}"
    if cmd == CBOR:
        return f"CTAP status {payload[:1].hex()}"
    return f"CTAPHID {cmd:#04x}"


def replay(archive: Path, limit: int | None) -> dict:
    work = Path(tempfile.mkdtemp(prefix="vfido-corpus-"))
    extract(archive, work / "corpus")
    daemon = Daemon(work / "state", "--presence", "auto", "--no-rp", "--no-api")
    pid = daemon.proc.pid
    channel = Channel(daemon.port)
    answers: collections.Counter[str] = collections.Counter()
    per_folder: collections.Counter[str] = collections.Counter()
    failures: list[str] = []
    started = time.monotonic()
    rss_start = rss_kib(pid)
    count = 0
    try:
        for folder, name, cmd, payload in messages(work / "corpus"):
            if limit is not None and count >= limit:
                break
            count += 1
            per_folder[folder] += 1
            try:
                channel.send(cmd, payload)
                # CTAPHID_CANCEL is the one request a key never answers.
                if cmd != CANCEL:
                    answers[answer_kind(*channel.receive())] += 1
                if not channel.ping():
                    failures.append(f"{folder}/{name}: the PING after it came back changed")
            except Hang:
                failures.append(f"{folder}/{name}: no answer within {channel.timeout:.0f} s")
                if daemon.proc.poll() is not None:
                    failures.append(f"the daemon exited with {daemon.proc.returncode}")
                    break
                channel.close()
                channel = Channel(daemon.port)
            if len(failures) >= 20:
                break
            if count % 5000 == 0:
                print(f"  {count} inputs, RSS {rss_kib(pid) // 1024} MiB", file=sys.stderr, flush=True)
        alive = daemon.proc.poll() is None and Channel(daemon.port).ping()
        rss_end = rss_kib(pid) if alive else None
    finally:
        channel.close()
        daemon.stop()
    if not alive:
        failures.append("the daemon did not answer a fresh channel's PING at the end")
    return {
        "inputs": count,
        "per_folder": dict(per_folder),
        "seconds": round(time.monotonic() - started, 1),
        "answers": dict(answers.most_common()),
        "rss_kib_start": rss_start,
        "rss_kib_end": rss_end,
        "failures": failures,
    }


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("archive", type=Path)
    parser.add_argument("--limit", type=int)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = replay(args.archive, args.limit)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(f"corpus replay: {result['inputs']} inputs in {result['seconds']} s, "
              f"{len(result['failures'])} failures; RSS {result['rss_kib_start'] // 1024} -> "
              f"{(result['rss_kib_end'] or 0) // 1024} MiB")
        for kind, n in result["answers"].items():
            print(f"  {n:6}  {kind}")
        for failure in result["failures"]:
            print(f"  FAIL {failure}")
    return 1 if result["failures"] else 0


if __name__ == "__main__":
    sys.exit(main())
