"""CTAP2 interop: python-fido2 drives the real daemon over UDP; python-fido2's Fido2Server and
py_webauthn verify every result independently of vfido's own code."""
from __future__ import annotations

import hashlib
import os
import subprocess
import time

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from fido2 import cbor
from fido2.ctap import CtapError
from fido2.ctap2 import Ctap2
from fido2.attestation import AttestationType, PackedAttestation
from fido2.hid import CTAPHID

from webauthn_oracles import (ORIGIN, RP, attestation_root_pem, client, py_webauthn_authenticate,
                              py_webauthn_register, server)

VFIDO_AAGUID = bytes.fromhex("766669646f2d4b6579219a1e5c0fe17a")
ES256, EDDSA, ES384, RS256 = -7, -8, -35, -257


def raw_cbor(device, command: int, params: dict | bytes | None = None) -> bytes:
    """Sends one CTAP2 command and returns status byte + body, unparsed."""
    body = params if isinstance(params, (bytes, bytearray)) else (cbor.encode(params) if params is not None else b"")
    return bytes(device.call(CTAPHID.CBOR, bytes([command]) + body))


def assert_canonical(response: bytes) -> None:
    """The body must be exactly the canonical encoding of what it decodes to."""
    if len(response) > 1:
        assert cbor.encode(cbor.decode(response[1:])) == response[1:]


def register(device, algorithms=None, rk=False, user_id=b"user-1", name="alice", root_pem=None, rp_check=True):
    srv = server(algorithms, root_pem)
    user = {"id": user_id, "name": name, "displayName": name.title()}
    options, state = srv.register_begin(user, resident_key_requirement="required" if rk else "discouraged",
                                        user_verification="discouraged")
    reg = client(device).make_credential(options.public_key)
    auth_data = srv.register_complete(state, reg)
    return srv, reg, auth_data, options.public_key.challenge


# ---------------------------------------------------------------------------------------- getInfo

def test_get_info_fields(daemon):
    device = daemon.device()
    info = Ctap2(device).get_info()
    assert info.versions == ["U2F_V2", "FIDO_2_0", "FIDO_2_1"]
    assert info.aaguid == VFIDO_AAGUID
    assert info.options == {"rk": True, "up": True, "plat": False, "clientPin": False, "pinUvAuthToken": True,
                            "makeCredUvNotRqd": True, "credMgmt": True, "credentialMgmtPreview": True, "alwaysUv": False,
                            "authnrCfg": True, "largeBlobs": True, "setMinPINLength": True, "ep": False, "perCredMgmtRO": True}
    assert info.extensions == ["credBlob", "credProtect", "hmac-secret", "largeBlobKey", "minPinLength", "hmac-secret-mc",
                               "thirdPartyPayment", "pinComplexityPolicy"]
    # CTAP 2.2 members (the encrypted ones wait for a persistent token)
    assert info.attestation_formats == ["packed"] and info.transports_for_reset == ["usb"]  # "none" is implied
    assert info.pin_complexity_policy is False and info.uv_count_since_pin is None
    assert info.max_pin_length == 63 and info.authenticator_config_commands == [1, 2, 3]
    assert info.long_touch_for_reset is False and info.enc_identifier is None and info.enc_cred_store_state is None
    assert info.max_large_blob == 4096 and info.max_cred_blob_length == 32 and info.max_rpids_for_min_pin == 8
    assert info.remaining_disc_creds == 256
    assert info.pin_uv_protocols == [1, 2]  # a set, in canonical order (docs/conformance.md)
    assert info.min_pin_length == 4 and info.force_pin_change is False
    assert info.max_msg_size == 7609
    assert info.max_creds_in_list == 8
    assert info.max_cred_id_length == 128
    assert info.transports == ["usb"]
    assert info.algorithms == [{"alg": a, "type": "public-key"} for a in (ES256, EDDSA, ES384, RS256)]
    assert info.firmware_version == 0x00010000
    raw = raw_cbor(device, 0x04)
    assert raw[0] == 0
    assert_canonical(raw)
    assert device.capabilities & 0x04  # CBOR
    assert not device.capabilities & 0x08  # no NMSG: CTAPHID_MSG (U2F) is implemented
    assert device.version == 2


def test_ctaphid_ping_and_wink(daemon):
    device = daemon.device()
    for size in (0, 1, 57, 58, 1000, 7609):
        data = os.urandom(size)
        assert device.ping(data) == data
    device.wink()


def test_one_log_line_per_ctap_command(daemon):
    device = daemon.device()
    Ctap2(device).get_info()
    raw_cbor(device, 0x40)
    raw_cbor(device, 0x20)
    time.sleep(0.2)
    log = daemon.log_text()
    assert "CTAP getInfo -> 0x00" in log
    assert "CTAP bioEnrollmentPreview -> 0x01" in log
    assert "CTAP command 0x20 -> 0x01" in log


