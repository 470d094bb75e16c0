"""ClientPIN with both PIN/UV auth protocols, driven by python-fido2's own implementation of the
platform side (key agreement, encryption, HMAC), so vfido's crypto is checked independently."""
from __future__ import annotations

import hashlib

import pytest
from fido2.client import DefaultClientDataCollector, Fido2Client, UserInteraction
from fido2.ctap import CtapError
from fido2.ctap2 import Ctap2
from fido2.ctap2.pin import ClientPin, PinProtocolV1, PinProtocolV2

from webauthn_oracles import ORIGIN, RP, server

PROTOCOLS = {"v1": PinProtocolV1, "v2": PinProtocolV2}
PIN = "1234"
CDH = hashlib.sha256(b"client data").digest()
ES256 = [{"type": "public-key", "alg": -7}]


def client_pin(device, version: str) -> ClientPin:
    return ClientPin(Ctap2(device), PROTOCOLS[version]())


class PinUI(UserInteraction):
    def __init__(self, pin: str):
        self.pin = pin

    def request_pin(self, permissions, rp_id):
        return self.pin


@pytest.mark.parametrize("version", PROTOCOLS)
def test_set_pin_change_pin_and_tokens(daemon, version):
    device = daemon.device()
    cp = client_pin(device, version)
    with pytest.raises(CtapError) as e:
        cp.get_pin_retries()  # no PIN yet: what YubiKeys and python-fido2's device suite expect
    assert e.value.code == CtapError.ERR.PIN_NOT_SET
    cp.set_pin(PIN)
    assert cp.get_pin_retries() == (8, None)
    info = Ctap2(device).get_info()
    assert info.options["clientPin"] is True
    with pytest.raises(CtapError) as e:
        cp.set_pin("5678")  # only once (CTAP 2.1 §6.5.5.5 step 3)
    assert e.value.code == CtapError.ERR.PIN_AUTH_INVALID

    token = cp.get_pin_token(PIN, ClientPin.PERMISSION.MAKE_CREDENTIAL | ClientPin.PERMISSION.GET_ASSERTION, "example.com")
    assert len(token) == 32
    cp.change_pin(PIN, "87654321")
    with pytest.raises(CtapError) as e:
        cp.get_pin_token(PIN)
    assert e.value.code == CtapError.ERR.PIN_INVALID
    assert cp.get_pin_retries()[0] == 7
    cp.get_pin_token("87654321")  # legacy getPinToken: mc and ga
    assert cp.get_pin_retries()[0] == 8  # a correct PIN restores the retries


@pytest.mark.parametrize("version", PROTOCOLS)
def test_token_drives_make_credential_and_get_assertion_with_uv(daemon, version):
    device = daemon.device()
    cp = client_pin(device, version)
    cp.set_pin(PIN)
    ctap2 = Ctap2(device)
    proto = PROTOCOLS[version]()
    token = cp.get_pin_token(PIN, ClientPin.PERMISSION.MAKE_CREDENTIAL | ClientPin.PERMISSION.GET_ASSERTION, "example.com")
    made = ctap2.make_credential(CDH, RP, {"id": b"u1", "name": "alice", "displayName": "Alice"}, ES256, options={"rk": True},
                                 pin_uv_param=proto.authenticate(token, CDH), pin_uv_protocol=proto.VERSION)
    assert made.auth_data.flags & 0x05 == 0x05  # UP and UV
    got = ctap2.get_assertion("example.com", CDH, pin_uv_param=proto.authenticate(token, CDH), pin_uv_protocol=proto.VERSION)
    assert got.auth_data.flags & 0x05 == 0x05
    assert got.user == {"id": b"u1"}  # one account: its id alone (CTAP 2.1 §6.2.2)
    # Two accounts: with UV, the names come for the platform's chooser.
    ctap2.make_credential(CDH, RP, {"id": b"u2", "name": "bob", "displayName": "Bob"}, ES256, options={"rk": True},
                          pin_uv_param=proto.authenticate(token, CDH), pin_uv_protocol=proto.VERSION)
    token = cp.get_pin_token(PIN, ClientPin.PERMISSION.GET_ASSERTION, "example.com")
    got = ctap2.get_assertion("example.com", CDH, pin_uv_param=proto.authenticate(token, CDH), pin_uv_protocol=proto.VERSION)
    assert got.number_of_credentials == 2 and got.user["name"] in ("alice", "bob") and "displayName" in got.user

    # A token is bound to the RP it was made for.
    with pytest.raises(CtapError) as e:
        ctap2.get_assertion("other.example", CDH, pin_uv_param=proto.authenticate(token, CDH), pin_uv_protocol=proto.VERSION)
    assert e.value.code == CtapError.ERR.PIN_AUTH_INVALID
    # A wrong MAC.
    with pytest.raises(CtapError) as e:
        ctap2.get_assertion("example.com", CDH, pin_uv_param=proto.authenticate(token, b"other" + CDH), pin_uv_protocol=proto.VERSION)
    assert e.value.code == CtapError.ERR.PIN_AUTH_INVALID
    # A token without the permission.
    ga_only = cp.get_pin_token(PIN, ClientPin.PERMISSION.GET_ASSERTION, "example.com")
    with pytest.raises(CtapError) as e:
        ctap2.make_credential(CDH, RP, {"id": b"u2", "name": "bob"}, ES256,
                              pin_uv_param=proto.authenticate(ga_only, CDH), pin_uv_protocol=proto.VERSION)
    assert e.value.code == CtapError.ERR.PIN_AUTH_INVALID


