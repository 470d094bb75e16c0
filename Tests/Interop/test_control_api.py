"""The control API (docs/control-api.md) through the shipped Python client and pytest fixture,
with python-fido2 as the platform and `cryptography` as the independent signature verifier."""
from __future__ import annotations

import hashlib
import os
import socket
import struct
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from fido2.ctap import CtapError
from fido2.ctap2 import Ctap2

from conftest import VFIDO, free_tcp_port
from ctap_helpers import RP_ID, cdh, make
from vfido_udp import open_device

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "clients" / "python"))
from vfido_control import ControlError, VfidoControl, b64url, unb64url  # noqa: E402

pytest_plugins = ["pytest_vfido"]


def pkcs8(key) -> bytes:
    return key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())


def verify(public_key, auth_data: bytes, client_data_hash: bytes, signature: bytes) -> None:
    message = auth_data + client_data_hash
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        public_key.verify(signature, message, ec.ECDSA(hashes.SHA256()))
    else:
        public_key.verify(signature, message)


def sign_count(auth_data: bytes) -> int:
    return struct.unpack(">I", auth_data[33:37])[0]


def device(vfido_key) -> Ctap2:
    return Ctap2(open_device(vfido_key.udp_port))


def test_an_imported_credential_asserts_and_verifies_under_the_imported_public_key(vfido_key):
    private = ec.generate_private_key(ec.SECP256R1())
    credential_id = os.urandom(48)
    added = vfido_key.add_credential(credential_id=credential_id, rp_id=RP_ID, private_key=pkcs8(private), sign_count=41)
    assert added["credentialId"] == b64url(credential_id) and added["isResidentCredential"] is False
    assert "privateKey" not in added and added["signCount"] == 41

    ctap2 = device(vfido_key)
    after = vfido_key.last_sequence()
    assertion = ctap2.get_assertion(RP_ID, cdh(), [{"type": "public-key", "id": credential_id}])
    assert assertion.credential["id"] == credential_id
    verify(private.public_key(), bytes(assertion.auth_data), cdh(), assertion.signature)
    assert sign_count(bytes(assertion.auth_data)) == 42  # its own counter, from the imported value
    event = vfido_key.control.wait_for_event(lambda e: e["type"] == "credentialAsserted", after=after, timeout=30)
    assert event["credentialId"] == b64url(credential_id) and event["signCount"] == 42

    # a non-resident import is not discoverable, and not for another RP
    with pytest.raises(CtapError) as e:
        ctap2.get_assertion(RP_ID, cdh())
    assert e.value.code == CtapError.ERR.NO_CREDENTIALS
    with pytest.raises(CtapError):
        ctap2.get_assertion("other.example", cdh(), [{"type": "public-key", "id": credential_id}])


@pytest.mark.parametrize("make_key", [lambda: ed25519.Ed25519PrivateKey.generate(), lambda: ec.generate_private_key(ec.SECP384R1())],
                         ids=["Ed25519", "P-384"])
def test_an_imported_passkey_is_discoverable_with_its_user(vfido_key, make_key):
    private = make_key()
    credential_id = os.urandom(16)
    vfido_key.add_credential(credential_id=credential_id, rp_id=RP_ID, private_key=pkcs8(private), resident=True,
                             user_handle=b"alice-handle", user_name="alice", backup_eligible=True, backup_state=True)
    assertion = device(vfido_key).get_assertion(RP_ID, cdh())
    assert assertion.credential["id"] == credential_id and assertion.user["id"] == b"alice-handle"
    auth_data = bytes(assertion.auth_data)
    if isinstance(private, ec.EllipticCurvePrivateKey):
        private.public_key().verify(assertion.signature, auth_data + cdh(), ec.ECDSA(hashes.SHA384()))
    else:
        verify(private.public_key(), auth_data, cdh(), assertion.signature)
    assert auth_data[32] & 0x18 == 0x18  # BE and BS, as imported

    vfido_key.set_credential_properties(credential_id=credential_id, backup_state=False, sign_count=100)
    auth_data = bytes(device(vfido_key).get_assertion(RP_ID, cdh()).auth_data)
    assert auth_data[32] & 0x18 == 0x08 and sign_count(auth_data) == 101