# ----------------------------------------------------------------------------- makeCredential

@pytest.mark.parametrize("mode", ["packed", "self", "none"])
@pytest.mark.parametrize("alg", [ES256, EDDSA, ES384, RS256])
@pytest.mark.parametrize("rk", [True, False])
def test_make_credential_verified_by_both_oracles(start_daemon, vfido_bin, mode, alg, rk):
    d = start_daemon("--attestation", mode)
    root = attestation_root_pem(vfido_bin, d.state)
    device = d.device()
    srv, reg, auth_data, challenge = register(device, algorithms=[alg], rk=rk, root_pem=root if mode == "packed" else None)
    att = reg.response.attestation_object
    assert att.fmt == ("none" if mode == "none" else "packed")
    assert auth_data.credential_data.aaguid == VFIDO_AAGUID
    assert auth_data.credential_data.public_key[3] == alg
    assert auth_data.flags & 0x01 and auth_data.flags & 0x40
    if mode == "packed":
        assert "x5c" in att.att_stmt
    if mode == "self":
        assert "x5c" not in att.att_stmt and att.att_stmt["alg"] == alg
    if mode != "none":  # python-fido2's own packed verifier, independent of Fido2Server's trust check
        result = PackedAttestation().verify(att.att_stmt, att.auth_data, reg.response.client_data.hash)
        assert result.attestation_type == (AttestationType.BASIC if mode == "packed" else AttestationType.SELF)

    # and the credential then authenticates, checked by Fido2Server
    creds = [auth_data.credential_data]
    options, state = srv.authenticate_begin(creds, user_verification="discouraged")
    selection = client(device).get_assertion(options.public_key)
    response = selection.get_response(0)
    srv.authenticate_complete(state, creds, response)

    if alg == ES384:
        # py_webauthn 3.0.1 knows no ES384 (-35): the second check is `cryptography` directly.
        public_key = auth_data.credential_data.public_key
        nums = ec.EllipticCurvePublicNumbers(int.from_bytes(public_key[-2], "big"), int.from_bytes(public_key[-3], "big"),
                                             ec.SECP384R1())
        signed = bytes(response.response.authenticator_data) + response.response.client_data.hash
        nums.public_key().verify(response.response.signature, signed, ec.ECDSA(hashes.SHA384()))
        return
    verified = py_webauthn_register(reg, challenge, root if mode == "packed" else None)
    assert verified.credential_id == auth_data.credential_data.credential_id
    assert verified.aaguid == VFIDO_AAGUID.hex() or verified.aaguid.replace("-", "") == VFIDO_AAGUID.hex()
    assert getattr(verified.fmt, "value", verified.fmt) == att.fmt
    checked = py_webauthn_authenticate(response, options.public_key.challenge, verified.credential_public_key,
                                       verified.sign_count)
    assert checked.new_sign_count > verified.sign_count


def test_packed_x5c_is_rejected_against_another_root(start_daemon, vfido_bin):
    a = start_daemon()
    b = start_daemon()
    other_root = attestation_root_pem(vfido_bin, b.state)
    srv, reg, _, challenge = register(a.device())
    with pytest.raises(Exception):
        py_webauthn_register(reg, challenge, other_root)


def test_exclude_list_gives_credential_excluded(daemon):
    device = daemon.device()
    _, _, auth_data, _ = register(device, rk=True)
    ctap2 = Ctap2(device)
    with pytest.raises(CtapError) as e:
        ctap2.make_credential(
            hashlib.sha256(b"cd").digest(), RP, {"id": b"user-2", "name": "bob"}, [{"type": "public-key", "alg": ES256}],
            exclude_list=[{"type": "public-key", "id": b"\x01" * 65},
                          {"type": "public-key", "id": auth_data.credential_data.credential_id}])
    assert e.value.code == CtapError.ERR.CREDENTIAL_EXCLUDED


def test_denied_presence_is_operation_denied(start_daemon):
    d = start_daemon("--presence", "deny")
    with pytest.raises(CtapError) as e:
        Ctap2(d.device()).make_credential(hashlib.sha256(b"cd").digest(), RP, {"id": b"u", "name": "u"},
                                          [{"type": "public-key", "alg": ES256}])
    assert e.value.code == CtapError.ERR.OPERATION_DENIED


# ------------------------------------------------------------------------------- getAssertion

