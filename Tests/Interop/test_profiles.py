"""Device profiles (docs/profiles.md) through python-fido2: each built-in profile's getInfo is
what the profile file says, the YubiKey 5 NFC 5.4 profile's is what that key publishes, a
profile's limits and command set are enforced, and a broken profile file is refused precisely."""
from __future__ import annotations

import json
import subprocess

import pytest
from fido2.ctap import CtapError
from fido2.ctap2 import Ctap2
from fido2.ctap2.credman import CredentialManagement
from fido2.ctap2.pin import ClientPin, PinProtocolV1, PinProtocolV2
from fido2 import cbor
from fido2.hid import CAPABILITY, CTAPHID

from conftest import VFIDO
from ctap_helpers import make, user

ALGS = {"ES256": -7, "EdDSA": -8, "ES384": -35, "RS256": -257}


def profile(name: str) -> dict:
    return json.loads(subprocess.run([str(VFIDO), "profile", "show", name], capture_output=True, text=True, check=True,
                                     timeout=30).stdout)


@pytest.mark.parametrize("name", ["vfido", "yubikey-5-nfc-5.4", "yubikey-5-nfc-5.7", "solokey-1", "ctap2.0"])
def test_get_info_is_what_the_profile_says(start_daemon, name):
    p = profile(name)
    d = start_daemon("--profile", name)
    dev = d.device()
    assert dev.device_version == tuple(int(x) for x in p["firmwareVersion"].split("."))
    info = Ctap2(dev).get_info()
    assert str(info.aaguid) == p["aaguid"] or info.aaguid.hex() == p["aaguid"].replace("-", "")
    assert sorted(info.extensions) == sorted(p["extensions"])
    assert info.pin_uv_protocols == p["pinUvAuthProtocols"]
    assert info.max_msg_size == p["maxMsgSize"]
    assert info.options["rk"] is p["residentKeys"]
    omitted = set(p.get("getInfoOmits") or [])
    if p["protocol"] != "ctap2":
        assert info.max_creds_in_list == p["maxCredentialCountInList"] and info.max_cred_id_length == p["maxCredentialIdLength"]
        assert info.transports == ([] if "transports" in omitted else sorted(p["transports"]))
        if "algorithms" in omitted:
            assert info.algorithms == []
        else:
            assert [a["alg"] for a in info.algorithms] == sorted((ALGS[a] for a in p["algorithms"]), key=lambda a: (a >= 0, abs(a)))
    versions = {"ctap2": ["U2F_V2", "FIDO_2_0"], "ctap2_1_pre": ["U2F_V2", "FIDO_2_0", "FIDO_2_1_PRE"],
                "ctap2_1": ["U2F_V2", "FIDO_2_0", "FIDO_2_1"]}[p["protocol"]] + (p.get("extraVersions") or [])
    assert info.versions == versions
    assert f"profile {name}" in d.banner and f"USB id {p['usb']['vendorId']}:{p['usb']['productId']}" in d.banner


