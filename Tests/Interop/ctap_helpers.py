"""Small helpers shared by the CTAP 2.1 feature tests: raw CTAP2 calls through python-fido2's
Ctap2, tokens from its ClientPin (its own protocol crypto, independent of vfido's)."""
from __future__ import annotations

import hashlib
import os

from fido2.ctap2 import Ctap2
from fido2.ctap2.pin import ClientPin, PinProtocolV1, PinProtocolV2

PROTOCOLS = {"v1": PinProtocolV1, "v2": PinProtocolV2}
RP_ID = "example.com"
RP = {"id": RP_ID, "name": "Example RP"}
ES256 = [{"type": "public-key", "alg": -7}]
PIN = "1234"


def cdh(label: bytes = b"client data") -> bytes:
    return hashlib.sha256(label).digest()


def user(n: int = 1) -> dict:
    return {"id": bytes([n]) * 8, "name": f"user{n}", "displayName": f"User {n}"}


def make(ctap2: Ctap2, rk=False, extensions=None, token=None, proto=None, options=None, rp=RP, **kw):
    opts = dict(options or {})
    if rk:
        opts["rk"] = True
    param = proto.authenticate(token, cdh()) if token else None
    return ctap2.make_credential(cdh(), rp, kw.pop("user", user()), kw.pop("key_params", ES256), extensions=extensions,
                                 options=opts or None, pin_uv_param=param,
                                 pin_uv_protocol=proto.VERSION if token else None, **kw)


def assert_one(ctap2: Ctap2, credential_id: bytes | None = None, extensions=None, token=None, proto=None, options=None,
               rp_id=RP_ID, label=b"client data"):
    allow = [{"type": "public-key", "id": credential_id}] if credential_id else None
    param = proto.authenticate(token, cdh(label)) if token else None
    return ctap2.get_assertion(rp_id, cdh(label), allow, extensions=extensions, options=options, pin_uv_param=param,
                               pin_uv_protocol=proto.VERSION if token else None)


def token(ctap2: Ctap2, proto_cls=PinProtocolV2, permissions=None, rp_id=None, pin=PIN) -> tuple[bytes, object]:
    proto = proto_cls()
    cp = ClientPin(ctap2, proto)
    perms = permissions if permissions is not None else ClientPin.PERMISSION.MAKE_CREDENTIAL | ClientPin.PERMISSION.GET_ASSERTION
    return cp.get_pin_token(pin, perms, rp_id), proto


def random_salt() -> bytes:
    return os.urandom(32)