def test_event_stream_reports_creation_prompts_and_the_command_log(vfido_key):
    after = vfido_key.last_sequence()
    seen: list[dict] = []
    done = threading.Event()

    def listen():
        for event in vfido_key.control.events(after=after, timeout=60):
            seen.append(event)
            if event["type"] == "command" and event["command"] == "CTAP makeCredential":
                done.set()
                return

    threading.Thread(target=listen, daemon=True).start()
    result = make(device(vfido_key), rk=True)
    assert done.wait(60), seen
    types = [e["type"] for e in seen]
    assert types.index("promptStarted") < types.index("promptAnswered") < types.index("credentialAdded")
    added = next(e for e in seen if e["type"] == "credentialAdded")
    assert unb64url(added["credentialId"]) == result.auth_data.credential_data.credential_id
    assert added["isResidentCredential"] is True and added["source"] == "ctap" and added["userName"] == "user1"
    answered = next(e for e in seen if e["type"] == "promptAnswered")
    assert answered["operation"] == "makeCredential" and answered["result"] == "approved" and answered["answeredBy"] == "auto"
    command = seen[-1]
    assert command["status"] == "CTAP2_OK" and command["milliseconds"] >= 0
    assert [c["credentialId"] for c in vfido_key.credentials()] == [added["credentialId"]]


def test_faults_are_set_read_and_cleared_through_the_api(vfido_key):
    made = make(device(vfido_key), rk=True)
    key = made.auth_data.credential_data.public_key
    state = vfido_key.set_faults(rules=["crypto.counter-backwards@getAssertion", "flags.uv@getAssertion"], seed=9)
    assert state["rules"] == ["crypto.counter-backwards@getAssertion", "flags.uv@getAssertion"] and state["seed"] == 9
    assert state["applied"] == 0 and state["log"] == []
    lie = device(vfido_key).get_assertion(RP_ID, cdh())
    assert lie.auth_data.is_user_verified()  # never verified: the UV flag lies
    assert sign_count(bytes(lie.auth_data)) < sign_count(bytes(made.auth_data)) + 1
    with pytest.raises(InvalidSignature):  # the signature covers the true authenticator data
        key.verify(bytes(lie.auth_data) + cdh(), lie.signature)
    state = vfido_key.faults()
    assert state["applied"] == 2 and {m["fault"] for m in state["log"]} == {"crypto.counter-backwards", "flags.uv"}
    with pytest.raises(ControlError) as bad:
        vfido_key.set_faults(rules=["ctap.nothing"])
    assert bad.value.status == 400 and bad.value.code == "invalid_fault"
    assert vfido_key.set_faults(rules=[])["rules"] == []
    truth = device(vfido_key).get_assertion(RP_ID, cdh())
    key.verify(bytes(truth.auth_data) + cdh(), truth.signature)
    assert not truth.auth_data.is_user_verified()


def test_response_overrides_break_what_an_rp_checks(vfido_key):
    private = ec.generate_private_key(ec.SECP256R1())
    credential_id = os.urandom(32)
    vfido_key.add_credential(credential_id=credential_id, rp_id=RP_ID, private_key=pkcs8(private))
    allow = [{"type": "public-key", "id": credential_id}]
    ctap2 = device(vfido_key)

    vfido_key.set_overrides(bogus_signature=True)
    assertion = ctap2.get_assertion(RP_ID, cdh(), allow)
    assert set(assertion.signature) == {0}
    with pytest.raises(InvalidSignature):
        verify(private.public_key(), bytes(assertion.auth_data), cdh(), assertion.signature)

    vfido_key.set_overrides(bogus_signature=False, bad_up=True)
    assertion = ctap2.get_assertion(RP_ID, cdh(), allow)
    assert bytes(assertion.auth_data)[32] & 0x01 == 0  # UP cleared, and signed over the lie
    verify(private.public_key(), bytes(assertion.auth_data), cdh(), assertion.signature)

    vfido_key.set_overrides(bad_up=False)
    assert bytes(ctap2.get_assertion(RP_ID, cdh(), allow).auth_data)[32] & 0x01 == 1