def test_the_yubikey_profile_is_what_a_yubikey_5_nfc_5_4_3_publishes(start_daemon):
    """Values from fido2-token -I of a real one (https://github.com/Yubico/libfido2/issues/686)."""
    d = start_daemon("--profile", "yubikey-5-nfc-5.4")
    ctap2 = Ctap2(d.device())
    info = ctap2.get_info()
    assert info.versions == ["U2F_V2", "FIDO_2_0", "FIDO_2_1_PRE"]
    assert info.extensions == ["credProtect", "hmac-secret"]
    assert str(info.aaguid) == "2fc0579f-8113-47ea-b116-bb5a8db9202a"
    assert info.options == {"rk": True, "up": True, "plat": False, "clientPin": False, "credentialMgmtPreview": True}
    assert (info.max_msg_size, info.max_creds_in_list, info.max_cred_id_length) == (1200, 8, 128)
    assert info.pin_uv_protocols == [2, 1] and info.transports == ["nfc", "usb"]
    assert info.firmware_version == 0x050403 and info.min_pin_length == 4
    # Its limits and commands: ES384 is not offered; credential management is the preview command.
    with pytest.raises(CtapError) as e:
        make(ctap2, key_params=[{"type": "public-key", "alg": -35}])
    assert e.value.code == CtapError.ERR.UNSUPPORTED_ALGORITHM
    with pytest.raises(CtapError) as e:
        ctap2.selection()
    assert e.value.code == CtapError.ERR.INVALID_COMMAND
    ClientPin(ctap2).set_pin("123456")
    client_pin = ClientPin(ctap2, PinProtocolV2())
    token = client_pin.get_pin_token("123456", ClientPin.PERMISSION.MAKE_CREDENTIAL)
    make(ctap2, rk=True, token=token, proto=client_pin.protocol)
    token = client_pin.get_pin_token("123456", ClientPin.PERMISSION.CREDENTIAL_MGMT)
    assert CredentialManagement(Ctap2(d.device()), client_pin.protocol, token).get_metadata()[1] == 1  # existing: 1


def test_the_yubikey_5_7_profile_is_what_a_yubikey_5_7_1_publishes(start_daemon):
    """Values from Get-YubikeyFIDO2 of a YubiKey 5.7 (virot/powershellYK, docs/profiles.md)."""
    d = start_daemon("--profile", "yubikey-5-nfc-5.7")
    info = Ctap2(d.device()).get_info()
    assert sorted(info.versions) == sorted(["U2F_V2", "FIDO_2_0", "FIDO_2_1_PRE", "FIDO_2_1"])
    assert {"credProtect", "hmac-secret", "largeBlobKey", "credBlob"} <= set(info.extensions)
    assert str(info.aaguid) == "a25342c0-3cdc-4414-8e46-f4807fca511c"
    assert {k: info.options[k] for k in ("rk", "up", "plat", "alwaysUv")} == {"rk": True, "up": True, "plat": False, "alwaysUv": False}
    assert (info.max_msg_size, info.max_creds_in_list, info.max_cred_id_length) == (1280, 8, 128)
    assert info.pin_uv_protocols == [2, 1] and info.transports == ["nfc", "usb"]
    assert [a["alg"] for a in info.algorithms] == [-7, -8, -35]
    assert (info.max_large_blob, info.force_pin_change, info.min_pin_length) == (4096, False, 4)
    assert info.firmware_version == 329473 and d.device().device_version == (5, 7, 1)
    assert (info.max_cred_blob_length, info.max_rpids_for_min_pin, info.remaining_disc_creds) == (32, 1, 100)
    assert not info.preferred_platform_uv_attempts and not info.uv_modality


