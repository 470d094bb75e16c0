"""Tier 2: `vfido e2e`, the project's own end-to-end run (RP <-> WebAuthnClient <-> CTAPHID <-> key).

It must pass on a fresh clone with its embedded RP and in-process key, pass against a running
`vfido serve` key over UDP, and, run against an RP configured for another origin, exit non-zero
naming every flow that needs the origin to match."""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "Tests/Interop"))
from conftest import free_tcp_port, free_udp_port  # noqa: E402
VFIDO = Path(os.environ.get("VFIDO_BIN", ROOT / ".build/debug/vfido")).resolve()
FLOWS = ["client token", "registration (logged out)", "authentication with username", "registration (logged in)",
         "hosted registration + redirect", "hosted login (OIDC code)", "usernameless (several accounts)",
         "cross-device registration", "cross-device authentication", "cross-device abort", "cross-device timeout",
         "auth-session variant"]
# Every flow whose ceremony the RP verifies (the abort and timeout paths run no ceremony).
CEREMONIES = [f for f in FLOWS if f not in ("client token", "cross-device abort", "cross-device timeout")]


def e2e(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(VFIDO), "e2e", *args], capture_output=True, text=True, timeout=120)


@pytest.fixture
def background(tmp_path):
    started = []

    def start(*args: str, ready: str = "Stop with") -> subprocess.Popen:
        log = open(tmp_path / f"server-{len(started)}.log", "w")
        proc = subprocess.Popen([str(VFIDO), *args], stdout=subprocess.PIPE, stderr=log, text=True, start_new_session=True)
        started.append(proc)
        deadline = time.time() + 30
        while time.time() < deadline:
            line = proc.stdout.readline()
            if not line:
                raise RuntimeError(f"vfido {' '.join(args)} exited")
            if line.startswith(ready):
                return proc
        raise RuntimeError(f"vfido {' '.join(args)} did not start")

    yield start
    for proc in started:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=10)


def test_embedded_run_passes_every_flow_and_prints_the_table():
    run = e2e()
    assert run.returncode == 0, run.stdout + run.stderr
    cells = [re.split(r"\s{2,}", line.strip()) for line in run.stdout.splitlines()]
    rows = {c[0]: c[1] for c in cells if len(c) > 2 and c[1] in ("PASS", "FAIL", "SKIP")}
    assert list(rows) == FLOWS
    assert set(rows.values()) == {"PASS"}, run.stdout
    assert "12/12 flows passed" in run.stdout


def test_json_report_has_a_time_per_flow():
    run = e2e("--json")
    assert run.returncode == 0, run.stdout + run.stderr
    report = json.loads(run.stdout)
    assert [r["flow"] for r in report["results"]] == FLOWS
    assert {r["outcome"] for r in report["results"]} == {"passed"}
    assert all(r["seconds"] > 0 for r in report["results"]) and report["seconds"] > 0
    assert report["origin"].startswith("http://localhost:") and report["key"].startswith("in-process")


def test_py_webauthn_verifies_every_ceremony_of_the_client(tmp_path):
    """The WebAuthn client's output checked by a verifier that is not ours: py_webauthn verifies
    each registration against the challenge, RP ID and origin, and each assertion against the
    public key its registration yielded."""
    from webauthn import verify_authentication_response, verify_registration_response
    from webauthn.helpers import base64url_to_bytes

    run = e2e("--ceremonies", str(tmp_path / "ceremonies.json"))
    assert run.returncode == 0, run.stdout + run.stderr
    ceremonies = json.loads((tmp_path / "ceremonies.json").read_text())
    keys = {}
    for c in ceremonies:
        expected = dict(expected_challenge=base64url_to_bytes(c["challenge"]), expected_rp_id=c["rpID"],
                        expected_origin=c["origin"])
        if c["kind"] == "registration":
            verified = verify_registration_response(credential=c["credential"], **expected)
            keys[json.loads(c["credential"])["id"]] = verified.credential_public_key
        else:
            credential_id = json.loads(c["credential"])["id"]
            verify_authentication_response(credential=c["credential"], credential_public_key=keys[credential_id],
                                           credential_current_sign_count=0, **expected)
    kinds = [c["kind"] for c in ceremonies]
    assert kinds.count("registration") == 5 and kinds.count("assertion") == 6, kinds


def test_a_running_key_over_udp_against_a_running_rp(background):
    udp, rp = free_udp_port(), free_tcp_port()
    background("serve", "--ephemeral", "--no-usbip", "--udp", f"127.0.0.1:{udp}", "--rp", f"127.0.0.1:{rp}",
               "--rp-ceremony-timeout", "3")
    run = e2e("--rp", f"http://localhost:{rp}", "--udp", f"127.0.0.1:{udp}", "--json")
    assert run.returncode == 0, run.stdout + run.stderr
    report = json.loads(run.stdout)
    assert report["key"] == f"udp 127.0.0.1:{udp}"
    assert {r["outcome"] for r in report["results"]} == {"passed"}


def test_an_rp_with_another_origin_fails_and_the_failed_flows_are_named(background):
    rp = free_tcp_port()
    background("rp", "serve", "--ephemeral", "--rp", f"127.0.0.1:{rp}", "--rp-origin", f"http://other.example:{rp}",
               "--rp-ceremony-timeout", "3")
    run = e2e("--rp", f"http://localhost:{rp}", "--json")
    assert run.returncode == 1, run.stdout + run.stderr
    report = json.loads(run.stdout)
    outcome = {r["flow"]: r for r in report["results"]}
    failed = [f for f in FLOWS if outcome[f]["outcome"] == "failed"]
    assert failed == CEREMONIES
    assert run.stderr.strip().endswith("FAILED: " + ", ".join(CEREMONIES))
    # The first ceremony of the run is refused by the RP for the origin, with its error code.
    assert "origin_not_allowed" in outcome["registration (logged out)"]["detail"]
    assert outcome["cross-device abort"]["outcome"] == "passed"

    table = e2e("--rp", f"http://localhost:{rp}")
    assert table.returncode == 1
    for flow in CEREMONIES:
        assert any(line.startswith(flow) and "FAIL" in line for line in table.stdout.splitlines()), flow


def test_a_key_that_does_not_answer_is_a_clear_error():
    run = e2e("--udp", f"127.0.0.1:{free_udp_port()}")
    assert run.returncode != 0
    assert "does not answer getInfo" in run.stderr
