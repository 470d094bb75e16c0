"""Independent verifiers: python-fido2's Fido2Server and py_webauthn, both fed what a browser
would hand a relying party."""
from __future__ import annotations

import base64
import subprocess
from pathlib import Path

import webauthn
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from fido2.attestation import AttestationVerifier
from fido2.client import DefaultClientDataCollector, Fido2Client, UserInteraction
from fido2.server import Fido2Server
from fido2.webauthn import PublicKeyCredentialParameters, PublicKeyCredentialType
from webauthn.helpers.structs import AttestationFormat

ORIGIN = "https://example.com"
RP = {"id": "example.com", "name": "Example RP"}


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def attestation_root_pem(vfido: Path, state: Path) -> bytes:
    out = subprocess.run([str(vfido), "attestation", "root", "--state", str(state)], check=True, capture_output=True)
    return out.stdout


class RootVerifier(AttestationVerifier):
    """python-fido2's attestation check, trusting only vfido's exported root."""

    def __init__(self, root_pem: bytes):
        super().__init__()
        self.root_der = x509.load_pem_x509_certificate(root_pem).public_bytes(Encoding.DER)

    def ca_lookup(self, attestation_result, auth_data):
        return self.root_der


def client(device, origin: str = ORIGIN) -> Fido2Client:
    return Fido2Client(device, DefaultClientDataCollector(origin), UserInteraction())


def server(algorithms: list[int] | None = None, root_pem: bytes | None = None) -> Fido2Server:
    s = Fido2Server(RP, attestation="direct", verify_attestation=RootVerifier(root_pem) if root_pem else None)
    if algorithms:
        s.allowed_algorithms = [PublicKeyCredentialParameters(type=PublicKeyCredentialType.PUBLIC_KEY, alg=a) for a in algorithms]
    return s


def registration_json(reg) -> dict:
    return {
        "id": b64url(reg.raw_id),
        "rawId": b64url(reg.raw_id),
        "type": "public-key",
        "response": {
            "clientDataJSON": b64url(bytes(reg.response.client_data)),
            "attestationObject": b64url(bytes(reg.response.attestation_object)),
        },
    }


def assertion_json(resp) -> dict:
    r = resp.response
    out = {
        "id": b64url(resp.raw_id),
        "rawId": b64url(resp.raw_id),
        "type": "public-key",
        "response": {
            "clientDataJSON": b64url(bytes(r.client_data)),
            "authenticatorData": b64url(bytes(r.authenticator_data)),
            "signature": b64url(r.signature),
        },
    }
    if r.user_handle:
        out["response"]["userHandle"] = b64url(r.user_handle)
    return out


def py_webauthn_register(reg, challenge: bytes, root_pem: bytes | None):
    roots = {AttestationFormat.PACKED: [root_pem]} if root_pem else None
    return webauthn.verify_registration_response(
        credential=registration_json(reg), expected_challenge=challenge, expected_rp_id=RP["id"],
        expected_origin=ORIGIN, pem_root_certs_bytes_by_fmt=roots)


def py_webauthn_authenticate(resp, challenge: bytes, public_key: bytes, sign_count: int):
    return webauthn.verify_authentication_response(
        credential=assertion_json(resp), expected_challenge=challenge, expected_rp_id=RP["id"],
        expected_origin=ORIGIN, credential_public_key=public_key, credential_current_sign_count=sign_count)
