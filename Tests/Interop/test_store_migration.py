"""A real schema-2 store (Tests/Fixtures/store-v2, made by vfido 3dead8b through python-fido2:
see its make.py) opened by this vfido: the migration to schema 3 keeps every credential, the
detached RSA key, the PIN and the device secrets, and python-fido2 checks each one signs under
the public key it was registered with."""
from __future__ import annotations

import json
import shutil
import sqlite3
import sys
from pathlib import Path

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding
from fido2.ctap2 import Ctap2
from fido2.ctap2.credman import CredentialManagement
from fido2.ctap2.pin import ClientPin

from ctap_helpers import cdh

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "clients" / "python"))
from vfido_control import VfidoControl, unb64url  # noqa: E402

FIXTURE = Path(__file__).resolve().parents[1] / "Fixtures" / "store-v2"


def verify(spki: bytes, auth_data: bytes, signature: bytes) -> None:
    key = serialization.load_der_public_key(spki)
    message = auth_data + cdh()
    if isinstance(key, ec.EllipticCurvePublicKey):
        key.verify(signature, message, ec.ECDSA(hashes.SHA256()))
    else:
        key.verify(signature, message, padding.PKCS1v15(), hashes.SHA256())


def test_a_schema_2_store_migrates_with_everything_in_it(start_daemon, tmp_path):
    state = tmp_path / "v2"
    state.mkdir(mode=0o700)
    for name in ("vfido.sqlite3", "storage.key"):
        shutil.copy(FIXTURE / name, state / name)
        (state / name).chmod(0o600)
    recorded = json.loads((FIXTURE / "credentials.json").read_text())
    assert sqlite3.connect(state / "vfido.sqlite3").execute("PRAGMA user_version").fetchone()[0] == 2

    d = start_daemon(state=state)
    ctap2 = Ctap2(d.device())
    by_kind = {c["kind"]: c for c in recorded["credentials"]}

    passkey = by_kind["discoverable"]
    assertion = ctap2.get_assertion(passkey["rpId"], cdh())  # discovered: no allowList
    assert assertion.credential["id"] == unb64url(passkey["credentialId"])
    assert assertion.user["id"] == unb64url(recorded["user"]["id"])
    verify(unb64url(passkey["publicKey"]), bytes(assertion.auth_data), assertion.signature)

    for kind in ("detached RS256", "sealed in the ID"):
        c = by_kind[kind]
        found = ctap2.get_assertion(c["rpId"], cdh(), [{"type": "public-key", "id": unb64url(c["credentialId"])}])
        verify(unb64url(c["publicKey"]), bytes(found.auth_data), found.signature)

    client_pin = ClientPin(ctap2)
    assert client_pin.get_pin_retries()[0] == 8
    token = client_pin.get_pin_token(recorded["pin"], ClientPin.PERMISSION.CREDENTIAL_MGMT)
    rps = CredentialManagement(ctap2, client_pin.protocol, token).enumerate_rps()
    assert [rp[3]["id"] for rp in rps] == ["passkey.example"]

    # Migrated, and the control API sees the passkey in the new shape.
    assert sqlite3.connect(state / "vfido.sqlite3").execute("PRAGMA user_version").fetchone()[0] == 3
    listed = VfidoControl.for_state(state).credentials(1)
    assert [(c["rpId"], c["isResidentCredential"], c["userName"]) for c in listed] == [("passkey.example", True, "alice")]