def test_pin_protects_discoverable_credentials_only(daemon):
    device = daemon.device()
    client_pin(device, "v2").set_pin(PIN)
    ctap2 = Ctap2(device)
    with pytest.raises(CtapError) as e:
        ctap2.make_credential(CDH, RP, {"id": b"u", "name": "u"}, ES256, options={"rk": True})
    assert e.value.code == CtapError.ERR.PUAT_REQUIRED
    plain = ctap2.make_credential(CDH, RP, {"id": b"u", "name": "u"}, ES256)  # makeCredUvNotRqd
    assert plain.auth_data.flags & 0x04 == 0


def test_fido2_client_with_pin_registers_and_authenticates_with_uv(daemon):
    device = daemon.device()
    client_pin(device, "v2").set_pin(PIN)
    client = Fido2Client(device, DefaultClientDataCollector(ORIGIN), PinUI(PIN))
    srv = server()
    options, state = srv.register_begin({"id": b"user", "name": "alice", "displayName": "Alice"},
                                        resident_key_requirement="required", user_verification="required")
    auth_data = srv.register_complete(state, client.make_credential(options.public_key))
    assert auth_data.is_user_verified()
    options, state = srv.authenticate_begin(None, user_verification="required")
    response = client.get_assertion(options.public_key).get_response(0)
    srv.authenticate_complete(state, [auth_data.credential_data], response)
    assert response.response.authenticator_data.is_user_verified()


def test_touch_probe_answers_pin_invalid_once_a_pin_is_set(daemon):
    device = daemon.device()
    ctap2 = Ctap2(device)
    for expected in (CtapError.ERR.PIN_NOT_SET, CtapError.ERR.PIN_INVALID):
        with pytest.raises(CtapError) as e:
            ctap2.make_credential(CDH, {"id": "localhost"}, {"id": b"dummy", "name": "dummy"}, ES256,
                                  pin_uv_param=b"", pin_uv_protocol=2)
        assert e.value.code == expected
        if expected == CtapError.ERR.PIN_NOT_SET:
            client_pin(device, "v2").set_pin(PIN)


def test_wrong_pins_count_down_block_per_power_cycle_and_lock_out(daemon):
    cp = client_pin(daemon.device(), "v2")
    cp.set_pin(PIN)

    def attempt(pin):
        with pytest.raises(CtapError) as e:
            cp.get_pin_token(pin)
        return e.value.code

    assert [attempt("0000") for _ in range(3)] == [CtapError.ERR.PIN_INVALID, CtapError.ERR.PIN_INVALID,
                                                   CtapError.ERR.PIN_AUTH_BLOCKED]
    assert attempt(PIN) == CtapError.ERR.PIN_AUTH_BLOCKED  # even the right PIN, until a power cycle
    assert cp.get_pin_retries() == (5, True)               # powerCycleState
    daemon.restart()                                       # power cycle; retries persist
    cp = client_pin(daemon.device(), "v2")
    assert cp.get_pin_retries() == (5, None)
    assert [attempt("0000") for _ in range(3)] == [CtapError.ERR.PIN_INVALID, CtapError.ERR.PIN_INVALID,
                                                   CtapError.ERR.PIN_AUTH_BLOCKED]
    daemon.restart()
    cp = client_pin(daemon.device(), "v2")
    assert [attempt("0000") for _ in range(2)] == [CtapError.ERR.PIN_INVALID, CtapError.ERR.PIN_BLOCKED]
    assert cp.get_pin_retries()[0] == 0
    assert attempt(PIN) == CtapError.ERR.PIN_BLOCKED       # locked out for good; only a reset helps
    daemon.restart()
    Ctap2(daemon.device()).reset()
    with pytest.raises(CtapError) as e:
        client_pin(daemon.device(), "v2").get_pin_retries()
    assert e.value.code == CtapError.ERR.PIN_NOT_SET
    assert Ctap2(daemon.device()).get_info().options["clientPin"] is False


