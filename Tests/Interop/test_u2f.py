"""CTAP1/U2F over CTAPHID_MSG, driven by python-fido2's Ctap1; the registration is checked as a
fido-u2f attestation by python-fido2 and py_webauthn, and U2F key handles work from CTAP2."""
from __future__ import annotations

import base64
import hashlib
import json

import pytest
import webauthn
from fido2 import cbor
from fido2.attestation import FidoU2FAttestation
from fido2.cose import ES256
from fido2.ctap import CtapError
from fido2.ctap1 import ApduError, Ctap1
from fido2.ctap2 import Ctap2
from fido2.ctap2.config import Config
from fido2.webauthn import AttestedCredentialData, AuthenticatorData

from ctap_helpers import RP_ID
from webauthn_oracles import ORIGIN, b64url

APP = hashlib.sha256(RP_ID.encode()).digest()


def client_data(challenge: bytes, kind: str = "webauthn.create") -> bytes:
    return json.dumps({"type": kind, "challenge": b64url(challenge), "origin": ORIGIN, "crossOrigin": False},
                      separators=(",", ":")).encode()


def test_version_register_authenticate(daemon):
    ctap1 = Ctap1(daemon.device())
    assert ctap1.get_version() == "U2F_V2"
    challenge = b"c" * 32
    cd = client_data(challenge)
    reg = ctap1.register(hashlib.sha256(cd).digest(), APP)
    reg.verify(APP, hashlib.sha256(cd).digest())  # python-fido2 checks the fido-u2f signature

    # check-only: "yes, mine" is 0x6985; a foreign key handle is 0x6A80
    with pytest.raises(ApduError) as e:
        ctap1.authenticate(b"x" * 32, APP, reg.key_handle, check_only=True)
    assert e.value.code == 0x6985
    with pytest.raises(ApduError) as e:
        ctap1.authenticate(b"x" * 32, hashlib.sha256(b"other.example").digest(), reg.key_handle)
    assert e.value.code == 0x6A80
    tampered = bytearray(reg.key_handle)
    tampered[20] ^= 1
    with pytest.raises(ApduError) as e:
        ctap1.authenticate(b"x" * 32, APP, bytes(tampered))
    assert e.value.code == 0x6A80

    first = ctap1.authenticate(b"1" * 32, APP, reg.key_handle)
    first.verify(APP, b"1" * 32, reg.public_key)
    assert first.user_presence & 1
    second = ctap1.authenticate(b"2" * 32, APP, reg.key_handle)
    second.verify(APP, b"2" * 32, reg.public_key)
    assert second.counter > first.counter

    # don't-enforce-user-presence (0x08): signed without the UP bit
    data = b"3" * 32 + APP + bytes([len(reg.key_handle)]) + reg.key_handle
    response = ctap1.send_apdu(ins=Ctap1.INS.AUTHENTICATE, p1=0x08, data=data)
    assert response[0] == 0x00

    # the registration as a browser hands it to an RP: fido-u2f, verified by both libraries
    auth_data = AuthenticatorData.create(
        APP, AuthenticatorData.FLAG.UP | AuthenticatorData.FLAG.AT, 0,
        AttestedCredentialData.create(bytes(16), reg.key_handle, ES256.from_ctap1(reg.public_key)))
    statement = {"x5c": [reg.certificate], "sig": reg.signature}
    FidoU2FAttestation().verify(statement, auth_data, hashlib.sha256(cd).digest())
    attestation_object = cbor.encode({"fmt": "fido-u2f", "attStmt": statement, "authData": bytes(auth_data)})
    verified = webauthn.verify_registration_response(
        credential={"id": b64url(reg.key_handle), "rawId": b64url(reg.key_handle), "type": "public-key",
                    "response": {"clientDataJSON": b64url(cd), "attestationObject": b64url(attestation_object)}},
        expected_challenge=challenge, expected_rp_id=RP_ID, expected_origin=ORIGIN)
    assert getattr(verified.fmt, "value", verified.fmt) == "fido-u2f"

    # the U2F key handle also works from CTAP2 getAssertion, for the same application
    ctap2 = Ctap2(daemon.device())
    cdh = hashlib.sha256(b"ctap2").digest()
    assertion = ctap2.get_assertion(RP_ID, cdh, [{"type": "public-key", "id": reg.key_handle}])
    ES256.from_ctap1(reg.public_key).verify(bytes(assertion.auth_data) + cdh, assertion.signature)


def test_bad_apdus_get_status_words(daemon):
    ctap1 = Ctap1(daemon.device())
    for ins, p1, data, word in [(0x55, 0, b"", 0x6D00), (0x01, 0, b"short", 0x6700), (0x02, 0x03, b"x" * 10, 0x6700),
                                (0x03, 0, b"data", 0x6700), (0x02, 0x44, b"x" * 64 + b"\x01\x00", 0x6A80)]:
        with pytest.raises(ApduError) as e:
            ctap1.send_apdu(ins=ins, p1=p1, data=data)
        assert e.value.code == word, (ins, data)
    with pytest.raises(ApduError) as e:
        ctap1.send_apdu(cla=0x80, ins=0x03)
    assert e.value.code == 0x6E00
    assert ctap1.get_version() == "U2F_V2"


def test_denied_presence_is_conditions_not_satisfied(start_daemon):
    ctap1 = Ctap1(start_daemon("--presence", "deny").device())
    with pytest.raises(ApduError) as e:
        ctap1.register(b"c" * 32, APP)
    assert e.value.code == 0x6985


def test_always_uv_switches_u2f_off(daemon):
    device = daemon.device()
    Config(Ctap2(device)).toggle_always_uv()
    info = Ctap2(device).get_info()
    assert "U2F_V2" not in info.versions
    with pytest.raises(ApduError) as e:
        Ctap1(device).get_version()
    assert e.value.code == 0x6D00
