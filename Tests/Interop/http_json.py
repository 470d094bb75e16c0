"""One HTTP call to the relying party (JSON or form body, bearer token), standard library only:
shared by the interop tests and the kernel tier's host script."""
from __future__ import annotations

import base64
import json
import urllib.error
import urllib.parse
import urllib.request


def call(base: str, method: str, path: str, body=None, token: str | None = None, form=False) -> tuple[int, dict]:
    """(status, JSON answer); a non-JSON answer comes back as {"_text": ...}."""
    headers = {}
    data = None
    if body is not None:
        if form:
            data = urllib.parse.urlencode(body, quote_via=urllib.parse.quote).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        else:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(base + path, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as r:
            status, text = r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        status, text = e.code, e.read().decode()
    return status, json.loads(text) if text.startswith(("{", "[")) else {"_text": text}


def b64decode(text: str) -> bytes:
    """base64url or standard base64, padded or not."""
    text = text.replace("-", "+").replace("_", "/")
    return base64.b64decode(text + "=" * (-len(text) % 4))


def jwt_claims(token: str) -> dict:
    """A JWT's payload (signatures are checked where it matters, with the RP's JWKS)."""
    return json.loads(b64decode(token.split(".")[1]))
