"""Walks getInfo and exercises every option, extension, algorithm, PIN/UV protocol and version
it claims, each through python-fido2. A claim with no exercise here fails the test: getInfo
may only claim what works."""
from __future__ import annotations

import os

import pytest
from fido2.cose import CoseKey
from fido2.ctap import CtapError
from fido2.ctap1 import Ctap1
from fido2.ctap2 import Ctap2
from fido2.ctap2.blob import LargeBlobs
from fido2.ctap2.config import Config
from fido2.ctap2.credman import CredentialManagement
from fido2.ctap2.pin import ClientPin, PinProtocolV1, PinProtocolV2

from ctap_helpers import PIN, RP_ID, assert_one, cdh, make, token, user
from test_extensions import hmac_get, hmac_input


def fresh(start_daemon, *args):
    d = start_daemon(*args)
    return d, Ctap2(d.device())


# --------------------------------------------------------------------------------- options

def option_rk(start_daemon, value):
    _, ctap2 = fresh(start_daemon)
    made = make(ctap2, rk=True)
    assert assert_one(ctap2).credential["id"] == made.auth_data.credential_data.credential_id


def option_up(start_daemon, value):
    _, ctap2 = fresh(start_daemon)
    cred = make(ctap2).auth_data.credential_data.credential_id
    assert assert_one(ctap2, cred).auth_data.flags & 0x01
    assert not assert_one(ctap2, cred, options={"up": False}).auth_data.flags & 0x01


def option_plat(start_daemon, value):
    assert value is False  # a roaming key: it is not part of the platform
    _, ctap2 = fresh(start_daemon)
    assert ctap2.get_info().transports == ["usb"]


def option_client_pin(start_daemon, value):
    assert value is False  # no PIN yet; setting one flips it
    _, ctap2 = fresh(start_daemon)
    ClientPin(ctap2, PinProtocolV2()).set_pin(PIN)
    assert ctap2.get_info().options["clientPin"] is True


def option_pin_uv_auth_token(start_daemon, value):
    _, ctap2 = fresh(start_daemon)
    ClientPin(ctap2, PinProtocolV2()).set_pin(PIN)
    t, proto = token(ctap2, permissions=ClientPin.PERMISSION.MAKE_CREDENTIAL, rp_id=RP_ID)
    assert make(ctap2, token=t, proto=proto).auth_data.flags & 0x04
    with pytest.raises(CtapError) as e:  # the token is bound to its permissions
        assert_one(ctap2, token=t, proto=proto)
    assert e.value.code == CtapError.ERR.PIN_AUTH_INVALID


def option_make_cred_uv_not_rqd(start_daemon, value):
    assert value is True
    _, ctap2 = fresh(start_daemon)
    ClientPin(ctap2, PinProtocolV2()).set_pin(PIN)
    assert not make(ctap2).auth_data.flags & 0x04  # non-discoverable without UV, PIN set
    with pytest.raises(CtapError) as e:
        make(ctap2, rk=True)
    assert e.value.code == CtapError.ERR.PUAT_REQUIRED


def credential_management(start_daemon, value, preview):
    _, ctap2 = fresh(start_daemon)
    ClientPin(ctap2, PinProtocolV2()).set_pin(PIN)
    t, proto = token(ctap2, permissions=ClientPin.PERMISSION.MAKE_CREDENTIAL)
    make(ctap2, rk=True, token=t, proto=proto)
    t, proto = token(ctap2, permissions=ClientPin.PERMISSION.CREDENTIAL_MGMT)
    if preview:  # the 2.1-PRE command byte 0x41 answers getCredsMetadata the same way
        metadata = ctap2.send_cbor(0x41, {1: 0x01, 3: proto.VERSION, 4: proto.authenticate(t, b"\x01")})
        assert metadata[1] == 1
        return
    cm = CredentialManagement(ctap2, proto, t)
    assert cm.get_metadata()[1] == 1
    assert cm.enumerate_rps()[0][3]["id"] == RP_ID


def option_cred_mgmt(start_daemon, value):
    credential_management(start_daemon, value, preview=False)


def option_cred_mgmt_preview(start_daemon, value):
    credential_management(start_daemon, value, preview=True)


