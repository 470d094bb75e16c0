#!/usr/bin/env python3
"""A python-fido2 host for `vfido fuzz-host`: getInfo, a discoverable makeCredential and a
getAssertion, each answer checked as a relying party would (rpIdHash, UP, the counter, the
signature under the credential's key).

Exit 0: everything checked out. Exit 1: the host refused what the key sent, cleanly (a CTAP
error, a ConnectionFailure, a timeout, a ValueError from python-fido2's parsers, a check of ours that failed).
Exit 2: anything else, with its traceback: python-fido2 met a reply it did not expect and
fell over in a way a caller cannot catch by type, which is what fuzz-host reports.
The key's UDP port comes from VFIDO_UDP (host:port).
"""
from __future__ import annotations

import hashlib
import os
import sys
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "Interop"))

from cryptography.exceptions import InvalidSignature  # noqa: E402
from fido2.ctap import CtapError  # noqa: E402
from fido2.ctap2 import Ctap2  # noqa: E402
from fido2.hid import ConnectionFailure  # noqa: E402
from vfido_udp import open_device  # noqa: E402

RP = "fuzz-host.example"


class Refused(Exception):
    """The answer was wrong and we noticed."""


def check(condition: bool, what: str) -> None:
    if not condition:
        raise Refused(what)


def main() -> int:
    port = int(os.environ["VFIDO_UDP"].rsplit(":", 1)[1])
    ctap = Ctap2(open_device(port, timeout=2.0))
    info = ctap.get_info()
    check("FIDO_2_0" in info.versions or "FIDO_2_1" in info.versions, f"versions {info.versions}")
    made = ctap.make_credential(
        hashlib.sha256(b"make").digest(), {"id": RP, "name": RP}, {"id": b"user", "name": "user"},
        [{"type": "public-key", "alg": -7}], options={"rk": True})
    auth = made.auth_data
    check(auth.rp_id_hash == hashlib.sha256(RP.encode()).digest(), "makeCredential rpIdHash")
    check(auth.is_user_present(), "makeCredential without UP")
    check(auth.credential_data is not None, "no attested credential data")
    key = auth.credential_data.public_key
    asserted = ctap.get_assertion(RP, hashlib.sha256(b"get").digest())
    check(asserted.auth_data.rp_id_hash == auth.rp_id_hash, "getAssertion rpIdHash")
    check(asserted.auth_data.is_user_present(), "getAssertion without UP")
    check(not asserted.auth_data.is_user_verified(), "UV claimed, never asked for")
    check(asserted.auth_data.counter > auth.counter or asserted.auth_data.counter == 0 == auth.counter, "counter went back")
    key.verify(bytes(asserted.auth_data) + hashlib.sha256(b"get").digest(), asserted.signature)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (CtapError, ConnectionFailure, OSError, ValueError, InvalidSignature, Refused) as e:
        print(f"refused: {type(e).__name__}: {e}", file=sys.stderr)
        sys.exit(1)
    except Exception:  # noqa: BLE001  (the point: what python-fido2 did not handle)
        traceback.print_exc()
        sys.exit(2)
