"""authenticatorConfig (python-fido2's Config), enterprise attestation, and built-in user
verification (`--builtin-uv`) answered by the prompt policy."""
from __future__ import annotations

import pytest
from cryptography import x509
from cryptography.x509.oid import NameOID
from fido2.attestation import AttestationType, PackedAttestation
from fido2.client import DefaultClientDataCollector, Fido2Client, UserInteraction
from fido2.ctap import CtapError
from fido2.ctap2 import Ctap2
from fido2.ctap2.config import Config
from fido2.ctap2.pin import ClientPin, PinProtocolV1, PinProtocolV2

from ctap_helpers import PIN, PROTOCOLS, RP_ID, assert_one, cdh, make, token, user
from webauthn_oracles import ORIGIN, attestation_root_pem, server


@pytest.mark.parametrize("version", PROTOCOLS)
def test_config_needs_an_acfg_token_once_a_pin_is_set(daemon, version):
    ctap2 = Ctap2(daemon.device())
    proto_cls = PROTOCOLS[version]
    ClientPin(ctap2, proto_cls()).set_pin(PIN)
    with pytest.raises(CtapError) as e:
        Config(ctap2).toggle_always_uv()
    assert e.value.code == CtapError.ERR.PUAT_REQUIRED
    mc_token, proto = token(ctap2, proto_cls)
    with pytest.raises(CtapError) as e:
        Config(ctap2, proto, mc_token).toggle_always_uv()
    assert e.value.code == CtapError.ERR.PIN_AUTH_INVALID
    acfg, proto = token(ctap2, proto_cls, permissions=ClientPin.PERMISSION.AUTHENTICATOR_CFG)
    bad = Config(ctap2, proto, acfg)
    with pytest.raises(CtapError) as e:
        ctap2.config(0x02, pin_uv_protocol=proto.VERSION, pin_uv_param=b"\0" * len(proto.authenticate(acfg, b"x")))
    assert e.value.code == CtapError.ERR.PIN_AUTH_INVALID
    bad.toggle_always_uv()
    info = ctap2.get_info()
    assert info.options["alwaysUv"] is True and info.options["makeCredUvNotRqd"] is False
    # alwaysUv: even a non-discoverable credential needs the token now
    with pytest.raises(CtapError) as e:
        make(ctap2)
    assert e.value.code == CtapError.ERR.PUAT_REQUIRED
    with pytest.raises(CtapError) as e:
        ctap2.get_assertion(RP_ID, cdh(), [{"type": "public-key", "id": bytes(65)}])
    assert e.value.code == CtapError.ERR.PUAT_REQUIRED
    mc_token, proto = token(ctap2, proto_cls)
    assert make(ctap2, token=mc_token, proto=proto).auth_data.flags & 0x04
    daemon.restart()  # settings persist
    assert Ctap2(daemon.device()).get_info().options["alwaysUv"] is True


def test_set_min_pin_length_forces_a_pin_change(daemon):
    ctap2 = Ctap2(daemon.device())
    cp = ClientPin(ctap2, PinProtocolV2())
    cp.set_pin(PIN)
    acfg, proto = token(ctap2, permissions=ClientPin.PERMISSION.AUTHENTICATOR_CFG)
    config = Config(ctap2, proto, acfg)
    config.set_min_pin_length(min_pin_length=6)
    info = ctap2.get_info()
    assert info.min_pin_length == 6 and info.force_pin_change is True
    with pytest.raises(CtapError) as e:
        cp.get_pin_token(PIN)  # the 4-digit PIN must be changed first; legacy getPinToken says so this way
    assert e.value.code == CtapError.ERR.PIN_INVALID
    with pytest.raises(CtapError) as e:
        cp.get_pin_token(PIN, ClientPin.PERMISSION.GET_ASSERTION)  # and getPinUvAuthTokenUsingPinWithPermissions this way
    assert e.value.code == CtapError.ERR.PIN_POLICY_VIOLATION
    with pytest.raises(CtapError) as e:
        cp.change_pin(PIN, "12345")  # too short for the new minimum
    assert e.value.code == CtapError.ERR.PIN_POLICY_VIOLATION
    cp.change_pin(PIN, "123456")
    assert ctap2.get_info().force_pin_change is False
    acfg, proto = token(ctap2, permissions=ClientPin.PERMISSION.AUTHENTICATOR_CFG, pin="123456")
    config = Config(ctap2, proto, acfg)
    with pytest.raises(CtapError) as e:
        config.set_min_pin_length(min_pin_length=5)  # it never shrinks
    assert e.value.code == CtapError.ERR.PIN_POLICY_VIOLATION
    config.set_min_pin_length(force_change_pin=True)
    assert ctap2.get_info().force_pin_change is True
    with pytest.raises(CtapError) as e:
        cp.change_pin("123456", "123456")  # a forced change needs a new PIN
    assert e.value.code == CtapError.ERR.PIN_POLICY_VIOLATION
    cp.change_pin("123456", "654321")


