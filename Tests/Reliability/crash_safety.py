#!/usr/bin/env python3
"""SIGKILLs `vfido serve` while it writes, then checks with python-fido2 that nothing it
acknowledged was lost or damaged.

Each round starts the daemon on the same on-disk state, runs a stream of writes against it
(resident makeCredential, most of them; credential deletion through credentialManagement; whole
large-blob array writes), and SIGKILLs it after a random number of acknowledged writes plus a
random moment into the next one. After the restart:
- every acknowledged credential of the round is found by a discoverable getAssertion, its
  signature verifies under the public key makeCredential returned, and its signature counter is
  above every counter seen for it before (no regression across the crash);
- every acknowledged deletion stayed deleted; at most the one write in flight is undecided;
- the large-blob array is the last acknowledged one, or the one in flight.
At the end every credential of every round is checked the same way. The seed makes a run
repeatable. Usage: crash_safety.py [--kills N] [--seed S] [--json]
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[0] / "Interop"))
from conftest import Daemon  # noqa: E402  (Tests/Interop/conftest.py)
from fido2.ctap import CtapError  # noqa: E402
from fido2.ctap2 import ClientPin, Ctap2, CredentialManagement, LargeBlobs  # noqa: E402
from fido2.ctap2.pin import PinProtocolV2  # noqa: E402
from fido2.webauthn import AuthenticatorData  # noqa: E402
from vfido_udp import UdpConnection, open_device  # noqa: E402

PIN = "crash-safety-1234"
ES256 = [{"type": "public-key", "alg": -7}]
PERMISSIONS = (ClientPin.PERMISSION.MAKE_CREDENTIAL | ClientPin.PERMISSION.CREDENTIAL_MGMT
               | ClientPin.PERMISSION.LARGE_BLOB_WRITE)


class KilledConnection(UdpConnection):
    """A UDP connection whose blocked read gives up as soon as the daemon is known dead
    (it polls a flag between short waits; a live daemon still gets the full timeout)."""

    def __init__(self, port: int, killed: threading.Event):
        super().__init__(port, timeout=0.2)
        self.killed = killed

    def read_packet(self) -> bytes:
        deadline = time.monotonic() + 60
        while True:
            try:
                return super().read_packet()
            except OSError:
                if self.killed.is_set() or time.monotonic() > deadline:
                    raise


@dataclass
class Credential:
    rp: str
    public_key: object
    counter: int
    deleted: bool = False
    undecided: bool = False  # a deletion was in flight at the kill


class Run:
    def __init__(self, kills: int, seed: int):
        self.kills = kills
        self.rng = random.Random(seed)
        self.seed = seed
        self.creds: dict[bytes, Credential] = {}
        self.blob_acked: list = []
        self.blob_in_flight: list | None = None
        self.unacked_make_rp: str | None = None  # the rp of a makeCredential in flight at the kill
        self.counts = {"makeCredential": 0, "deleteCredential": 0, "largeBlobWrite": 0, "checked": 0, "adopted": 0}
        self.failures: list[str] = []
        self.kills_done = 0

    def device(self, daemon: Daemon, killed: threading.Event) -> Ctap2:
        return Ctap2(open_device(daemon.port, connection=KilledConnection(daemon.port, killed)))

    def token(self, ctap: Ctap2, rp: str) -> tuple[PinProtocolV2, bytes]:
        protocol = PinProtocolV2()
        return protocol, ClientPin(ctap, protocol).get_pin_token(PIN, PERMISSIONS, rp)

    def writes(self, ctap: Ctap2, rp: str, acked: list[int], stop: threading.Event) -> None:
        """Writes until the daemon dies; acked[0] counts what it acknowledged."""
        protocol, token = self.token(ctap, rp)
        while not stop.is_set():
            roll = self.rng.random()
            mine = [cid for cid, c in self.creds.items() if c.rp == rp and not c.deleted]
            # Near the key's resident-credential capacity, only deletions and blob writes: a
            # full key answering KEY_STORE_FULL is right, but not what this run is about.
            if sum(1 for c in self.creds.values() if not c.deleted) >= self.capacity - 2:
                roll = 0.0 if mine else 0.2
            if roll < 0.15 and mine:
                cid = self.rng.choice(mine)
                self.creds[cid].undecided = True
                CredentialManagement(ctap, protocol, token).delete_cred({"type": "public-key", "id": cid})
                self.creds[cid].deleted, self.creds[cid].undecided = True, False
                self.counts["deleteCredential"] += 1
            elif roll < 0.3:
                array = [{1: os.urandom(self.rng.randint(16, 900)), 2: os.urandom(12), 3: 10}]
                self.blob_in_flight = array
                LargeBlobs(ctap, protocol, token).write_blob_array(array)
                self.blob_acked, self.blob_in_flight = array, None
                self.counts["largeBlobWrite"] += 1
            else:
                cdh = os.urandom(32)
                user = {"id": os.urandom(16), "name": f"user{len(self.creds)}"}
                self.unacked_make_rp = rp
                att = ctap.make_credential(cdh, {"id": rp}, user, ES256, options={"rk": True},
                                           pin_uv_param=protocol.authenticate(token, cdh),
                                           pin_uv_protocol=protocol.VERSION)
                data = att.auth_data.credential_data
                self.creds[data.credential_id] = Credential(rp, data.public_key, att.auth_data.counter)
                self.unacked_make_rp = None
                self.counts["makeCredential"] += 1
            acked[0] += 1

    def check_rp(self, ctap: Ctap2, rp: str) -> None:
        """A discoverable getAssertion finds exactly the credentials the rp should have."""
        expected = {cid for cid, c in self.creds.items() if c.rp == rp and not c.deleted and not c.undecided}
        maybe = {cid for cid, c in self.creds.items() if c.rp == rp and c.undecided}
        try:
            assertions = ctap.get_assertions(rp, hashlib.sha256(rp.encode()).digest())
        except CtapError as e:
            if e.code == CtapError.ERR.NO_CREDENTIALS and not expected:
                assertions = []
            else:
                self.failures.append(f"{rp}: getAssertion answered {e.code.name}")
                return
        found = set()
        for a in assertions:
            cid = a.credential["id"]
            found.add(cid)
            cred = self.creds.get(cid)
            if cred is None:
                # The makeCredential in flight at the kill may have committed: adopt it once.
                if self.unacked_make_rp != rp:
                    self.failures.append(f"{rp}: an unknown credential {cid.hex()[:16]} was found")
                    continue
                self.unacked_make_rp = None
                cred = self.creds[cid] = Credential(rp, None, -1)
                self.counts["adopted"] += 1
            if cred.deleted and not cred.undecided:
                self.failures.append(f"{rp}: deleted credential {cid.hex()[:16]} came back")
            try:
                if cred.public_key is not None:
                    cred.public_key.verify(bytes(a.auth_data) + hashlib.sha256(rp.encode()).digest(), a.signature)
            except Exception as e:  # noqa: BLE001  (any verification error is the finding)
                self.failures.append(f"{rp}: {cid.hex()[:16]} signature does not verify: {e}")
                continue
            if AuthenticatorData(bytes(a.auth_data)).counter <= cred.counter:
                self.failures.append(f"{rp}: {cid.hex()[:16]} counter went from {cred.counter} "
                                     f"to {a.auth_data.counter}")
            cred.counter = a.auth_data.counter
            self.counts["checked"] += 1
        for cid in expected - found:
            self.failures.append(f"{rp}: acknowledged credential {cid.hex()[:16]} is lost")
        for cid in maybe:  # the kill decided it: remember which way
            self.creds[cid].undecided = False
            self.creds[cid].deleted = cid not in found

    def check_blob(self, ctap: Ctap2) -> None:
        array = list(LargeBlobs(ctap).read_blob_array())
        allowed = [self.blob_acked] + ([self.blob_in_flight] if self.blob_in_flight else [])
        if array not in allowed:
            self.failures.append(f"the large-blob array is neither the acknowledged one nor the one in flight ({len(array)} entries)")
        elif array == self.blob_in_flight:
            self.blob_acked = array
        self.blob_in_flight = None

    def run(self) -> dict:
        state = Path(tempfile.mkdtemp(prefix="vfido-crash-")) / "state"
        daemon = Daemon(state, "--presence", "auto", "--no-rp", "--no-api")
        started = time.monotonic()
        killed = threading.Event()
        first = self.device(daemon, killed)
        self.capacity = first.info.remaining_disc_creds or 25
        ClientPin(first, PinProtocolV2()).set_pin(PIN)
        rps = []
        try:
            for round_number in range(self.kills):
                # Five RPs in turn: a round can delete what earlier rounds made for its RP.
                rp = f"rp{round_number % 5}.crash.example"
                if rp not in rps:
                    rps.append(rp)
                killed.clear()
                ctap = self.device(daemon, killed)
                acked, stop, errors = [0], threading.Event(), []

                def worker() -> None:
                    try:
                        self.writes(ctap, rp, acked, stop)
                    except (OSError, CtapError) as e:
                        if not killed.is_set():
                            errors.append(repr(e))

                thread = threading.Thread(target=worker, daemon=True)
                thread.start()
                target = self.rng.randint(1, 8)
                while acked[0] < target and thread.is_alive():
                    time.sleep(0.001)
                time.sleep(self.rng.uniform(0, 0.03))  # where in the next write the kill lands
                killed.set()
                daemon.proc.kill()
                daemon.proc.wait()
                thread.join(timeout=90)
                if errors:
                    self.failures.append(f"round {round_number}: a write failed before the kill: {errors[0]}")
                daemon.stop()
                daemon.start()
                check = self.device(daemon, threading.Event())
                self.check_rp(check, rp)
                self.check_blob(check)
                self.unacked_make_rp = None
                self.kills_done += 1
                if len(self.failures) >= 20:
                    break
            final = self.device(daemon, threading.Event())
            for rp in rps:
                self.check_rp(final, rp)
        finally:
            daemon.stop()
        live = sum(1 for c in self.creds.values() if not c.deleted)
        return {
            "seed": self.seed,
            "kills": self.kills_done,
            "seconds": round(time.monotonic() - started, 1),
            "acknowledged": {k: v for k, v in self.counts.items() if k not in ("checked", "adopted")},
            "in_flight_makeCredential_committed": self.counts["adopted"],
            "credentials_alive": live,
            "assertions_verified": self.counts["checked"],
            "failures": self.failures,
        }


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--kills", type=int, default=30)
    parser.add_argument("--seed", type=int, default=int.from_bytes(os.urandom(4), "big"))
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = Run(args.kills, args.seed).run()
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        a = result["acknowledged"]
        print(f"crash safety (seed {result['seed']}): {result['kills']} SIGKILLs in {result['seconds']} s; "
              f"acknowledged {a['makeCredential']} makeCredential, {a['deleteCredential']} deletions, "
              f"{a['largeBlobWrite']} large-blob writes; {result['credentials_alive']} credentials alive, "
              f"{result['assertions_verified']} assertions verified; {len(result['failures'])} failures")
        for failure in result["failures"]:
            print(f"  FAIL {failure}")
    return 1 if result["failures"] else 0


if __name__ == "__main__":
    sys.exit(main())