def test_prompts_are_answered_through_the_api(vfido_key):
    vfido_key.set_presence(user_consenting=False)  # CDP: presence tests stay unresolved
    ctap2 = device(vfido_key)
    outcome: dict = {}
    thread = threading.Thread(target=lambda: outcome.update(result=make(ctap2, rk=True)))
    thread.start()
    answered = vfido_key.approve(wait=30)
    thread.join(60)
    assert answered["operation"] == "makeCredential" and answered["rpId"] == RP_ID and answered["userName"] == "user1"
    assert "result" in outcome

    thread = threading.Thread(target=lambda: outcome.update(error=_error(lambda: ctap2.get_assertion(RP_ID, cdh()))))
    thread.start()
    deadline = time.monotonic() + 30
    while not vfido_key.prompts() and time.monotonic() < deadline:
        time.sleep(0.05)
    pending = vfido_key.prompts()
    assert [p["operation"] for p in pending] == ["getAssertion"]
    vfido_key.deny(prompt_id=pending[0]["id"])
    thread.join(60)
    assert outcome["error"] == CtapError.ERR.OPERATION_DENIED
    with pytest.raises(ControlError) as e:
        vfido_key.approve()
    assert e.value.status == 404 and e.value.code == "prompt_not_found"


def _error(call):
    try:
        call()
    except CtapError as e:
        return e.code
    return None


def test_user_verification_follows_set_user_verified(start_daemon):
    d = start_daemon("--builtin-uv")
    api = VfidoControl.for_state(d.state)
    ctap2 = Ctap2(d.device())
    api.set_presence(1, user_verified=False)
    with pytest.raises(CtapError) as e:
        make(ctap2, rk=True, options={"uv": True})
    assert e.value.code == CtapError.ERR.UV_INVALID
    api.set_presence(1, user_verified=True)
    assert make(ctap2, rk=True, options={"uv": True}).auth_data.flags & 0x04


def test_bad_requests_are_refused_precisely_and_change_nothing(vfido_key):
    api = vfido_key.control
    good = {"credentialId": b64url(b"id"), "isResidentCredential": False, "rpId": RP_ID,
            "privateKey": b64url(pkcs8(ec.generate_private_key(ec.SECP256R1())))}
    cases = [
        (dict(good, color="red"), 400, "unknown_field"),
        ({k: v for k, v in good.items() if k != "rpId"}, 400, "missing_field"),
        (dict(good, isResidentCredential="yes"), 400, "invalid_field"),
        (dict(good, privateKey=b64url(b"not a key")), 400, "invalid_private_key"),
        (dict(good, privateKey=b64url(pkcs8(ec.generate_private_key(ec.SECP521R1())))), 400, "unsupported_key_type"),
        (dict(good, privateKey=b64url(pkcs8(rsa.generate_private_key(65537, 1024)))), 400, "unsupported_key_type"),
        (dict(good, isResidentCredential=True), 400, "invalid_credential"),  # a passkey needs a userHandle
        (dict(good, credentialId=b64url(bytes(1024))), 400, "invalid_credential"),
    ]
    for body, status, code in cases:
        with pytest.raises(ControlError) as e:
            api.request("POST", "/keys/1/credentials", body)
        assert (e.value.status, e.value.code) == (status, code), body
    with pytest.raises(ControlError) as e:
        api.request("POST", "/keys/1/credentials", raw=b"x" * 70000)
    assert e.value.status == 413
    with pytest.raises(ControlError) as e:
        api.request("GET", "/keys/1", token="wrong")
    assert e.value.status == 401
    with pytest.raises(ControlError) as e:
        api.request("GET", "/keys/7")
    assert (e.value.status, e.value.code) == (404, "key_not_found")
    with pytest.raises(ControlError) as e:
        api.request("GET", f"/keys/1/credentials/{b64url(b'nope')}")
    assert (e.value.status, e.value.code) == (404, "credential_not_found")
    assert api.credentials(1) == []
    api.request("POST", "/keys/1/credentials", good)
    with pytest.raises(ControlError) as e:
        api.request("POST", "/keys/1/credentials", good)
    assert (e.value.status, e.value.code) == (409, "credential_conflict")
    assert len(api.credentials(1)) == 1