def test_the_solokey_profile_is_what_solo1_firmware_4_1_5_answers(start_daemon):
    """Values from solokeys/solo1's source, each cited in docs/profiles.md."""
    d = start_daemon("--profile", "solokey-1")
    dev = d.device()
    assert dev.device_version == (4, 1, 5)
    ctap2 = Ctap2(dev)
    info = ctap2.get_info()
    assert info.versions == ["U2F_V2", "FIDO_2_0", "FIDO_2_1_PRE"]
    assert info.extensions == ["credProtect", "hmac-secret"]
    assert str(info.aaguid) == "8876631b-d4a0-427f-5773-0ec71c9e0279"
    assert info.options == {"rk": True, "up": True, "plat": False, "credMgmt": True, "clientPin": False}
    assert (info.max_msg_size, info.max_creds_in_list, info.max_cred_id_length) == (1200, 20, 128)
    assert info.pin_uv_protocols == [1]
    # ctap_get_info writes eight members: no transports, algorithms, minPINLength or firmwareVersion.
    raw = cbor.decode(dev.call(CTAPHID.CBOR, b"\x04")[1:])
    assert sorted(raw) == [1, 2, 3, 4, 5, 6, 7, 8]
    assert "USB id 0483:a2ca" in d.banner
    # It signs EdDSA although getInfo does not say so; it has no authenticatorSelection.
    make(ctap2, key_params=[{"type": "public-key", "alg": -8}])
    with pytest.raises(CtapError) as e:
        ctap2.selection()
    assert e.value.code == CtapError.ERR.INVALID_COMMAND
    # credMgmt: python-fido2 manages credentials with command 0x0A, under a getPinToken token (PIN protocol 1).
    ClientPin(ctap2).set_pin("123456")
    client_pin = ClientPin(ctap2, PinProtocolV1())
    make(ctap2, rk=True, token=client_pin.get_pin_token("123456"), proto=client_pin.protocol)
    metadata = CredentialManagement(Ctap2(d.device()), client_pin.protocol, client_pin.get_pin_token("123456")).get_metadata()
    assert (metadata[1], metadata[2]) == (1, 49)
    assert "CTAP credentialManagement ->" in d.log_text()
    # and 0x41 exists as well: without a pinUvAuthParam it is refused as the command, not as unknown.
    reply = dev.call(CTAPHID.CBOR, b"\x41" + cbor.encode({1: 1}))
    assert reply[0] == CtapError.ERR.PUAT_REQUIRED


def test_a_key_holds_as_many_passkeys_as_its_profile_says(start_daemon, tmp_path):
    small = profile("ctap2.0")
    small.update(name="tiny", maxResidentCredentials=2)
    path = tmp_path / "tiny.json"
    path.write_text(json.dumps(small))
    ctap2 = Ctap2(start_daemon("--profile", str(path)).device())
    make(ctap2, rk=True, user=user(1))
    make(ctap2, rk=True, user=user(2))
    with pytest.raises(CtapError) as e:
        make(ctap2, rk=True, user=user(3))
    assert e.value.code == CtapError.ERR.KEY_STORE_FULL


def test_the_u2f_only_profile_has_no_ctap2(start_daemon):
    dev = start_daemon("--profile", "u2f-only").device()
    assert not dev.capabilities & CAPABILITY.CBOR


@pytest.mark.parametrize("change, message", [
    ({"algorithms": ["ES512"]}, 'algorithms: vfido cannot sign "ES512"'),
    ({"protocol": "ctap3"}, 'protocol must be one of'),
    ({"aaguid": "xyz"}, "aaguid must be 16 bytes of hex"),
    ({"bogus": 1}, 'unknown field "bogus"'),
    ({"usb": {"vendorId": "1050", "productId": "0407", "manufacturer": "Y", "product": "K", "serial": "1"}}, 'unknown field "usb.serial"'),
    ({"firmwareVersion": "5.4"}, "firmwareVersion must be major.minor.build"),
    ({"pinUvAuthProtocols": [2], "protocol": "ctap2"}, "protocol 2 needs protocol ctap2_1_pre or ctap2_1"),
    ({"maxMsgSize": "big"}, "field maxMsgSize has the wrong type"),
    ({"credentialManagementOption": "credMan"}, "credentialManagementOption must be credentialMgmtPreview or credMgmt"),
    ({"credentialManagementOption": "credMgmt", "protocol": "ctap2_1", "pinUvAuthProtocols": [1, 2]},
     "credentialManagementOption is for protocol ctap2_1_pre only"),
    ({"getInfoOmits": ["versions"]}, 'getInfoOmits: "versions" is not an optional getInfo member'),
    ({"extraVersions": ["FIDO_2_2"]}, "extraVersions can only be"),
])
def test_a_broken_profile_file_is_refused_with_the_field_named(tmp_path, change, message):
    p = profile("yubikey-5-nfc-5.4")
    p.update(change)
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(p))
    checked = subprocess.run([str(VFIDO), "profile", "check", str(path)], capture_output=True, text=True, timeout=30)
    assert checked.returncode == 2 and message in checked.stderr and str(path) in checked.stderr, checked.stderr
    served = subprocess.run([str(VFIDO), "serve", "--ephemeral", "--no-usbip", "--no-rp", "--no-api", "--udp", "127.0.0.1:0",
                             "--profile", str(path)], capture_output=True, text=True, timeout=30)
    assert served.returncode == 2 and message in served.stderr


