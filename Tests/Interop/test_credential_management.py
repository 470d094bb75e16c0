"""Credential management and credProtect, through python-fido2's CredentialManagement."""
from __future__ import annotations

import hashlib

import pytest
from fido2.ctap import CtapError
from fido2.ctap2 import Ctap2
from fido2.ctap2.credman import CredentialManagement
from fido2.ctap2.pin import ClientPin, PinProtocolV2

PIN = "4321"
CDH = hashlib.sha256(b"cd").digest()
ES256 = [{"type": "public-key", "alg": -7}]


def make(ctap2, rp, user_id, name, protect=None, token=None):
    proto = PinProtocolV2()
    kwargs = {}
    if token:
        kwargs = {"pin_uv_param": proto.authenticate(token, CDH), "pin_uv_protocol": 2}
    ext = {"credProtect": protect} if protect else None
    return ctap2.make_credential(CDH, {"id": rp, "name": rp.upper()}, {"id": user_id, "name": name, "displayName": name.title()},
                                 ES256, options={"rk": True}, extensions=ext, **kwargs)


def test_full_credential_management_cycle(daemon):
    device = daemon.device()
    ctap2 = Ctap2(device)
    cp = ClientPin(ctap2, PinProtocolV2())
    cp.set_pin(PIN)
    mc = cp.get_pin_token(PIN, ClientPin.PERMISSION.MAKE_CREDENTIAL, "a.example")
    a1 = make(ctap2, "a.example", b"a1", "alice", token=mc)
    a2 = make(ctap2, "a.example", b"a2", "anna", token=mc)
    b1 = make(ctap2, "b.example", b"b1", "bob", token=cp.get_pin_token(PIN, ClientPin.PERMISSION.MAKE_CREDENTIAL, "b.example"))

    token = cp.get_pin_token(PIN, ClientPin.PERMISSION.CREDENTIAL_MGMT)
    cm = CredentialManagement(ctap2, PinProtocolV2(), token)
    meta = cm.get_metadata()
    assert meta[CredentialManagement.RESULT.EXISTING_CRED_COUNT] == 3
    assert meta[CredentialManagement.RESULT.MAX_REMAINING_COUNT] == 253

    rps = cm.enumerate_rps()
    assert sorted(r[CredentialManagement.RESULT.RP]["id"] for r in rps) == ["a.example", "b.example"]
    for r in rps:
        assert r[CredentialManagement.RESULT.RP_ID_HASH] == hashlib.sha256(r[CredentialManagement.RESULT.RP]["id"].encode()).digest()

    creds = cm.enumerate_creds(hashlib.sha256(b"a.example").digest())
    assert [c[CredentialManagement.RESULT.USER]["name"] for c in creds] == ["anna", "alice"]
    by_id = {c[CredentialManagement.RESULT.CREDENTIAL_ID]["id"]: c for c in creds}
    assert set(by_id) == {a1.auth_data.credential_data.credential_id, a2.auth_data.credential_data.credential_id}
    for made in (a1, a2):
        entry = by_id[made.auth_data.credential_data.credential_id]
        assert entry[CredentialManagement.RESULT.PUBLIC_KEY] == made.auth_data.credential_data.public_key
        assert entry[CredentialManagement.RESULT.CRED_PROTECT] == 1

    a1_descriptor = {"type": "public-key", "id": a1.auth_data.credential_data.credential_id}
    cm.update_user_info(a1_descriptor, {"id": b"a1", "name": "alice.new", "displayName": "Alice New"})
    names = {c[CredentialManagement.RESULT.USER]["name"] for c in cm.enumerate_creds(hashlib.sha256(b"a.example").digest())}
    assert names == {"alice.new", "anna"}
    with pytest.raises(CtapError) as e:
        cm.update_user_info(a1_descriptor, {"id": b"someone-else", "name": "x"})
    assert e.value.code == CtapError.ERR.INVALID_PARAMETER

    cm.delete_cred(a1_descriptor)
    assert cm.get_metadata()[CredentialManagement.RESULT.EXISTING_CRED_COUNT] == 2
    with pytest.raises(CtapError) as e:
        ctap2.get_assertion("a.example", CDH, allow_list=[a1_descriptor])
    assert e.value.code == CtapError.ERR.NO_CREDENTIALS
    with pytest.raises(CtapError) as e:
        cm.delete_cred(a1_descriptor)
    assert e.value.code == CtapError.ERR.NO_CREDENTIALS
    cm.delete_cred({"type": "public-key", "id": b1.auth_data.credential_data.credential_id})
    assert [r[CredentialManagement.RESULT.RP]["id"] for r in cm.enumerate_rps()] == ["a.example"]