def test_unplug_silences_the_key_and_plug_brings_it_back(vfido_key):
    ctap2 = device(vfido_key)
    assert vfido_key.unplug()["plugged"] is False
    with pytest.raises(Exception):
        Ctap2(open_device(vfido_key.udp_port, timeout=1.5))
    assert vfido_key.plug()["plugged"] is True
    assert device(vfido_key).get_info().versions
    kinds = [e["type"] for e in vfido_key.recent_events()]
    assert kinds.index("unplugged") < kinds.index("plugged")
    del ctap2


def test_the_pico_controller_hook_python_fido2_speaks(vfido_key):
    """python-fido2's tests/device PicoController: GET /, /usbN/touch/on|off, /usbN/power/on|off."""
    base = f"{vfido_key.daemon.url}/harness/pico/{vfido_key.control.token}"
    get = lambda path: urllib.request.urlopen(base + path, timeout=10).read()
    assert b"pico" in get("/")
    vfido_key.set_presence(policy="control")
    get("/usb1/touch/on")
    assert vfido_key.presence()["touching"] is True
    make(device(vfido_key))  # approved by the held touch, though the policy waits
    get("/usb1/touch/off")
    get("/usb1/power/off")
    assert vfido_key.key()["plugged"] is False
    get("/usb1/power/on")
    assert vfido_key.key()["plugged"] is True
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(f"{vfido_key.daemon.url}/harness/pico/wrong/usb1/touch/on", timeout=10)
    assert e.value.code == 401


def test_cli_export_and_import_move_passkeys_between_keys(vfido_key, start_daemon, tmp_path):
    make(device(vfido_key), rk=True)
    original = vfido_key.credentials()[0]
    for fmt in ("webdriver", "cxf"):
        exported = vfido_key.export_credentials(format=fmt)
        target = start_daemon()
        path = tmp_path / f"{fmt}.json"
        path.write_text(__import__("json").dumps(exported))
        out = subprocess.run([str(VFIDO), "creds", "import", "--state", str(target.state), str(path)],
                             capture_output=True, text=True, timeout=30, check=True).stdout
        assert original["credentialId"] in out
        assertion = Ctap2(target.device()).get_assertion(RP_ID, cdh())
        assert b64url(assertion.credential["id"]) == original["credentialId"]
        # the signature verifies under the public key the credential was registered with
        public = serialization.load_der_private_key(unb64url(
            next(c for c in vfido_key.export_credentials() if c["credentialId"] == original["credentialId"])["privateKey"]),
            None).public_key()
        verify(public, bytes(assertion.auth_data), cdh(), assertion.signature)
    cli = subprocess.run([str(VFIDO), "creds", "export", "--state", str(target.state), "--out", str(tmp_path / "out.json")],
                         capture_output=True, text=True, timeout=30, check=True)
    assert oct((tmp_path / "out.json").stat().st_mode & 0o777) == "0o600" and "private keys" in cli.stderr


def test_cli_events_prints_the_stream(start_daemon):
    d = start_daemon()
    make(Ctap2(d.device()))
    proc = subprocess.Popen([str(VFIDO), "events", "--replay", "--state", str(d.state)], stdout=subprocess.PIPE, text=True)
    try:
        line = ""
        deadline = time.monotonic() + 30
        while "credentialAdded" not in line and time.monotonic() < deadline:
            line = proc.stdout.readline()
        assert '"type":"credentialAdded"' in line
    finally:
        proc.kill()
        proc.wait()


def usbip_busids(port: int) -> list[str]:
    """OP_REQ_DEVLIST by hand: the bus ids a USB/IP host would list."""
    def exactly(s, n):
        data = b""
        while len(data) < n:
            chunk = s.recv(n - len(data))
            assert chunk, "USB/IP server closed the connection"
            data += chunk
        return data

    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(struct.pack(">HHI", 0x0111, 0x8005, 0))
        version, code, status, count = struct.unpack(">HHII", exactly(s, 12))
        assert (code, status) == (0x0005, 0)
        busids = []
        for _ in range(count):
            record = exactly(s, 312)  # path[256] busid[32] busnum devnum speed ids class... bNumInterfaces
            busids.append(record[256:288].rstrip(b"\0").decode())
            exactly(s, 4 * record[311])
        return busids