def option_per_cred_mgmt_ro(start_daemon, value):
    """CTAP 2.2's persistent token: read-only credential management, through a daemon restart."""
    d, ctap2 = fresh(start_daemon)
    ClientPin(ctap2, PinProtocolV2()).set_pin(PIN)
    t, proto = token(ctap2, permissions=ClientPin.PERMISSION.MAKE_CREDENTIAL)
    made = make(ctap2, rk=True, token=t, proto=proto)
    persistent, proto = token(ctap2, permissions=ClientPin.PERMISSION.PERSISTENT_CREDENTIAL_MGMT)
    d.restart()
    cm = CredentialManagement(Ctap2(d.device()), proto, persistent)
    assert cm.get_metadata()[1] == 1
    assert cm.enumerate_rps()[0][3]["id"] == RP_ID
    with pytest.raises(CtapError) as e:
        cm.delete_cred({"type": "public-key", "id": made.auth_data.credential_data.credential_id})
    assert e.value.code == CtapError.ERR.PIN_AUTH_INVALID


def option_authnr_cfg(start_daemon, value):
    _, ctap2 = fresh(start_daemon)
    Config(ctap2).set_min_pin_length(min_pin_length=5)
    assert ctap2.get_info().min_pin_length == 5


def option_always_uv(start_daemon, value):
    assert value is False
    _, ctap2 = fresh(start_daemon)
    Config(ctap2).toggle_always_uv()
    assert ctap2.get_info().options["alwaysUv"] is True


def option_set_min_pin_length(start_daemon, value):
    _, ctap2 = fresh(start_daemon)
    Config(ctap2).set_min_pin_length(min_pin_length=6)
    with pytest.raises(CtapError) as e:
        ClientPin(ctap2, PinProtocolV2()).set_pin("12345")
    assert e.value.code == CtapError.ERR.PIN_POLICY_VIOLATION


def option_large_blobs(start_daemon, value):
    _, ctap2 = fresh(start_daemon)
    key = make(ctap2, rk=True, extensions={"largeBlobKey": True}).large_blob_key
    LargeBlobs(ctap2).put_blob(key, b"walked")
    assert LargeBlobs(ctap2).get_blob(key) == b"walked"


def option_ep(start_daemon, value):
    assert value is False
    _, ctap2 = fresh(start_daemon)
    Config(ctap2).enable_enterprise_attestation()
    assert make(ctap2, enterprise_attestation=2).ep_att is True


def option_uv(start_daemon, value):
    assert value is True
    _, ctap2 = fresh(start_daemon, "--builtin-uv")
    assert make(ctap2, rk=True, options={"uv": True}).auth_data.flags & 0x04
    t = ClientPin(ctap2, PinProtocolV2()).get_uv_token(ClientPin.PERMISSION.GET_ASSERTION, RP_ID)
    assert len(t) == 32


OPTIONS = {
    "rk": option_rk, "up": option_up, "plat": option_plat, "clientPin": option_client_pin,
    "pinUvAuthToken": option_pin_uv_auth_token, "makeCredUvNotRqd": option_make_cred_uv_not_rqd,
    "credMgmt": option_cred_mgmt, "credentialMgmtPreview": option_cred_mgmt_preview, "authnrCfg": option_authnr_cfg,
    "alwaysUv": option_always_uv, "setMinPINLength": option_set_min_pin_length, "largeBlobs": option_large_blobs,
    "ep": option_ep, "uv": option_uv, "perCredMgmtRO": option_per_cred_mgmt_ro,
}


# ------------------------------------------------------------------------------ extensions

def ext_cred_protect(ctap2):
    cred = make(ctap2, rk=True, extensions={"credProtect": 3}).auth_data.credential_data.credential_id
    with pytest.raises(CtapError) as e:
        assert_one(ctap2, cred)
    assert e.value.code == CtapError.ERR.NO_CREDENTIALS


def ext_cred_blob(ctap2):
    cred = make(ctap2, extensions={"credBlob": b"blob"}).auth_data.credential_data.credential_id
    assert assert_one(ctap2, cred, extensions={"credBlob": True}).auth_data.extensions == {"credBlob": b"blob"}


def ext_hmac_secret(ctap2):
    cred = make(ctap2, extensions={"hmac-secret": True}).auth_data.credential_data.credential_id
    salt = os.urandom(32)
    assert hmac_get(ctap2, PinProtocolV2(), cred, [salt])[0] == hmac_get(ctap2, PinProtocolV1(), cred, [salt])[0]


