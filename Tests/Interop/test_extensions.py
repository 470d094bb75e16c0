"""The CTAP 2.1 extensions: hmac-secret (and hmac-secret-mc), credBlob, largeBlobKey with
authenticatorLargeBlobs, minPinLength. The platform half (key agreement, salt encryption,
decryption of outputs, large-blob array format) is python-fido2's own code."""
from __future__ import annotations

import base64
import hashlib
import os

import pytest
from fido2 import cbor
from fido2.client import DefaultClientDataCollector, Fido2Client, UserInteraction
from fido2.ctap import CtapError
from fido2.ctap2 import Ctap2
from fido2.ctap2.blob import LargeBlobs
from fido2.ctap2.config import Config
from fido2.ctap2.extensions import HmacSecretExtension
from fido2.ctap2.pin import ClientPin, PinProtocolV2

from ctap_helpers import PIN, PROTOCOLS, RP, RP_ID, assert_one, cdh, make, random_salt, token, user
from webauthn_oracles import ORIGIN, server


# ---------------------------------------------------------------------------------- hmac-secret

def hmac_input(ctap2, proto, salts: list[bytes]):
    """The hmac-secret input map, and the shared secret to decrypt the output with."""
    key_agreement, shared = ClientPin(ctap2, proto)._get_shared_secret()
    salt_enc = proto.encrypt(shared, b"".join(salts))
    return {1: key_agreement, 2: salt_enc, 3: proto.authenticate(shared, salt_enc), 4: proto.VERSION}, shared


def hmac_get(ctap2, proto, credential_id, salts, pin_token=None, rk_label=b"client data"):
    ext, shared = hmac_input(ctap2, proto, salts)
    response = assert_one(ctap2, credential_id, extensions={"hmac-secret": ext}, token=pin_token,
                          proto=proto if pin_token else None, label=rk_label)
    out = proto.decrypt(shared, response.auth_data.extensions["hmac-secret"])
    assert len(out) == 32 * len(salts)
    return [out[i:i + 32] for i in range(0, len(out), 32)], response


@pytest.mark.parametrize("version", PROTOCOLS)
def test_hmac_secret_is_stable_per_salt_and_differs_with_uv(daemon, version):
    ctap2 = Ctap2(daemon.device())
    proto = PROTOCOLS[version]()
    made = make(ctap2, extensions={"hmac-secret": True})
    assert made.auth_data.extensions == {"hmac-secret": True}
    cred_id = made.auth_data.credential_data.credential_id
    s1, s2 = random_salt(), random_salt()

    (a,), first = hmac_get(ctap2, proto, cred_id, [s1])
    (again,), _ = hmac_get(ctap2, proto, cred_id, [s1])
    assert a == again and first.auth_data.flags & 0x04 == 0
    (b,), _ = hmac_get(ctap2, proto, cred_id, [s2])
    assert b != a
    pair, _ = hmac_get(ctap2, proto, cred_id, [s1, s2])
    assert pair == [a, b]  # two salts: the two outputs, in order

    # the other protocol decrypts to the same secrets (CredRandom does not depend on it)
    other = PROTOCOLS["v1" if version == "v2" else "v2"]()
    assert hmac_get(ctap2, other, cred_id, [s1])[0] == [a]

    # with user verification: CredRandomWithUV, a different secret
    ClientPin(ctap2, proto).set_pin(PIN)
    pin_token, _ = token(ctap2, type(proto))
    (uv_a,), verified = hmac_get(ctap2, proto, cred_id, [s1], pin_token=pin_token)
    assert verified.auth_data.flags & 0x04
    assert uv_a != a
    assert hmac_get(ctap2, proto, cred_id, [s1], pin_token=pin_token)[0] == [uv_a]
    assert hmac_get(ctap2, proto, cred_id, [s1])[0] == [a]  # and without UV still the old one