def test_keys_added_at_runtime_speak_their_protocol_and_go_away_when_removed():
    """POST /keys with WebDriver's options: a CTAP 2.0 key and a U2F-only key appear on UDP and
    USB/IP; python-fido2 sees what each is and verifies what each signs; DELETE takes them away."""
    from fido2.attestation import PackedAttestation
    from fido2.ctap1 import Ctap1
    from fido2.hid import CAPABILITY
    from vfido_control import VfidoDaemon

    usbip_port = free_tcp_port()
    with VfidoDaemon.start(VFIDO, "--usbip", f"127.0.0.1:{usbip_port}", "--reset-window", "0") as d:
        api = d.control
        assert usbip_busids(usbip_port) == ["1-1"]

        ctap2_0 = api.add_key(protocol="ctap2", hasResidentKey=False, extensions=["hmac-secret"])
        assert ctap2_0["key"] == 2 and ctap2_0["usbipBusId"] == "1-2" and ctap2_0["udpPort"]
        info = Ctap2(open_device(ctap2_0["udpPort"])).get_info()
        assert info.versions == ["U2F_V2", "FIDO_2_0"]
        assert info.options["rk"] is False and "credMgmt" not in info.options and "pinUvAuthToken" not in info.options
        assert info.extensions == ["hmac-secret"] and info.pin_uv_protocols == [1]
        ctap2 = Ctap2(open_device(ctap2_0["udpPort"]))
        with pytest.raises(CtapError) as e:
            make(ctap2, rk=True)
        assert e.value.code == CtapError.ERR.UNSUPPORTED_OPTION
        made = make(ctap2)
        PackedAttestation().verify(made.att_stmt, made.auth_data, cdh())

        u2f = api.add_key(protocol="ctap1/u2f")
        assert u2f["key"] == 3 and u2f["protocolVersion"] == "ctap1/u2f"
        dev = open_device(u2f["udpPort"])
        assert not dev.capabilities & CAPABILITY.CBOR
        with pytest.raises(ValueError):
            Ctap2(dev)
        app, challenge = hashlib.sha256(b"https://example.com").digest(), os.urandom(32)
        registration = Ctap1(dev).register(challenge, app)
        registration.verify(app, challenge)
        signature = Ctap1(dev).authenticate(challenge, app, registration.key_handle)
        signature.verify(app, challenge, registration.public_key)
        assert usbip_busids(usbip_port) == ["1-1", "1-2", "1-3"]

        api.remove_key(3)
        assert usbip_busids(usbip_port) == ["1-1", "1-2"]
        with pytest.raises(Exception):
            Ctap2(open_device(u2f["udpPort"], timeout=1.5))
        with pytest.raises(ControlError) as refused:
            api.remove_key(1)
        assert refused.value.status == 409
        kinds = [(e["type"], e["key"]) for e in api.recent_events() if e["type"] in ("keyAdded", "keyRemoved")]
        assert kinds == [("keyAdded", 2), ("keyAdded", 3), ("keyRemoved", 3)]


def test_the_new_key_fixture_gives_each_test_its_own_key(vfido_new_key):
    key = vfido_new_key(hasUserVerification=True, isUserVerified=False)
    assert key.number >= 2 and key.key()["hasUserVerification"] is True
    with pytest.raises(CtapError) as e:
        make(Ctap2(open_device(key.udp_port)), rk=True, options={"uv": True})
    assert e.value.code == CtapError.ERR.UV_INVALID
    key.set_presence(user_verified=True)
    assert make(Ctap2(open_device(key.udp_port)), rk=True, options={"uv": True}).auth_data.flags & 0x04


def test_cli_keys_add_and_remove(start_daemon):
    import json
    d = start_daemon()
    run = lambda *args: subprocess.run([str(VFIDO), "keys", *args, "--state", str(d.state)], capture_output=True, text=True,
                                       timeout=30)
    added = run("add", "--protocol", "ctap2", "--no-resident-key", "--options", '{"extensions": ["credProtect"]}')
    assert added.returncode == 0, added.stderr
    key = json.loads(added.stdout)
    assert key["protocolVersion"] == "ctap2" and key["hasResidentKey"] is False and key["extensions"] == ["credProtect"]
    assert Ctap2(open_device(key["udpPort"])).get_info().extensions == ["credProtect"]
    assert [k["key"] for k in json.loads(run().stdout)] == [1, key["key"]]
    refused = run("add", "--options", '{"transport": "nfc"}')
    assert refused.returncode == 1 and "transport must be usb" in refused.stderr
    removed = run("remove", "--key", str(key["key"]))
    assert removed.returncode == 0 and f"key {key['key']} removed" in removed.stdout
    assert [k["key"] for k in json.loads(run("list").stdout)] == [1]


