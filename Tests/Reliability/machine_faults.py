#!/usr/bin/env python3
"""Faults of the machine under a real `vfido serve`: a full disk, a read-only state directory,
a damaged database, a wrong or truncated storage key.

The state directory is a small tmpfs of its own (so the disk really fills, with ENOSPC, and
really turns read-only, with EROFS), mounted in a private mount namespace: the script re-runs
itself under `unshare -m`, which needs root. python-fido2 checks every credential the key
acknowledged. A refused start must name the problem and leave every file byte for byte as it was.
"""
from __future__ import annotations

import hashlib
import os
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[0] / "Interop"))
from conftest import VFIDO, Daemon, free_udp_port  # noqa: E402  (Tests/Interop/conftest.py)
from fido2.ctap import CtapError  # noqa: E402
from fido2.ctap2 import Ctap2  # noqa: E402
from vfido_udp import open_device  # noqa: E402

ES256 = [{"type": "public-key", "alg": -7}]
failures: list[str] = []


def check(condition: bool, what: str) -> None:
    print(f"  {'ok  ' if condition else 'FAIL'} {what}")
    if not condition:
        failures.append(what)


def make_credential(ctap: Ctap2, n: int) -> tuple[bytes, object]:
    att = ctap.make_credential(os.urandom(32), {"id": "faults.example"},
                               {"id": n.to_bytes(8, "big"), "name": f"user{n}"}, ES256, options={"rk": True})
    data = att.auth_data.credential_data
    return data.credential_id, data.public_key


def asserts(ctap: Ctap2, cred_id: bytes, public_key) -> bool:
    cdh = os.urandom(32)
    a = ctap.get_assertion("faults.example", cdh, [{"type": "public-key", "id": cred_id}])
    public_key.verify(bytes(a.auth_data) + cdh, a.signature)
    return True


def all_assert(ctap: Ctap2, creds: dict) -> bool:
    return all(asserts(ctap, cid, key) for cid, key in creds.items())


def snapshot(state: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(state.iterdir()) if p.is_file()}


def refused_start(state: Path, expected: str) -> None:
    """The daemon must refuse to start on `state`, saying `expected`, and change nothing."""
    before = snapshot(state)
    try:
        run = subprocess.run([str(VFIDO), "serve", "--state", str(state), "--udp", f"127.0.0.1:{free_udp_port()}",
                              "--no-rp", "--no-api", "--no-usbip"], capture_output=True, text=True, timeout=60)
    except subprocess.TimeoutExpired:
        check(False, f"refused to start, saying {expected!r}: it started and served")
        return
    message = run.stderr.strip().splitlines()[-1] if run.stderr.strip() else "(nothing on stderr)"
    check(run.returncode != 0 and expected in message, f"refused to start: {message!r}")
    after = snapshot(state)
    changed = sorted(name for name in before if after.get(name) != before[name])
    # Opening a WAL database makes SQLite's empty log and its shared-memory index beside it.
    added = sorted(name for name in after.keys() - before.keys()
                   if not (name.endswith("-shm") or (name.endswith("-wal") and (state / name).stat().st_size == 0)))
    check(not changed and not added, f"every file in the state directory is unchanged (changed {changed}, added {added})")


def fill(path: Path) -> int:
    """Writes `path` until the file system has no byte left; returns how much it wrote."""
    written = 0
    with open(path, "wb", buffering=0) as f:
        for size in (1 << 16, 1 << 10, 1):
            try:
                while True:
                    written += f.write(b"\0" * size)
            except OSError:
                pass
    return written


def disk_full(mount: Path) -> None:
    print("disk full during writes")
    daemon = Daemon(mount, "--presence", "auto", "--no-rp", "--no-api")
    try:
        ctap = Ctap2(daemon.device())
        creds = dict(make_credential(ctap, n) for n in range(5))
        filler = mount / "filler"
        print(f"  the disk is full after {fill(filler)} more bytes")
        answer = None
        for n in range(5, 400):
            try:
                cid, key = make_credential(ctap, n)
                creds[cid] = key
            except CtapError as e:
                answer = e.code
                break
        check(answer == CtapError.ERR.KEY_STORE_FULL,
              f"makeCredential on a full disk answers KEY_STORE_FULL (got {answer!r} after {len(creds) - 5} more)")
        try:
            asserted = all_assert(ctap, creds)
        except CtapError as e:
            asserted = e.code == CtapError.ERR.KEY_STORE_FULL  # the counter could not be written
        check(asserted, "while full, each credential asserts or the key answers KEY_STORE_FULL")
        filler.unlink()
        check(all_assert(ctap, creds), f"with room again, all {len(creds)} acknowledged credentials assert")
        cid, key = make_credential(ctap, 999)
        creds[cid] = key
        check(True, "makeCredential works again")
        daemon.restart()
        check(all_assert(Ctap2(daemon.device()), creds), "after a restart, every acknowledged credential asserts")
    finally:
        daemon.stop()


def read_only(mount: Path) -> None:
    print("read-only state directory")
    subprocess.run(["mount", "-o", "remount,ro", str(mount)], check=True)
    try:
        refused_start(mount, "Read-only file system")
    finally:
        subprocess.run(["mount", "-o", "remount,rw", str(mount)], check=True)


def damaged(mount: Path) -> None:
    db = mount / "vfido.sqlite3"
    # Fold the write-ahead log into the file, as a clean shutdown of SQLite would, so that the
    # damage below is not hidden behind newer pages in the log.
    con = sqlite3.connect(db)
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    root = con.execute("SELECT rootpage FROM sqlite_master WHERE name = 'credentials'").fetchone()[0]
    con.close()
    original = db.read_bytes()
    print(f"noise over the credentials table's root page (page {root} of {len(original) // 4096})")
    with open(db, "r+b") as f:
        f.seek((root - 1) * 4096)
        f.write(os.urandom(4096))
    refused_start(mount, "fails SQLite's integrity check")
    print("a database overwritten with noise")
    db.write_bytes(os.urandom(len(original)))
    refused_start(mount, "is not a readable SQLite database")
    db.write_bytes(original)

    key = mount / "storage.key"
    real_key = key.read_bytes()
    print("a truncated storage key")
    key.write_bytes(real_key[:20])
    refused_start(mount, "is neither a 32-byte key nor a sealed key file")
    print("another storage key")
    key.write_bytes(os.urandom(32))
    refused_start(mount, "does not decrypt with this storage key")
    key.write_bytes(real_key)
    print("everything restored")
    daemon = Daemon(mount, "--presence", "auto", "--no-rp", "--no-api")
    try:
        info = Ctap2(daemon.device()).get_info()
        check(info.remaining_disc_creds is not None, "the key starts and answers getInfo")
    finally:
        daemon.stop()


def main() -> int:
    if os.environ.get("VFIDO_FAULTS_NAMESPACE") != "1":
        if os.geteuid() != 0:
            print("machine faults need root (a tmpfs in a private mount namespace)")
            return 2
        env = dict(os.environ, VFIDO_FAULTS_NAMESPACE="1")
        return subprocess.run(["unshare", "-m", "--propagation", "private", sys.executable, __file__], env=env).returncode
    work = Path(tempfile.mkdtemp(prefix="vfido-faults-"))
    mount = work / "state"
    mount.mkdir(mode=0o700)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m,mode=0700", "tmpfs", str(mount)], check=True)
    try:
        disk_full(mount)
        read_only(mount)
        damaged(mount)
    finally:
        subprocess.run(["umount", "-l", str(mount)])
    print(f"machine faults: {len(failures)} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