@pytest.mark.parametrize("pin, status", [("123", "PIN_POLICY_VIOLATION"), ("x" * 64, "PIN_POLICY_VIOLATION")])
def test_pin_policy(daemon, pin, status):
    cp = client_pin(daemon.device(), "v1")
    with pytest.raises((CtapError, ValueError)) as e:
        cp.set_pin(pin)
    if isinstance(e.value, CtapError):
        assert e.value.code == getattr(CtapError.ERR, status)


def test_pin_counts_code_points_not_bytes(daemon):
    cp = client_pin(daemon.device(), "v2")
    cp.set_pin("ééé€")  # 4 code points, 9 bytes
    cp.get_pin_token("ééé€")


def test_client_pin_bad_requests(daemon):
    ctap2 = Ctap2(daemon.device())
    for params, status in [
        ({}, CtapError.ERR.MISSING_PARAMETER),
        ({2: 0x42}, CtapError.ERR.INVALID_SUBCOMMAND),
        ({2: 2}, CtapError.ERR.MISSING_PARAMETER),           # getKeyAgreement without a protocol
        ({1: 3, 2: 2}, CtapError.ERR.INVALID_PARAMETER),     # unknown protocol
        ({1: 2, 2: 5}, CtapError.ERR.MISSING_PARAMETER),     # getPinToken without keyAgreement
        ({1: "two", 2: 2}, CtapError.ERR.CBOR_UNEXPECTED_TYPE),
        ({1: 2, 2: 6}, CtapError.ERR.NOT_ALLOWED),           # no built-in UV
    ]:
        with pytest.raises(CtapError) as e:
            ctap2.send_cbor(0x06, params)
        assert e.value.code == status, params
    assert ctap2.get_info().versions


@pytest.mark.parametrize("version", PROTOCOLS)
def test_permissions_granted_and_refused(daemon, version):
    device = daemon.device()
    cp = client_pin(device, version)
    cp.set_pin(PIN)
    P = ClientPin.PERMISSION
    for granted in (P.MAKE_CREDENTIAL, P.GET_ASSERTION, P.CREDENTIAL_MGMT, P.LARGE_BLOB_WRITE, P.AUTHENTICATOR_CFG,
                    P.CREDENTIAL_MGMT | P.LARGE_BLOB_WRITE | P.AUTHENTICATOR_CFG):
        assert len(cp.get_pin_token(PIN, granted)) == 32
    # CTAP 2.2's persistent token, asked for alone; the same token each time
    persistent = cp.get_pin_token(PIN, P.PERSISTENT_CREDENTIAL_MGMT)
    assert len(persistent) == 32 and cp.get_pin_token(PIN, P.PERSISTENT_CREDENTIAL_MGMT) == persistent
    # bio enrollment (no fingerprint enrollment here), and the persistent token mixed with others
    for refused in (P.BIO_ENROLL, P.MAKE_CREDENTIAL | P.BIO_ENROLL, P.PERSISTENT_CREDENTIAL_MGMT | P.CREDENTIAL_MGMT):
        with pytest.raises(CtapError) as e:
            cp.get_pin_token(PIN, refused)
        assert e.value.code == CtapError.ERR.UNAUTHORIZED_PERMISSION, refused
    assert cp.get_pin_retries()[0] == 8  # refusals before the PIN check cost no retry
    # Bits the specification does not define are ignored (§6.5.5.7.2 step 4): the token does what
    # the defined bits say.
    assert len(cp.get_pin_token(PIN, P.MAKE_CREDENTIAL | 0x80)) == 32