@pytest.mark.parametrize("kind", [1, 2])
def test_enterprise_attestation(start_daemon, vfido_bin, kind):
    d = start_daemon("--enterprise-rp", RP_ID)
    ctap2 = Ctap2(d.device())
    with pytest.raises(CtapError) as e:
        make(ctap2, enterprise_attestation=kind)
    assert e.value.code == CtapError.ERR.INVALID_PARAMETER  # not enabled yet
    Config(ctap2).enable_enterprise_attestation()
    assert ctap2.get_info().options["ep"] is True
    with pytest.raises(CtapError) as e:
        make(ctap2, enterprise_attestation=3)
    assert e.value.code == CtapError.ERR.INVALID_OPTION

    regular = make(ctap2)
    enterprise = make(ctap2, enterprise_attestation=kind)
    assert enterprise.ep_att is True and not regular.ep_att
    result = PackedAttestation().verify(enterprise.att_stmt, enterprise.auth_data, cdh())
    assert result.attestation_type == AttestationType.BASIC
    leaf = x509.load_der_x509_certificate(enterprise.att_stmt["x5c"][0])
    batch = x509.load_der_x509_certificate(regular.att_stmt["x5c"][0])
    assert leaf != batch
    serials = leaf.subject.get_attributes_for_oid(NameOID.SERIAL_NUMBER)
    assert len(serials) == 1 and len(serials[0].value) == 16  # names this one device
    root = x509.load_pem_x509_certificate(attestation_root_pem(vfido_bin, d.state))
    leaf.verify_directly_issued_by(root)

    # vendor-facilitated (1) only for the configured RP; another RP gets regular attestation
    other = make(ctap2, rp={"id": "other.example", "name": "Other"}, enterprise_attestation=1)
    assert not other.ep_att
    assert x509.load_der_x509_certificate(other.att_stmt["x5c"][0]) == batch


def test_builtin_uv_gives_tokens_and_uv_assertions(start_daemon):
    d = start_daemon("--builtin-uv")
    device = d.device()
    ctap2 = Ctap2(device)
    info = ctap2.get_info()
    assert info.options["uv"] is True and info.uv_modality == 2 and info.preferred_platform_uv_attempts == 3
    cp = ClientPin(ctap2, PinProtocolV2())
    assert cp.get_uv_retries() == 8
    # discoverable credentials need UV now that the key has it
    with pytest.raises(CtapError) as e:
        make(ctap2, rk=True)
    assert e.value.code == CtapError.ERR.PUAT_REQUIRED
    made = make(ctap2, rk=True, options={"uv": True})
    assert made.auth_data.flags & 0x05 == 0x05
    uv_token = cp.get_uv_token(ClientPin.PERMISSION.GET_ASSERTION, RP_ID)
    got = assert_one(ctap2, token=uv_token, proto=cp.protocol)
    assert got.auth_data.flags & 0x05 == 0x05 and got.user == {"id": user()["id"]}  # one account: id alone
    assert assert_one(ctap2, options={"uv": True}).auth_data.flags & 0x04

    # a browser-like client with userVerification "required", verified by Fido2Server
    srv = server()
    client = Fido2Client(device, DefaultClientDataCollector(ORIGIN), UserInteraction())
    options, state = srv.register_begin(user(5), resident_key_requirement="required", user_verification="required")
    reg = client.make_credential(options.public_key)
    creds = [srv.register_complete(state, reg).credential_data]
    request, state = srv.authenticate_begin(creds, user_verification="required")
    srv.authenticate_complete(state, creds, client.get_assertion(request.public_key).get_response(0))