def test_discoverable_assertion_with_several_accounts(daemon):
    device = daemon.device()
    registered = {}
    for i, name in enumerate(["alice", "bob", "carol"]):
        srv, _, auth_data, _ = register(device, rk=True, user_id=f"user-{i}".encode(), name=name)
        registered[f"user-{i}".encode()] = auth_data.credential_data
    # one on another RP must not show up
    ctap2 = Ctap2(device)
    ctap2.make_credential(hashlib.sha256(b"x").digest(), {"id": "other.example"}, {"id": b"other", "name": "o"},
                          [{"type": "public-key", "alg": ES256}], options={"rk": True})

    # Fido2Client walks getAssertion + getNextAssertion; the server verifies each account
    options, state = srv.authenticate_begin(None, user_verification="discouraged")
    selection = client(device).get_assertion(options.public_key)
    assertions = selection.get_assertions()
    assert [a.user["id"] for a in assertions] == [b"user-2", b"user-1", b"user-0"]  # most recent first
    for i in range(3):
        srv.authenticate_complete(state, list(registered.values()), selection.get_response(i))

    # the same at the CTAP level
    first = ctap2.get_assertion("example.com", hashlib.sha256(b"cd").digest())
    assert first.number_of_credentials == 3
    assert first.user == {"id": b"user-2"}  # no name or displayName without user verification
    second = ctap2.get_next_assertion()
    third = ctap2.get_next_assertion()
    assert [second.user["id"], third.user["id"]] == [b"user-1", b"user-0"]
    with pytest.raises(CtapError) as e:
        ctap2.get_next_assertion()
    assert e.value.code == CtapError.ERR.NOT_ALLOWED


def test_silent_probe_sets_no_user_presence(daemon):
    device = daemon.device()
    _, _, auth_data, _ = register(device)
    response = Ctap2(device).get_assertion(
        "example.com", hashlib.sha256(b"cd").digest(),
        allow_list=[{"type": "public-key", "id": auth_data.credential_data.credential_id}], options={"up": False})
    assert response.auth_data.flags & 0x01 == 0


@pytest.mark.parametrize("position", [0, 1, 20, -1])
def test_tampered_credential_id_is_no_credentials(daemon, position):
    device = daemon.device()
    _, _, auth_data, _ = register(device)
    cid = bytearray(auth_data.credential_data.credential_id)
    cid[position] ^= 0x80
    ctap2 = Ctap2(device)
    with pytest.raises(CtapError) as e:
        ctap2.get_assertion("example.com", hashlib.sha256(b"cd").digest(), allow_list=[{"type": "public-key", "id": bytes(cid)}])
    assert e.value.code == CtapError.ERR.NO_CREDENTIALS
    with pytest.raises(CtapError) as e:
        ctap2.get_assertion("evil.example", hashlib.sha256(b"cd").digest(),
                            allow_list=[{"type": "public-key", "id": auth_data.credential_data.credential_id}])
    assert e.value.code == CtapError.ERR.NO_CREDENTIALS


# ------------------------------------------------------------------------ state and lifecycle

def test_restarted_daemon_still_asserts_old_credentials(daemon):
    srv, _, resident, _ = register(daemon.device(), rk=True, user_id=b"kept")
    _, _, plain, _ = register(daemon.device(), rk=False, user_id=b"plain")
    daemon.restart()
    device = daemon.device()
    creds = [resident.credential_data, plain.credential_data]
    for allow in (creds, None):
        options, state = srv.authenticate_begin(allow, user_verification="discouraged")
        response = client(device).get_assertion(options.public_key).get_response(0)
        srv.authenticate_complete(state, creds, response)
    options, state = srv.authenticate_begin(None, user_verification="discouraged")
    assert client(device).get_assertion(options.public_key).get_response(0).response.user_handle == b"kept"


def test_reset_wipes_everything(daemon, vfido_bin):
    _, _, resident, _ = register(daemon.device(), rk=True)
    _, _, plain, _ = register(daemon.device(), rk=False, user_id=b"u2")
    root_before = attestation_root_pem(vfido_bin, daemon.state)
    daemon.restart()  # a fresh power-up: reset is allowed for 10 s
    device = daemon.device()
    ctap2 = Ctap2(device)
    ctap2.reset()
    for allow in ([{"type": "public-key", "id": plain.credential_data.credential_id}],
                  [{"type": "public-key", "id": resident.credential_data.credential_id}], None):
        with pytest.raises(CtapError) as e:
            ctap2.get_assertion("example.com", hashlib.sha256(b"cd").digest(), allow_list=allow)
        assert e.value.code == CtapError.ERR.NO_CREDENTIALS
    daemon.stop()
    listing = subprocess.run([str(vfido_bin), "creds", "list", "--state", str(daemon.state)], check=True,
                             capture_output=True, text=True).stdout
    assert "no resident credentials" in listing
    assert attestation_root_pem(vfido_bin, daemon.state) == root_before  # attestation identity survives


