"""Talking to vfido's bundled relying party over HTTP, with python-fido2's Fido2Client as the
browser: the key answers over UDP, the RP verifies, py_webauthn cross-checks."""
from __future__ import annotations

import base64
import json

from fido2 import cbor
from fido2.client import DefaultClientDataCollector, Fido2Client, UserInteraction
from fido2.webauthn import PublicKeyCredentialCreationOptions, PublicKeyCredentialRequestOptions

from http_json import b64decode, call, jwt_claims  # noqa: F401  (re-exported to the tests)
from webauthn_oracles import assertion_json, b64url, registration_json

CLIENT_ID = "vfido-demo"
CLIENT_SECRET = "vfido-demo-secret"
API = "/cis/v1/auth/webauthn"


class RP:
    """The bundled RP of a running daemon."""

    def __init__(self, daemon):
        self.daemon = daemon
        self.base = daemon.rp_url
        self.origin = daemon.rp_url
        self.client_token = self.post("/oidc/token", {"grant_type": "client_credentials", "client_id": CLIENT_ID,
                                                      "client_secret": CLIENT_SECRET})[1]["access_token"]

    def request(self, method: str, path: str, body=None, token: str | None = None, form=False) -> tuple[int, dict]:
        return call(self.base, method, path, body, token, form)

    def post(self, path, body=None, token=None, form=False):
        return self.request("POST", path, body if body is not None else {}, token, form)

    def get(self, path, token=None):
        return self.request("GET", path, None, token)

    def ok(self, method_path: str, body=None, token=None) -> dict:
        method, path = method_path.split(" ", 1)
        status, answer = self.request(method, path, body if method == "POST" else None, token)
        assert status == 200, (method_path, status, answer)
        return answer

    def users(self) -> list[dict]:
        return self.ok("GET /cis/v1/users", token=self.client_token)["users"]

    def credentials(self) -> list[dict]:
        return [c for u in self.users() for c in u["credentials"]]

    def browser(self, origin: str | None = None) -> Fido2Client:
        collector = DefaultClientDataCollector(origin or self.origin, verify=lambda rp_id, o: True)
        return Fido2Client(self.daemon.device(), collector, UserInteraction())

    # python-fido2 refuses userVerification "preferred" on a key that has clientPin but no PIN
    # set (a browser would go ahead without UV), so the tests' browser asks for "discouraged".
    def create(self, options: dict, origin: str | None = None):
        selection = {**options.get("authenticatorSelection", {}), "userVerification": "discouraged"}
        return self.browser(origin).make_credential(PublicKeyCredentialCreationOptions.from_dict(
            {**options, "authenticatorSelection": selection}))

    def select(self, options: dict, origin: str | None = None):
        return self.browser(origin).get_assertion(PublicKeyCredentialRequestOptions.from_dict(
            {**options, "userVerification": "discouraged"}))

    def get_assertion(self, options: dict, origin: str | None = None):
        return self.select(options, origin).get_response(0)


def sdk_wrapper(session_id: str, credential_json: dict) -> str:
    """The Mosaic SDK's webauthn_encoded_result: base64(JSON), binary fields in standard base64."""
    def std(value: str) -> str:
        return base64.b64encode(b64decode(value)).decode()
    cred = json.loads(json.dumps(credential_json))
    cred["rawId"] = std(cred["rawId"])
    cred["response"] = {k: std(v) for k, v in cred["response"].items()}
    return base64.b64encode(json.dumps({"webauthnSessionId": session_id, "publicKeyCredential": cred,
                                        "userAgent": "python-fido2"}).encode()).decode()


def registered_json(reg) -> dict:
    return registration_json(reg)


def asserted_json(resp) -> dict:
    return assertion_json(resp)


def with_auth_data(credential: dict, change) -> dict:
    """A copy of a credential JSON whose authenticator data went through change(bytearray)."""
    out = json.loads(json.dumps(credential))
    if "attestationObject" in out["response"]:
        obj = cbor.decode(b64decode(out["response"]["attestationObject"]))
        data = bytearray(obj["authData"])
        change(data)
        obj["authData"] = bytes(data)
        out["response"]["attestationObject"] = b64url(cbor.encode(obj))
    else:
        data = bytearray(b64decode(out["response"]["authenticatorData"]))
        change(data)
        out["response"]["authenticatorData"] = b64url(bytes(data))
    return out


def with_signature_flipped(credential: dict) -> dict:
    out = json.loads(json.dumps(credential))
    if "attestationObject" in out["response"]:
        obj = cbor.decode(b64decode(out["response"]["attestationObject"]))
        sig = bytearray(obj["attStmt"]["sig"])
        sig[-1] ^= 0x01
        obj["attStmt"]["sig"] = bytes(sig)
        out["response"]["attestationObject"] = b64url(cbor.encode(obj))
    else:
        sig = bytearray(b64decode(out["response"]["signature"]))
        sig[-1] ^= 0x01
        out["response"]["signature"] = b64url(bytes(sig))
    return out