def test_hmac_secret_bad_inputs(daemon):
    ctap2 = Ctap2(daemon.device())
    proto = PinProtocolV2()
    cred_id = make(ctap2, extensions={"hmac-secret": True}).auth_data.credential_data.credential_id
    ext, shared = hmac_input(ctap2, proto, [random_salt()])
    bad_auth = dict(ext)
    bad_auth[3] = bytes(32)
    with pytest.raises(CtapError) as e:
        assert_one(ctap2, cred_id, extensions={"hmac-secret": bad_auth})
    assert e.value.code == CtapError.ERR.PIN_AUTH_INVALID
    short = proto.encrypt(shared, os.urandom(48))
    with pytest.raises(CtapError) as e:
        assert_one(ctap2, cred_id, extensions={"hmac-secret": {**ext, 2: short, 3: proto.authenticate(shared, short)}})
    assert e.value.code == CtapError.ERR.INVALID_LENGTH
    with pytest.raises(CtapError) as e:
        assert_one(ctap2, cred_id, extensions={"hmac-secret": {**ext, 4: 3}})
    assert e.value.code == CtapError.ERR.INVALID_PARAMETER
    # the device keeps answering, and a credential made without hmac-secret has no output
    plain = make(ctap2, user=user(2)).auth_data.credential_data.credential_id
    ext, _ = hmac_input(ctap2, proto, [random_salt()])
    assert "hmac-secret" not in (assert_one(ctap2, plain, extensions={"hmac-secret": ext}).auth_data.extensions or {})


def test_hmac_secret_mc_matches_the_assertion_output(daemon):
    ctap2 = Ctap2(daemon.device())
    proto = PinProtocolV2()
    salt = random_salt()
    ext, shared = hmac_input(ctap2, proto, [salt])
    made = make(ctap2, extensions={"hmac-secret": True, "hmac-secret-mc": ext})
    at_creation = proto.decrypt(shared, made.auth_data.extensions["hmac-secret-mc"])
    assert made.auth_data.extensions["hmac-secret"] is True
    assert hmac_get(ctap2, proto, made.auth_data.credential_data.credential_id, [salt])[0] == [at_creation]


def test_prf_through_fido2_client_is_stable(daemon):
    """The WebAuthn prf extension, as a browser maps it onto hmac-secret (python-fido2's client)."""
    device = daemon.device()
    srv = server()
    client = Fido2Client(device, DefaultClientDataCollector(ORIGIN), UserInteraction())
    options, state = srv.register_begin(user(), user_verification="discouraged")
    reg = client.make_credential({**dict(options.public_key), "extensions": {"prf": {}}})
    assert reg.client_extension_results["prf"]["enabled"] is True
    creds = [srv.register_complete(state, reg).credential_data]
    results = []
    for _ in range(2):
        req, st = srv.authenticate_begin(creds, user_verification="discouraged")
        salt = {"eval": {"first": b"a fixed prf input"}}
        resp = client.get_assertion({**dict(req.public_key), "extensions": {"prf": salt}}).get_response(0)
        srv.authenticate_complete(st, creds, resp)
        results.append(resp.client_extension_results["prf"]["results"]["first"])
    first = results[0] if isinstance(results[0], bytes) else base64.urlsafe_b64decode(results[0] + "=")
    assert results[0] == results[1] and len(first) == 32


# ------------------------------------------------------------------------------------- credBlob

@pytest.mark.parametrize("rk", [True, False])
def test_cred_blob_round_trip(daemon, rk):
    ctap2 = Ctap2(daemon.device())
    blob = os.urandom(32)
    made = make(ctap2, rk=rk, extensions={"credBlob": blob})
    assert made.auth_data.extensions == {"credBlob": True}
    cred_id = made.auth_data.credential_data.credential_id
    got = assert_one(ctap2, None if rk else cred_id, extensions={"credBlob": True})
    assert got.auth_data.extensions == {"credBlob": blob}
    daemon.restart()  # it lives in the credential, not in memory
    ctap2 = Ctap2(daemon.device())
    assert assert_one(ctap2, cred_id, extensions={"credBlob": True}).auth_data.extensions == {"credBlob": blob}

    too_big = make(ctap2, rk=rk, user=user(2), extensions={"credBlob": os.urandom(33)})
    assert too_big.auth_data.extensions == {"credBlob": False}
    big_id = too_big.auth_data.credential_data.credential_id
    assert assert_one(ctap2, big_id, extensions={"credBlob": True}).auth_data.extensions == {"credBlob": b""}


# ------------------------------------------------------------------------ largeBlobKey + blobs