def test_reset_after_the_window_is_not_allowed(start_daemon):
    d = start_daemon("--reset-window", "1")
    time.sleep(1.2)
    with pytest.raises(CtapError) as e:
        Ctap2(d.device()).reset()
    assert e.value.code == CtapError.ERR.NOT_ALLOWED


def test_state_files_are_private(daemon):
    register(daemon.device(), rk=True)
    assert oct(daemon.state.stat().st_mode & 0o777) == "0o700"
    for f in daemon.state.iterdir():
        assert oct(f.stat().st_mode & 0o777) == "0o600", f


# ------------------------------------------------------------------------------ bad input

def valid_make_credential() -> dict:
    return {1: hashlib.sha256(b"cd").digest(), 2: {"id": "example.com"}, 3: {"id": b"u", "name": "u"},
            4: [{"alg": -7, "type": "public-key"}]}


MALFORMED = {
    "truncated": lambda v: cbor.encode(v)[:-1],
    "trailing bytes": lambda v: cbor.encode(v) + b"\x00",
    "non-minimal int": lambda v: b"\xa1\x18\x01\x01",
    "duplicate keys": lambda v: b"\xa2\x01\x01\x01\x02",
    "unsorted keys": lambda v: b"\xa2\x02\x01\x01\x01",
    "indefinite map": lambda v: b"\xbf\x01\x01\xff",
    "nesting too deep": lambda v: b"\xa1\x01" + b"\x81" * 12 + b"\x01",
    "invalid utf-8": lambda v: b"\xa1\x01\x62\xc3\x28",
    "float": lambda v: b"\xa1\x01\xf9\x3c\x00",
    "tag": lambda v: b"\xa1\x01\xc1\x01",
}


@pytest.mark.parametrize("kind", list(MALFORMED))
@pytest.mark.parametrize("command", [0x01, 0x02])
def test_malformed_cbor_is_invalid_cbor_and_device_keeps_answering(daemon, kind, command):
    device = daemon.device()
    response = raw_cbor(device, command, MALFORMED[kind](valid_make_credential()))
    assert response == bytes([CtapError.ERR.INVALID_CBOR])
    ok = raw_cbor(device, 0x01, valid_make_credential())
    assert ok[0] == 0
    assert_canonical(ok)


WRONG_TYPES = [
    (lambda v: v.update({1: "text"}), CtapError.ERR.CBOR_UNEXPECTED_TYPE),
    (lambda v: v.update({2: ["example.com"]}), CtapError.ERR.CBOR_UNEXPECTED_TYPE),
    (lambda v: v.update({3: {"id": "not-bytes"}}), CtapError.ERR.CBOR_UNEXPECTED_TYPE),
    (lambda v: v.update({4: {"alg": -7}}), CtapError.ERR.CBOR_UNEXPECTED_TYPE),
    (lambda v: v.update({7: {"rk": "yes"}}), CtapError.ERR.CBOR_UNEXPECTED_TYPE),
    (lambda v: v.pop(1), CtapError.ERR.MISSING_PARAMETER),
    (lambda v: v.pop(4), CtapError.ERR.MISSING_PARAMETER),
    (lambda v: v.update({2: {"name": "x"}}), CtapError.ERR.MISSING_PARAMETER),
    (lambda v: v.update({4: [{"alg": -36, "type": "public-key"}]}), CtapError.ERR.UNSUPPORTED_ALGORITHM),
    (lambda v: v.update({7: {"up": False}}), CtapError.ERR.INVALID_OPTION),
]


@pytest.mark.parametrize("index", range(len(WRONG_TYPES)))
def test_wrong_types_and_missing_members_get_their_status(daemon, index):
    device = daemon.device()
    request = valid_make_credential()
    WRONG_TYPES[index][0](request)
    assert raw_cbor(device, 0x01, request) == bytes([WRONG_TYPES[index][1]])
    assert raw_cbor(device, 0x04)[0] == 0


def test_unknown_commands_are_invalid_command(daemon):
    device = daemon.device()
    for command in (0x40, 0x03, 0x20, 0xFF, 0x09):
        assert raw_cbor(device, command) == bytes([CtapError.ERR.INVALID_COMMAND])
    assert raw_cbor(device, 0x04)[0] == 0


def test_every_response_is_canonical(daemon):
    device = daemon.device()
    ctap2 = Ctap2(device)
    for i in range(2):
        ctap2.make_credential(hashlib.sha256(b"cd").digest(), RP, {"id": bytes([i]), "name": f"u{i}", "displayName": "U"},
                              [{"type": "public-key", "alg": EDDSA}], options={"rk": True})
    for command, params in [(0x04, None), (0x01, valid_make_credential()),
                            (0x02, {1: "example.com", 2: hashlib.sha256(b"cd").digest()}), (0x08, None)]:
        response = raw_cbor(device, command, params)
        assert response[0] == 0, (command, response)
        assert_canonical(response)