def test_a_large_blob_added_through_the_api_is_what_python_fido2_reads_and_the_reverse(vfido_key):
    """WebDriver's credential largeBlob: python-fido2's LargeBlobs (its own DEFLATE and AES-GCM)
    reads the blob the API wrote, and the API reads the one python-fido2 wrote."""
    from fido2.ctap2.blob import LargeBlobs

    credential_id, blob = os.urandom(16), b"a per-credential large blob " * 20
    vfido_key.add_credential(credential_id=credential_id, rp_id=RP_ID, private_key=pkcs8(ec.generate_private_key(ec.SECP256R1())),
                             resident=True, user_handle=b"blob-user", user_name="blob", large_blob=blob)
    ctap2 = device(vfido_key)
    assertion = ctap2.get_assertion(RP_ID, cdh(), extensions={"largeBlobKey": True})
    assert assertion.credential["id"] == credential_id
    assert LargeBlobs(ctap2).get_blob(assertion.large_blob_key) == blob
    assert unb64url(vfido_key.credential(credential_id=credential_id)["largeBlob"]) == blob

    made = make(ctap2, rk=True, extensions={"largeBlobKey": True}, user={"id": b"second", "name": "second"})
    second = bytes(made.auth_data.credential_data.credential_id)
    LargeBlobs(ctap2).put_blob(made.large_blob_key, b"written by python-fido2")
    assert unb64url(vfido_key.credential(credential_id=second)["largeBlob"]) == b"written by python-fido2"
    assert LargeBlobs(ctap2).get_blob(assertion.large_blob_key) == blob  # the first entry is intact

    vfido_key.remove_credential(credential_id=credential_id)  # its entry leaves the array with it
    assert LargeBlobs(ctap2).get_blob(assertion.large_blob_key) is None
    assert LargeBlobs(ctap2).get_blob(made.large_blob_key) == b"written by python-fido2"


def test_the_fido_conformance_tools_automation_touches_and_power_cycles():
    """The FIDO Alliance tools' automation (docs/FIDO2/Automation.md of their resources repo):
    POST /conformance/userpresence answers once the waiting prompt is approved,
    /conformance/powercycle once the key has power-cycled, /conformance/results is logged."""
    from vfido_control import VfidoDaemon

    port = free_tcp_port()
    post = lambda path, body=b"": urllib.request.urlopen(urllib.request.Request(
        f"http://127.0.0.1:{port}/conformance/{path}", data=body, method="POST"), timeout=60)
    with VfidoDaemon.start(VFIDO, "--presence", "control", "--prompt-timeout", "20", "--fido-conformance-tools",
                           "--fido-conformance-tools-address", f"127.0.0.1:{port}") as d:
        result = {}
        worker = threading.Thread(target=lambda: result.update(made=make(Ctap2(open_device(d.udp_port)))))
        worker.start()
        assert post("userpresence").status == 200  # only once the prompt was approved
        worker.join(30)
        assert result["made"].auth_data.flags & 0x01
        assert [e for e in d.control.recent_events() if e["type"] == "promptAnswered"][-1]["answeredBy"] == "control"

        after = d.control.last_sequence()
        assert post("powercycle").status == 200
        assert any(e["type"] == "powerCycled" for e in d.control.recent_events(after))

        summary = b'{"allTestsSelected": true, "passedTestsCount": 140, "failedTestsCount": 1, "failedTests": ["CTAP2 x"]}'
        assert post("results", summary).status == 200
        with pytest.raises(urllib.error.HTTPError) as unknown:
            post("elsewhere")
        assert unknown.value.code == 404
        d.stop()
        assert "FIDO conformance tools finished: 140 passed, 1 failed" in d.log_text()