def test_large_blob_key_and_large_blobs_write_and_read_back(daemon):
    ctap2 = Ctap2(daemon.device())
    made = make(ctap2, rk=True, extensions={"largeBlobKey": True})
    key = made.large_blob_key
    assert key and len(key) == 32
    assert assert_one(ctap2, extensions={"largeBlobKey": True}).large_blob_key == key
    with pytest.raises(CtapError) as e:
        make(ctap2, user=user(2), extensions={"largeBlobKey": True})  # not discoverable
    assert e.value.code == CtapError.ERR.INVALID_OPTION

    blobs = LargeBlobs(ctap2)  # no PIN set: writes need no token
    assert blobs.read_blob_array() == []
    data = os.urandom(1500)
    blobs.put_blob(key, data)
    daemon.restart()
    ctap2 = Ctap2(daemon.device())
    assert LargeBlobs(ctap2).get_blob(key) == data
    assert LargeBlobs(ctap2).get_blob(os.urandom(32)) is None  # another key opens nothing

    # with a PIN set, writing needs a token with the lbw permission
    ClientPin(ctap2, PinProtocolV2()).set_pin(PIN)
    with pytest.raises(CtapError) as e:
        LargeBlobs(ctap2).put_blob(key, b"x")
    assert e.value.code == CtapError.ERR.PUAT_REQUIRED
    ga_token, proto = token(ctap2)
    with pytest.raises(CtapError) as e:
        LargeBlobs(ctap2, proto, ga_token).put_blob(key, b"x")
    assert e.value.code == CtapError.ERR.PIN_AUTH_INVALID
    lbw_token, proto = token(ctap2, permissions=ClientPin.PERMISSION.LARGE_BLOB_WRITE)
    LargeBlobs(ctap2, proto, lbw_token).put_blob(key, b"second")
    assert LargeBlobs(ctap2).get_blob(key) == b"second"


def raw_blobs(ctap2, params):
    return ctap2.send_cbor(0x0C, params)


def test_large_blobs_fragments_sequence_and_integrity(daemon):
    ctap2 = Ctap2(daemon.device())
    array = cbor.encode([{1: os.urandom(40), 2: os.urandom(12), 3: 40}] * 20)
    serialized = array + hashlib.sha256(array).digest()[:16]
    parts = [serialized[i:i + 400] for i in range(0, len(serialized), 400)]
    assert len(parts) >= 3
    raw_blobs(ctap2, {2: parts[0], 3: 0, 4: len(serialized)})
    with pytest.raises(CtapError) as e:  # skipping a fragment
        raw_blobs(ctap2, {2: parts[2], 3: 800})
    assert e.value.code == CtapError.ERR.INVALID_SEQ
    # start again and complete it
    offset = 0
    for i, part in enumerate(parts):
        raw_blobs(ctap2, {2: part, 3: offset, **({4: len(serialized)} if i == 0 else {})})
        offset += len(part)
    read = b""
    while True:
        chunk = raw_blobs(ctap2, {1: 512, 3: len(read)})[1]
        read += chunk
        if len(chunk) < 512:
            break
    assert read == serialized

    # a corrupted hash is refused and the stored array is unchanged
    broken = array + bytes(16)
    with pytest.raises(CtapError) as e:
        raw_blobs(ctap2, {2: broken, 3: 0, 4: len(broken)})
    assert e.value.code == CtapError.ERR.INTEGRITY_FAILURE
    assert raw_blobs(ctap2, {1: 4000, 3: 0})[1] == serialized
    for params, status in [({2: b"x" * 20, 3: 0, 4: 5000}, CtapError.ERR.LARGE_BLOB_STORAGE_FULL),
                           ({2: b"x" * 10, 3: 0, 4: 10}, CtapError.ERR.INVALID_PARAMETER),
                           ({1: 10, 2: b"x", 3: 0}, CtapError.ERR.INVALID_PARAMETER),
                           ({1: 8000, 3: 0}, CtapError.ERR.INVALID_LENGTH),
                           ({1: 10, 3: 99999}, CtapError.ERR.INVALID_PARAMETER),
                           ({1: 10}, CtapError.ERR.MISSING_PARAMETER)]:
        with pytest.raises(CtapError) as e:
            raw_blobs(ctap2, params)
        assert e.value.code == status, params


# --------------------------------------------------------------------------------- minPinLength

def test_min_pin_length_extension_only_for_listed_rps(daemon):
    ctap2 = Ctap2(daemon.device())
    Config(ctap2).set_min_pin_length(min_pin_length=6, rp_ids=[RP_ID])
    listed = make(ctap2, extensions={"minPinLength": True})
    assert listed.auth_data.extensions == {"minPinLength": 6}
    other = make(ctap2, rp={"id": "other.example", "name": "Other"}, extensions={"minPinLength": True})
    assert not other.auth_data.extensions