def test_an_unknown_profile_name_lists_the_built_in_ones():
    out = subprocess.run([str(VFIDO), "profile", "show", "yubikey-9"], capture_output=True, text=True, timeout=30)
    assert out.returncode == 2 and "yubikey-5-nfc-5.4" in out.stderr and "ctap2.0" in out.stderr


def test_quirk_reject_large_allow_lists(start_daemon):
    ctap2 = Ctap2(start_daemon("--quirk", "reject-large-allow-lists").device())
    nine = [{"type": "public-key", "id": bytes([i]) * 32} for i in range(9)]
    with pytest.raises(CtapError) as e:
        ctap2.get_assertion("example.com", b"\0" * 32, nine)
    assert e.value.code == CtapError.ERR.LIMIT_EXCEEDED
    with pytest.raises(CtapError) as e:
        ctap2.get_assertion("example.com", b"\0" * 32, nine[:8])  # within the limit: read, and nothing found
    assert e.value.code == CtapError.ERR.NO_CREDENTIALS
    with pytest.raises(CtapError) as e:
        make(ctap2, exclude_list=nine)
    assert e.value.code == CtapError.ERR.LIMIT_EXCEEDED
    make(ctap2, exclude_list=nine[:8])


def test_quirk_reject_silent_requests_from_a_profile_file(start_daemon, tmp_path):
    p = profile("vfido")
    p.update(name="no-silent", quirks={"rejectSilentRequests": True})
    path = tmp_path / "no-silent.json"
    path.write_text(json.dumps(p))
    ctap2 = Ctap2(start_daemon("--profile", str(path)).device())
    made = make(ctap2)
    allow = [{"type": "public-key", "id": made.auth_data.credential_data.credential_id}]
    with pytest.raises(CtapError) as e:
        ctap2.get_assertion("example.com", b"\0" * 32, allow, options={"up": False})
    assert e.value.code == CtapError.ERR.UNSUPPORTED_OPTION
    assert ctap2.get_assertion("example.com", b"\0" * 32, allow).auth_data.flags & 0x01
    p["quirks"] = {"rejectSilently": True}
    path.write_text(json.dumps(p))
    checked = subprocess.run([str(VFIDO), "profile", "check", str(path)], capture_output=True, text=True, timeout=30)
    assert checked.returncode == 2 and 'unknown field "quirks.rejectSilently"' in checked.stderr


def test_processing_delay_sends_keepalives_at_the_chosen_interval(start_daemon):
    """A 2.5 s processing delay with KEEPALIVE every second: at least one, and at most one per
    second of the call as this side measured it (a bound that holds however loaded the machine is)."""
    import time
    from fido2.hid import CTAPHID
    dev = start_daemon("--processing-delay", "2500", "--keepalive-interval", "1000").device()
    seen = []
    started = time.monotonic()
    response = dev.call(CTAPHID.CBOR, b"\x04", on_keepalive=seen.append)
    elapsed = time.monotonic() - started
    assert response[0] == 0 and 1 <= len(seen) <= int(elapsed) + 1, (seen, elapsed)
    assert all(status == 1 for status in seen)  # PROCESSING


def test_quirk_getinfo_2_0_hides_the_claims_not_the_commands(start_daemon):
    ctap2 = Ctap2(start_daemon("--quirk", "getinfo-2.0").device())
    info = ctap2.get_info()
    assert info.versions == ["U2F_V2", "FIDO_2_0"] and info.pin_uv_protocols == [1]
    assert "credMgmt" not in info.options and "pinUvAuthToken" not in info.options
    ctap2.selection()  # a 2.1 command, still there