def test_credential_management_needs_a_cm_token(daemon):
    ctap2 = Ctap2(daemon.device())
    cp = ClientPin(ctap2, PinProtocolV2())
    cp.set_pin(PIN)
    with pytest.raises(CtapError) as e:
        ctap2.send_cbor(0x0A, {1: 1})
    assert e.value.code == CtapError.ERR.PUAT_REQUIRED
    ga_token = cp.get_pin_token(PIN, ClientPin.PERMISSION.GET_ASSERTION, "a.example")
    with pytest.raises(CtapError) as e:
        CredentialManagement(ctap2, PinProtocolV2(), ga_token).get_metadata()
    assert e.value.code == CtapError.ERR.PIN_AUTH_INVALID
    with pytest.raises(CtapError) as e:
        ctap2.send_cbor(0x0A, {1: 3})  # getNextRP without a begin
    assert e.value.code == CtapError.ERR.NOT_ALLOWED
    # The 2.1-PRE command number answers the same way.
    token = cp.get_pin_token(PIN, ClientPin.PERMISSION.CREDENTIAL_MGMT)
    proto = PinProtocolV2()
    result = ctap2.send_cbor(0x41, {1: 1, 3: 2, 4: proto.authenticate(token, b"\x01")})
    assert result[1] == 0


def test_cred_protect_levels(daemon):
    device = daemon.device()
    ctap2 = Ctap2(device)
    c1 = make(ctap2, "p.example", b"u1", "one")
    c2 = make(ctap2, "p.example", b"u2", "two", protect=2)
    c3 = make(ctap2, "p.example", b"u3", "three", protect=3)
    assert c3.auth_data.extensions == {"credProtect": 3}
    assert c1.auth_data.extensions is None

    # Without user verification: only level 1 is discoverable, level 2 works by ID, level 3 not at all.
    found = ctap2.get_assertion("p.example", CDH)
    assert found.user["id"] == b"u1" and found.number_of_credentials is None
    ctap2.get_assertion("p.example", CDH, allow_list=[{"type": "public-key", "id": c2.auth_data.credential_data.credential_id}])
    with pytest.raises(CtapError) as e:
        ctap2.get_assertion("p.example", CDH, allow_list=[{"type": "public-key", "id": c3.auth_data.credential_data.credential_id}])
    assert e.value.code == CtapError.ERR.NO_CREDENTIALS
    # ...nor does a level 3 credential exclude without UV.
    ctap2.make_credential(CDH, {"id": "p.example"}, {"id": b"u9", "name": "x"}, ES256,
                          exclude_list=[{"type": "public-key", "id": c3.auth_data.credential_data.credential_id}])

    # With user verification, all three.
    cp = ClientPin(ctap2, PinProtocolV2())
    cp.set_pin(PIN)
    token = cp.get_pin_token(PIN, ClientPin.PERMISSION.GET_ASSERTION, "p.example")
    got = ctap2.get_assertion("p.example", CDH, pin_uv_param=PinProtocolV2().authenticate(token, CDH), pin_uv_protocol=2)
    assert got.number_of_credentials == 3
    cm = CredentialManagement(ctap2, PinProtocolV2(), cp.get_pin_token(PIN, ClientPin.PERMISSION.CREDENTIAL_MGMT))
    levels = {c[CredentialManagement.RESULT.USER]["id"]: c[CredentialManagement.RESULT.CRED_PROTECT]
              for c in cm.enumerate_creds(hashlib.sha256(b"p.example").digest())}
    assert levels == {b"u1": 1, b"u2": 2, b"u3": 3}


def test_cred_protect_on_a_non_resident_credential_travels_in_its_id(daemon):
    ctap2 = Ctap2(daemon.device())
    made = ctap2.make_credential(CDH, {"id": "q.example"}, {"id": b"u", "name": "u"}, ES256, extensions={"credProtect": 3})
    with pytest.raises(CtapError) as e:
        ctap2.get_assertion("q.example", CDH, allow_list=[{"type": "public-key", "id": made.auth_data.credential_data.credential_id}])
    assert e.value.code == CtapError.ERR.NO_CREDENTIALS