def test_refused_builtin_uv_counts_down_and_blocks(start_daemon):
    d = start_daemon("--builtin-uv", "--presence", "deny")
    ctap2 = Ctap2(d.device())
    cp = ClientPin(ctap2, PinProtocolV1())
    for left in range(7, 0, -1):
        with pytest.raises(CtapError) as e:
            make(ctap2, options={"uv": True})
        assert e.value.code == CtapError.ERR.UV_INVALID
        assert cp.get_uv_retries() == left
    with pytest.raises(CtapError) as e:
        cp.get_uv_token(ClientPin.PERMISSION.MAKE_CREDENTIAL)
    assert e.value.code == CtapError.ERR.UV_BLOCKED
    with pytest.raises(CtapError) as e:
        make(ctap2, options={"uv": True})
    assert e.value.code == CtapError.ERR.UV_BLOCKED
    d.restart()
    assert ClientPin(Ctap2(d.device()), PinProtocolV1()).get_uv_retries() == 0  # persisted


def test_uv_count_since_last_pin_entry(start_daemon):
    """CTAP 2.2 getInfo uvCountSinceLastPinEntry: every built-in UV, refused ones too, until the
    PIN is entered; kept across a restart; absent on a key without built-in UV."""
    assert Ctap2(start_daemon().device()).get_info().uv_count_since_pin is None
    d = start_daemon("--builtin-uv")
    ctap2 = Ctap2(d.device())
    assert ctap2.get_info().uv_count_since_pin == 0
    cp = ClientPin(ctap2, PinProtocolV2())
    cp.get_uv_token(ClientPin.PERMISSION.MAKE_CREDENTIAL)
    make(ctap2, options={"uv": True})
    assert ctap2.get_info().uv_count_since_pin == 2
    d.restart()
    ctap2 = Ctap2(d.device())
    assert ctap2.get_info().uv_count_since_pin == 2
    cp = ClientPin(ctap2, PinProtocolV2())
    cp.set_pin(PIN)
    assert ctap2.get_info().uv_count_since_pin == 0
    make(ctap2, options={"uv": True})
    assert ctap2.get_info().uv_count_since_pin == 1
    cp.get_pin_token(PIN, ClientPin.PERMISSION.MAKE_CREDENTIAL, RP_ID)
    assert ctap2.get_info().uv_count_since_pin == 0

    refused = Ctap2(start_daemon("--builtin-uv", "--presence", "deny").device())
    with pytest.raises(CtapError):
        make(refused, options={"uv": True})
    assert refused.get_info().uv_count_since_pin == 1


def test_pin_complexity_policy(start_daemon):
    """CTAP 2.2 pinComplexityPolicy through python-fido2's Config and ClientPin: setMinPINLength
    turns it on (getInfo 0x1B), weak new PINs are refused, only a reset turns it off."""
    ctap2 = Ctap2(start_daemon().device())
    assert ctap2.info.pin_complexity_policy is False and ctap2.info.pin_complexity_policy_url is None
    Config(ctap2).set_min_pin_length(pin_complexity_policy=True)
    assert ctap2.get_info().pin_complexity_policy is True
    cp = ClientPin(ctap2, PinProtocolV2())
    for weak in ("11111111", "123456", "password"):
        with pytest.raises(CtapError) as e:
            cp.set_pin(weak)
        assert e.value.code == CtapError.ERR.PIN_POLICY_VIOLATION
    with pytest.raises(CtapError) as e:
        cp.set_pin(PIN)  # "1234", a run
    assert e.value.code == CtapError.ERR.PIN_POLICY_VIOLATION
    cp.set_pin("7391")
    with pytest.raises(CtapError) as e:
        cp.change_pin("7391", "98765")
    assert e.value.code == CtapError.ERR.PIN_POLICY_VIOLATION
    cp.get_pin_token("7391")  # the PIN is unchanged

    preset = Ctap2(start_daemon("--pin-complexity-policy", "--pin-complexity-policy-url", "https://example.com/pins").device())
    assert preset.info.pin_complexity_policy is True
    assert preset.info.pin_complexity_policy_url == b"https://example.com/pins"


def test_uv_token_without_builtin_uv_is_not_allowed(daemon):
    cp = ClientPin(Ctap2(daemon.device()), PinProtocolV2())
    for call in (lambda: cp.get_uv_token(ClientPin.PERMISSION.MAKE_CREDENTIAL), cp.get_uv_retries):
        with pytest.raises(CtapError) as e:
            call()
        assert e.value.code == CtapError.ERR.NOT_ALLOWED