def ext_hmac_secret_mc(ctap2):
    proto = PinProtocolV2()
    ext, shared = hmac_input(ctap2, proto, [bytes(32)])
    made = make(ctap2, extensions={"hmac-secret": True, "hmac-secret-mc": ext})
    assert len(proto.decrypt(shared, made.auth_data.extensions["hmac-secret-mc"])) == 32


def ext_large_blob_key(ctap2):
    key = make(ctap2, rk=True, extensions={"largeBlobKey": True}).large_blob_key
    assert assert_one(ctap2, extensions={"largeBlobKey": True}).large_blob_key == key


def ext_min_pin_length(ctap2):
    Config(ctap2).set_min_pin_length(rp_ids=[RP_ID])
    assert make(ctap2, extensions={"minPinLength": True}).auth_data.extensions == {"minPinLength": 4}


def ext_third_party_payment(ctap2):
    made = make(ctap2, rk=True, extensions={"thirdPartyPayment": True})
    assert made.auth_data.extensions == {"thirdPartyPayment": True}
    cred = made.auth_data.credential_data.credential_id
    assert assert_one(ctap2, cred, extensions={"thirdPartyPayment": True}).auth_data.extensions == {"thirdPartyPayment": True}
    other = make(ctap2, extensions={"credProtect": 1}).auth_data.credential_data.credential_id
    assert assert_one(ctap2, other, extensions={"thirdPartyPayment": True}).auth_data.extensions == {"thirdPartyPayment": False}


def ext_pin_complexity_policy(ctap2):
    Config(ctap2).set_min_pin_length(rp_ids=[RP_ID], pin_complexity_policy=True)
    assert make(ctap2, extensions={"pinComplexityPolicy": True}).auth_data.extensions == {"pinComplexityPolicy": True}
    with pytest.raises(CtapError) as e:  # and it is enforced
        ClientPin(ctap2, PinProtocolV2()).set_pin("11111111")
    assert e.value.code == CtapError.ERR.PIN_POLICY_VIOLATION


EXTENSIONS = {
    "credProtect": ext_cred_protect, "credBlob": ext_cred_blob, "hmac-secret": ext_hmac_secret,
    "hmac-secret-mc": ext_hmac_secret_mc, "largeBlobKey": ext_large_blob_key, "minPinLength": ext_min_pin_length,
    "thirdPartyPayment": ext_third_party_payment, "pinComplexityPolicy": ext_pin_complexity_policy,
}


def test_get_info_claims_only_what_works(start_daemon):
    for args in ((), ("--builtin-uv",)):
        info = Ctap2(start_daemon(*args).device()).get_info()
        unexercised = set(info.options) - set(OPTIONS)
        assert not unexercised, f"getInfo claims options no test exercises: {unexercised}"
        for name, value in info.options.items():
            OPTIONS[name](start_daemon, value)

    info = Ctap2(start_daemon().device()).get_info()
    assert not set(info.extensions) - set(EXTENSIONS), "an extension is claimed but not exercised"
    for name in info.extensions:
        EXTENSIONS[name](Ctap2(start_daemon().device()))

    d, ctap2 = fresh(start_daemon)
    for entry in info.algorithms:
        made = make(ctap2, key_params=[entry], user=user(abs(entry["alg"]) % 250))
        public_key = CoseKey.parse(made.auth_data.credential_data.public_key)
        assert public_key.ALGORITHM == entry["alg"]
        got = assert_one(ctap2, made.auth_data.credential_data.credential_id)
        public_key.verify(bytes(got.auth_data) + cdh(), got.signature)

    for version in info.pin_uv_protocols:
        _, ctap2 = fresh(start_daemon)
        proto = {1: PinProtocolV1, 2: PinProtocolV2}[version]()
        ClientPin(ctap2, proto).set_pin(PIN)
        t, proto = token(ctap2, type(proto))
        assert make(ctap2, rk=True, token=t, proto=proto).auth_data.flags & 0x04

    assert set(info.versions) == {"U2F_V2", "FIDO_2_0", "FIDO_2_1"}
    device = start_daemon().device()
    assert Ctap1(device).get_version() == "U2F_V2"
    assert device.capabilities & 0x04 and not device.capabilities & 0x08  # CBOR, and MSG (no NMSG)
    assert info.max_cred_blob_length == 32
    assert info.max_large_blob == 4096
