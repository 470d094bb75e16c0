"""Fault injection (docs/fault-injection.md) through python-fido2 over UDP: a fault changes
what the key sends and is logged; the same log replays it; nothing it did is stored (a
credential made while the key lied asserts with a valid signature once the key stops lying);
the limit flags reach getInfo; a bad rule is refused with a precise message."""
from __future__ import annotations

import hashlib
import json
import subprocess

import pytest
from cryptography.exceptions import InvalidSignature
from fido2 import cbor
from fido2.ctap import CtapError
from fido2.ctap2 import Ctap2
from fido2.hid import CTAPHID

from conftest import VFIDO
from ctap_helpers import RP, make


def log_lines(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_a_fault_is_applied_logged_and_replayed(start_daemon, tmp_path):
    log = tmp_path / "faults.jsonl"
    d = start_daemon("--fault", "ctap.wrong-status@getInfo", "--fault-seed", "5", "--fault-log", str(log))
    assert "faults       ctap.wrong-status@getInfo   seed 5" in d.banner
    with pytest.raises(CtapError):
        Ctap2(d.device())  # getInfo answers an error status now
    (mutation,) = log_lines(log)
    assert mutation["fault"] == "ctap.wrong-status" and mutation["command"] == "getInfo" and mutation["stage"] == "response"
    assert mutation["event"] == 0 and "became" in mutation["detail"]
    assert oct(log.stat().st_mode & 0o777) == "0o600"
    assert "fault ctap.wrong-status on getInfo" in d.log_text()

    # The same log on a fresh key: the first getInfo fails the same way, the second is true.
    replayed = tmp_path / "replayed.jsonl"
    r = start_daemon("--fault-replay", str(log), "--fault-log", str(replayed))
    with pytest.raises(CtapError) as first:
        Ctap2(r.device())
    assert first.value.code == int(mutation["detail"].split("became 0x")[1], 16)
    assert Ctap2(r.device()).get_info().versions
    assert log_lines(replayed) == [mutation]


def test_what_the_key_stores_stays_true(start_daemon, tmp_path):
    state = tmp_path / "state"
    lying = start_daemon("--fault", "crypto.bad-signature@getAssertion", "--fault-seed", "1", state=state)
    made = make(Ctap2(lying.device()), rk=True)
    key = made.auth_data.credential_data.public_key
    cdh = hashlib.sha256(b"assert").digest()
    lie = Ctap2(lying.device()).get_assertion(RP["id"], cdh)
    with pytest.raises(InvalidSignature):
        key.verify(bytes(lie.auth_data) + cdh, lie.signature)
    lying.stop()
    honest = start_daemon(state=state)
    truth = Ctap2(honest.device()).get_assertion(RP["id"], cdh)
    key.verify(bytes(truth.auth_data) + cdh, truth.signature)
    assert truth.credential["id"] == made.auth_data.credential_data.credential_id
    assert truth.auth_data.counter > lie.auth_data.counter  # the lying run's use was counted


def test_frame_faults_reach_the_host(start_daemon, tmp_path):
    log = tmp_path / "faults.jsonl"
    d = start_daemon("--fault", "ctaphid.keepalive-storm@getInfo", "--fault-seed", "2", "--fault-log", str(log))
    dev = d.device()  # INIT is not getInfo: no storm yet
    statuses = []
    reply = dev.call(CTAPHID.CBOR, b"\x04", on_keepalive=statuses.append)  # python-fido2 sits through the storm
    assert reply[0] == 0 and "FIDO_2_0" in cbor.decode(reply[1:])[1]
    (mutation,) = log_lines(log)
    assert mutation["fault"] == "ctaphid.keepalive-storm" and mutation["stage"] == "frames" and mutation["command"] == "getInfo"
    assert int(mutation["detail"].split()[0]) >= 50
    # python-fido2 reports a keepalive status when it changes: once, the storm's.
    storm_status = mutation["detail"].split("(")[1].split(")")[0]
    assert [s.name for s in statuses] == [storm_status]


def test_limit_flags_reach_get_info(start_daemon):
    d = start_daemon("--max-message-size", "1024", "--max-credential-count-in-list", "3", "--max-credential-id-length", "64")
    info = Ctap2(d.device()).get_info()
    assert (info.max_msg_size, info.max_creds_in_list, info.max_cred_id_length) == (1024, 3, 64)


@pytest.mark.parametrize("rule,message", [
    ("ctap.nothing", 'no fault "ctap.nothing"'),
    ("ctap.truncated@getAsertion", 'no command "getAsertion"'),
    ("ctap.truncated:2", "the rate after ':' must be a number from 0 to 1"),
])
def test_a_bad_rule_is_refused_precisely(rule, message, tmp_path):
    out = subprocess.run([str(VFIDO), "serve", "--ephemeral", "--fault", rule], capture_output=True, text=True, timeout=30)
    assert out.returncode != 0 and message in out.stderr


def test_vfido_faults_lists_every_kind():
    out = subprocess.run([str(VFIDO), "faults"], capture_output=True, text=True, check=True, timeout=30).stdout
    for kind in ["ctaphid.wrong-seq", "ctap.huge-length", "crypto.counter-backwards", "flags.uv", "usbip.stall"]:
        assert kind in out
