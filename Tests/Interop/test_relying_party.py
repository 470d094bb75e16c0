"""The bundled relying party, driven over HTTP with python-fido2's Fido2Client as the browser and
vfido (over UDP) as the key. Every credential the RP accepts, py_webauthn accepts too; every
tampered one both refuse, and the RP stores nothing."""
from __future__ import annotations

import base64
import os
import socket
import time

import pytest
import webauthn
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from rp_helpers import (API, CLIENT_ID, CLIENT_SECRET, RP, asserted_json, b64decode, call, jwt_claims, registered_json,
                        sdk_wrapper, with_auth_data, with_signature_flipped)


@pytest.fixture
def rp(start_daemon):
    return RP(start_daemon())


def register(rp: RP, username: str, external: str | None = None, wrapper=True, rk=True):
    start = rp.ok(f"POST {API}/register/start", {"client_id": CLIENT_ID, "username": username})
    options = start["credential_creation_options"]
    if rk:
        options["authenticatorSelection"]["residentKey"] = "required"
    reg = rp.create(options)
    cred = registered_json(reg)
    encoded = sdk_wrapper(start["webauthn_session_id"], cred) if wrapper else cred
    done = rp.ok(f"POST {API}/external/register", {"webauthn_encoded_result": encoded,
                                                   "external_user_id": external or f"ext-{username}"}, token=rp.client_token)
    return start, reg, cred, done


def login(rp: RP, username: str | None = None, approval_data=None):
    body = {"client_id": CLIENT_ID}
    if username:
        body["username"] = username
    if approval_data:
        body["approval_data"] = approval_data
    start = rp.ok(f"POST {API}/authenticate/start", body)
    resp = rp.get_assertion(start["credential_request_options"])
    return start, resp, asserted_json(resp)


def verify_jwt(rp: RP, token: str) -> dict:
    """Checks an RP token's ES256 signature with the RP's published JWKS (cryptography, not our code)."""
    jwk = rp.ok("GET /cis/oidc/jwks")["keys"][0]
    public = ec.EllipticCurvePublicNumbers(int.from_bytes(b64decode(jwk["x"]), "big"), int.from_bytes(b64decode(jwk["y"]), "big"),
                                           ec.SECP256R1()).public_key()
    header, payload, signature = token.split(".")
    raw = b64decode(signature)
    der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    public.verify(der, f"{header}.{payload}".encode(), ec.ECDSA(hashes.SHA256()))
    return jwt_claims(token)


def py_webauthn_registration(rp: RP, cred: dict, challenge_b64: str):
    return webauthn.verify_registration_response(credential=cred, expected_challenge=b64decode(challenge_b64),
                                                 expected_rp_id="localhost", expected_origin=rp.origin)


def py_webauthn_assertion(rp: RP, cred: dict, challenge_b64: str, public_key: bytes, sign_count: int):
    return webauthn.verify_authentication_response(credential=cred, expected_challenge=b64decode(challenge_b64),
                                                   expected_rp_id="localhost", expected_origin=rp.origin,
                                                   credential_public_key=public_key, credential_current_sign_count=sign_count)


# --- the happy paths -------------------------------------------------------------------------------

def test_register_then_login_with_tokens_both_verifiers_agree(rp):
    start, reg, cred, done = register(rp, "alice")
    assert done["username"] == "alice" and done["external_user_id"] == "ext-alice"
    assert done["credential_id"] == cred["id"]
    verified = py_webauthn_registration(rp, cred, start["credential_creation_options"]["challenge"])
    [stored] = rp.credentials()
    assert stored["credential_id"] == cred["id"] and stored["attestation_format"] == "packed"
    assert stored["aaguid"] == "766669646f2d4b6579219a1e5c0fe17a" and stored["algorithm"] == -7

    start, resp, assertion = login(rp, "alice")
    assert [c["id"] for c in start["credential_request_options"]["allowCredentials"]] == [cred["id"]]
    py_webauthn_assertion(rp, assertion, start["credential_request_options"]["challenge"],
                          verified.credential_public_key, stored["sign_count"])
    tokens = rp.ok(f"POST {API}/authenticate", {"webauthn_encoded_result": sdk_wrapper(start["webauthn_session_id"], assertion)},
                   token=rp.client_token)
    assert set(tokens) == {"access_token", "id_token", "refresh_token", "token_type", "expires_in", "session_id"}
    assert tokens["token_type"] == "Bearer" and tokens["expires_in"] > 0
    id_claims = verify_jwt(rp, tokens["id_token"])
    assert id_claims["webauthn_username"] == "alice" and id_claims["aud"] == CLIENT_ID
    assert id_claims["session_id"] == tokens["session_id"]
    assert verify_jwt(rp, tokens["access_token"])["token_use"] == "user"
    assert rp.credentials()[0]["sign_count"] > stored["sign_count"]


def test_bare_tojson_credential_and_approval_data_claim(rp):
    register(rp, "alice", wrapper=False)
    approval = {"transaction_id": "tx-1", "sum": "200"}
    start, resp, assertion = login(rp, "alice", approval_data=approval)
    assert "rawChallenge" in start["credential_request_options"]
    tokens = rp.ok(f"POST {API}/authenticate", {"webauthn_encoded_result": assertion}, token=rp.client_token)
    assert verify_jwt(rp, tokens["id_token"])["approval_data"] == approval


def test_usernameless_login_picks_among_several_accounts(rp):
    for name in ("alice", "bob"):
        register(rp, name)
    start = rp.ok(f"POST {API}/authenticate/start", {"client_id": CLIENT_ID})
    assert start["credential_request_options"]["allowCredentials"] == []
    selection = rp.select(start["credential_request_options"])
    assert len(selection.get_assertions()) == 2
    names = set()
    for i in range(2):
        if i:
            start = rp.ok(f"POST {API}/authenticate/start", {"client_id": CLIENT_ID})
            selection = rp.select(start["credential_request_options"])
        tokens = rp.ok(f"POST {API}/authenticate", {"webauthn_encoded_result": asserted_json(selection.get_response(i))},
                       token=rp.client_token)
        names.add(verify_jwt(rp, tokens["id_token"])["webauthn_username"])
    assert names == {"alice", "bob"}


def test_logged_in_registration_needs_the_users_access_token(rp):
    register(rp, "alice")
    _, _, assertion = login(rp, "alice")
    tokens = rp.ok(f"POST {API}/authenticate", {"webauthn_encoded_result": assertion}, token=rp.client_token)
    start = rp.ok(f"POST {API}/register/start", {"client_id": CLIENT_ID, "username": "alice",
                                                 "limit_single_credential_to_device": True})
    assert len(start["credential_creation_options"]["excludeCredentials"]) == 1
    options = start["credential_creation_options"]
    options["excludeCredentials"] = []  # a second credential on the same key, for the test
    cred = registered_json(rp.create(options))
    body = {"webauthn_encoded_result": cred}
    assert rp.post(f"{API}/register", body)[0] == 401
    status, answer = rp.post(f"{API}/register", body, token=rp.client_token)
    assert (status, answer["error_code"]) == (401, "unauthorized")
    assert rp.post(f"{API}/register", body, token="not-a-jwt")[0] == 401
    done = rp.ok(f"POST {API}/register", body, token=tokens["access_token"])
    assert done["username"] == "alice" and len(rp.users()[0]["credentials"]) == 2


# --- tampering ----------------------------------------------------------------------------------------

def flip_rp_id_hash(data: bytearray):
    data[0] ^= 0xFF


def clear_up(data: bytearray):
    data[32] &= ~0x01


def client_inputs(options: dict, tamper: str) -> tuple[dict, str | None]:
    """What the test's browser is given: another challenge, or another origin, for those tampers."""
    if tamper == "challenge":
        options = {**options, "challenge": base64.urlsafe_b64encode(os.urandom(32)).rstrip(b"=").decode()}
    return options, "http://evil.localhost:1" if tamper == "origin" else None


def tampered(cred: dict, tamper: str) -> dict:
    """The credential JSON with one thing changed after the key signed it (challenge, origin and
    unknown-credential tampering happen before: the client is given other inputs)."""
    if tamper == "rpIdHash":
        return with_auth_data(cred, flip_rp_id_hash)
    if tamper == "flags":
        return with_auth_data(cred, clear_up)
    if tamper == "signature":
        return with_signature_flipped(cred)
    return cred


REGISTRATION_TAMPERS = {
    "challenge": "challenge_mismatch",
    "origin": "origin_not_allowed",
    "rpIdHash": "rp_id_hash_mismatch",
    "flags": "user_not_present",
    "signature": "attestation_signature_invalid",
}


@pytest.mark.parametrize("tamper", sorted(REGISTRATION_TAMPERS))
def test_tampered_registration_is_refused_by_the_rp_and_py_webauthn(rp, tamper):
    start = rp.ok(f"POST {API}/register/start", {"client_id": CLIENT_ID, "username": "mallory"})
    reg = rp.create(*client_inputs(start["credential_creation_options"], tamper))
    cred = tampered(registered_json(reg), tamper)
    status, answer = rp.post(f"{API}/external/register", {"webauthn_encoded_result": sdk_wrapper(start["webauthn_session_id"], cred),
                                                          "external_user_id": "m"}, token=rp.client_token)
    assert (status, answer["error_code"]) == (400, REGISTRATION_TAMPERS[tamper]), answer
    assert rp.users() == []
    with pytest.raises(Exception):
        py_webauthn_registration(rp, cred, start["credential_creation_options"]["challenge"])


ASSERTION_TAMPERS = {
    "challenge": "challenge_mismatch",
    "origin": "origin_not_allowed",
    "rpIdHash": "rp_id_hash_mismatch",
    "flags": "user_not_present",
    "signature": "signature_invalid",
    "unknown credential": "unknown_credential",
}


@pytest.mark.parametrize("tamper", sorted(ASSERTION_TAMPERS))
def test_tampered_assertion_is_refused_by_the_rp_and_py_webauthn(rp, tamper):
    reg_start, _, reg_cred, _ = register(rp, "alice")
    public_key = py_webauthn_registration(rp, reg_cred, reg_start["credential_creation_options"]["challenge"]).credential_public_key
    if tamper == "unknown credential":  # a credential of the same key the RP never registered
        other = rp.ok(f"POST {API}/register/start", {"client_id": CLIENT_ID, "username": "ghost"})
        rp.create(other["credential_creation_options"])
    before = rp.users()
    start = rp.ok(f"POST {API}/authenticate/start", {"client_id": CLIENT_ID})
    selection = rp.select(*client_inputs(start["credential_request_options"], tamper))
    responses = [selection.get_response(i) for i in range(len(selection.get_assertions()))]
    wanted = reg_cred["id"] if tamper != "unknown credential" else None
    resp = next(r for r in responses if (asserted_json(r)["id"] == wanted) == (wanted is not None))
    cred = tampered(asserted_json(resp), tamper)
    status, answer = rp.post(f"{API}/authenticate", {"webauthn_encoded_result": sdk_wrapper(start["webauthn_session_id"], cred)},
                             token=rp.client_token)
    assert (status, answer["error_code"]) == (400, ASSERTION_TAMPERS[tamper]), answer
    assert rp.users() == before  # no counter moved, nothing added
    with pytest.raises(Exception):
        py_webauthn_assertion(rp, cred, start["credential_request_options"]["challenge"], public_key, before[0]["credentials"][0]["sign_count"])


def test_replayed_challenge_and_sign_count_regression(rp):
    reg_start, _, reg_cred, _ = register(rp, "alice")
    public_key = py_webauthn_registration(rp, reg_cred, reg_start["credential_creation_options"]["challenge"]).credential_public_key
    first, _, older = login(rp, "alice")
    second, _, newer = login(rp, "alice")
    rp.ok(f"POST {API}/authenticate", {"webauthn_encoded_result": newer}, token=rp.client_token)
    # The same response again: its challenge was used.
    status, answer = rp.post(f"{API}/authenticate", {"webauthn_encoded_result": newer}, token=rp.client_token)
    assert (status, answer["error_code"]) == (400, "webauthn_session_already_used")
    # An older signature (lower counter) on a still-open challenge: a cloned key, says the RP.
    stored = rp.credentials()[0]["sign_count"]
    status, answer = rp.post(f"{API}/authenticate", {"webauthn_encoded_result": older}, token=rp.client_token)
    assert (status, answer["error_code"]) == (400, "sign_count_regression")
    assert rp.credentials()[0]["sign_count"] == stored
    with pytest.raises(Exception, match="(?i)sign count"):
        py_webauthn_assertion(rp, older, first["credential_request_options"]["challenge"], public_key, stored)


def test_expired_session_is_refused_and_nothing_is_stored(start_daemon):
    rp = RP(start_daemon("--rp-ceremony-timeout", "1"))
    start = rp.ok(f"POST {API}/register/start", {"client_id": CLIENT_ID, "username": "slow"})
    cred = registered_json(rp.create(start["credential_creation_options"]))
    time.sleep(1.5)
    status, answer = rp.post(f"{API}/external/register", {"webauthn_encoded_result": cred, "external_user_id": "s"},
                             token=rp.client_token)
    assert (status, answer["error_code"]) == (400, "webauthn_session_expired")
    assert rp.users() == []


# --- cross-device, hosted, auth-session -----------------------------------------------------------------

def test_cross_device_registration_and_login_run_to_success(rp):
    xd = f"{API}/cross-device"
    ticket = rp.ok(f"POST {xd}/external/register/init", {"external_user_id": "ext-carol", "username": "carol"},
                   token=rp.client_token)["cross_device_ticket_id"]
    assert rp.ok(f"GET {xd}/status?cross_device_ticket_id={ticket}")["status"] == "pending"
    attached = rp.ok(f"POST {xd}/attach-device", {"cross_device_ticket_id": ticket})
    assert attached["status"] == "scanned" and attached["started_at"]
    assert rp.ok(f"GET {xd}/status?cross_device_ticket_id={ticket}")["status"] == "scanned"
    start = rp.ok(f"POST {xd}/register/start", {"cross_device_ticket_id": ticket})
    cred = registered_json(rp.create(start["credential_creation_options"]))
    done = rp.ok(f"POST {xd}/register", {"webauthn_encoded_result": sdk_wrapper(start["webauthn_session_id"], cred)})
    assert done["username"] == "carol" and done["external_user_id"] == "ext-carol"
    assert rp.ok(f"GET {xd}/status?cross_device_ticket_id={ticket}")["status"] == "success"

    approval = {"transaction_id": "42"}
    ticket = rp.ok(f"POST {xd}/authenticate/init", {"client_id": CLIENT_ID, "username": "carol",
                                                    "approval_data": approval})["cross_device_ticket_id"]
    assert rp.ok(f"POST {xd}/attach-device", {"cross_device_ticket_id": ticket})["approval_data"] == approval
    start = rp.ok(f"POST {xd}/authenticate/start", {"cross_device_ticket_id": ticket})
    assertion = asserted_json(rp.get_assertion(start["credential_request_options"]))
    rp.ok(f"POST {xd}/authenticate", {"webauthn_encoded_result": assertion})
    status = rp.ok(f"GET {xd}/status?cross_device_ticket_id={ticket}")
    assert status["status"] == "success" and status["session_id"]
    tokens = rp.ok("POST /cis/v1/auth/session/authenticate", {"session_id": status["session_id"]}, token=rp.client_token)
    claims = verify_jwt(rp, tokens["id_token"])
    assert claims["webauthn_username"] == "carol" and claims["approval_data"] == approval


def test_cross_device_abort_error_and_unknown_ticket(rp):
    xd = f"{API}/cross-device"
    register(rp, "dave")
    ticket = rp.ok(f"POST {xd}/authenticate/init", {"client_id": CLIENT_ID})["cross_device_ticket_id"]
    assert rp.ok(f"POST {xd}/abort", {"cross_device_ticket_id": ticket})["status"] == "aborted"
    assert rp.ok(f"GET {xd}/status?cross_device_ticket_id={ticket}")["status"] == "aborted"
    status, answer = rp.post(f"{xd}/authenticate/start", {"cross_device_ticket_id": ticket})
    assert (status, answer["error_code"]) == (400, "cross_device_ticket_closed")
    # A tampered response ends the flow in `error`.
    ticket = rp.ok(f"POST {xd}/authenticate/init", {"client_id": CLIENT_ID, "username": "dave"})["cross_device_ticket_id"]
    start = rp.ok(f"POST {xd}/authenticate/start", {"cross_device_ticket_id": ticket})
    bad = with_signature_flipped(asserted_json(rp.get_assertion(start["credential_request_options"])))
    status, answer = rp.post(f"{xd}/authenticate", {"webauthn_encoded_result": bad})
    assert (status, answer["error_code"]) == (400, "signature_invalid")
    assert rp.ok(f"GET {xd}/status?cross_device_ticket_id={ticket}")["status"] == "error"
    status, answer = rp.get(f"{xd}/status?cross_device_ticket_id=nope")
    assert (status, answer["error_code"]) == (404, "cross_device_ticket_not_found")


def test_cross_device_timeout(start_daemon):
    rp = RP(start_daemon("--rp-ceremony-timeout", "1"))
    ticket = rp.ok(f"POST {API}/cross-device/authenticate/init", {"client_id": CLIENT_ID})["cross_device_ticket_id"]
    time.sleep(1.5)
    assert rp.ok(f"GET {API}/cross-device/status?cross_device_ticket_id={ticket}")["status"] == "timeout"


def test_hosted_registration_and_login_over_http(rp):
    status, answer = rp.post(f"{API}/external/register/hosted/hint", {"external_user_id": "ext-erin", "username": "erin",
                                                                     "redirect_uri": "http://localhost/done"})
    assert (status, answer["error_code"]) == (401, "unauthorized")
    for path in ("external/register/hosted/hint", "external/register/hint"):
        token = rp.ok(f"POST {API}/{path}", {"external_user_id": "ext-erin", "username": "erin",
                                              "redirect_uri": "http://localhost/done?x=1"}, token=rp.client_token)["register_webauthn_cred_token"]
    page = rp.get(f"/cis/hosted/passkey/passkey-registration?register_webauthn_cred_token={token}")[1]["_text"]
    assert "navigator.credentials.create" in page and "webauthn_registration_canceled" in page
    start = rp.ok("POST /cis/hosted/passkey/start", {"register_webauthn_cred_token": token})
    cred = registered_json(rp.create(start["credential_creation_options"]))
    done = rp.ok("POST /cis/hosted/passkey/complete", {"register_webauthn_cred_token": token,
                                                       "webauthn_encoded_result": sdk_wrapper(start["webauthn_session_id"], cred)})
    from urllib.parse import parse_qs, urlparse
    redirect = urlparse(done["redirect_uri"])
    query = {k: v[0] for k, v in parse_qs(redirect.query).items()}
    assert redirect.netloc == "localhost" and redirect.path == "/done"
    assert query == {"x": "1", "user_identifier": "erin", "external_user_id": "ext-erin", "credential_id": cred["id"],
                     "register_webauthn_cred_token": token}
    status, answer = rp.post("/cis/hosted/passkey/start", {"register_webauthn_cred_token": token})
    assert (status, answer["error_code"]) == (400, "register_webauthn_cred_token_used")

    start = rp.ok("POST /cis/oidc/auth/start", {"client_id": CLIENT_ID, "redirect_uri": "http://localhost/cb", "login_hint": "erin",
                                                "state": "s1"})
    assertion = asserted_json(rp.get_assertion(start["credential_request_options"]))
    done = rp.ok("POST /cis/oidc/auth/complete", {"webauthn_encoded_result": assertion})
    query = {k: v[0] for k, v in parse_qs(urlparse(done["redirect_uri"]).query).items()}
    assert query["state"] == "s1"
    form = {"grant_type": "authorization_code", "code": query["code"], "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
            "redirect_uri": "http://localhost/cb"}
    status, tokens = rp.post("/oidc/token", form, form=True)
    assert status == 200 and verify_jwt(rp, tokens["id_token"])["webauthn_username"] == "erin"
    status, answer = rp.post("/oidc/token", form, form=True)
    assert (status, answer["error_code"]) == (400, "invalid_grant")
    status, answer = rp.post("/cis/oidc/auth/start", {"client_id": CLIENT_ID, "redirect_uri": "https://evil.example/"})
    assert (status, answer["error_code"]) == (400, "invalid_redirect_uri")


def test_auth_session_variant(rp):
    sid = rp.ok("POST /cis/v1/auth-session/start-restricted", {"client_id": CLIENT_ID})["auth_session_id"]
    assert rp.ok("POST /cis/v1/auth-session/attach-device", {"auth_session_id": sid})["status"] == "scanned"
    assert rp.ok("POST /cis/v1/auth-session/detach-device", {"auth_session_id": sid})["status"] == "pending"
    start = rp.ok("POST /cis/v1/webauthn/register/start", {"auth_session_id": sid, "user": {"username": "frank"}})
    cred = registered_json(rp.create({**start["credential_creation_options"],
                                      "authenticatorSelection": {"residentKey": "required"}}))
    done = rp.ok("POST /cis/v1/webauthn/register/complete", {"auth_session_id": sid, "webauthn_session_id": start["webauthn_session_id"],
                                                             "public_key_credential": cred})
    assert done["credential"]["credential_id"] == cred["id"] and done["auth_code"]
    assert rp.ok(f"GET /cis/v1/auth-session/status?auth_session_id={sid}")["status"] == "success"

    sid = rp.ok("POST /cis/v1/auth-session/start-restricted", {"client_id": CLIENT_ID})["auth_session_id"]
    start = rp.ok("POST /cis/v1/webauthn/authenticate/passkey/start", {"auth_session_id": sid})
    assertion = asserted_json(rp.get_assertion(start["credential_request_options"]))
    done = rp.ok("POST /cis/v1/webauthn/authenticate/passkey/complete",
                 {"auth_session_id": sid, "webauthn_session_id": start["webauthn_session_id"], "public_key_credential": assertion})
    assert done["credential"]["last_used"]
    status, tokens = rp.post("/oidc/token", {"grant_type": "authorization_code", "code": done["auth_code"], "client_id": CLIENT_ID,
                                             "client_secret": CLIENT_SECRET}, form=True)
    assert status == 200 and verify_jwt(rp, tokens["id_token"])["webauthn_username"] == "frank"


# --- request errors ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("path,body,status,code", [
    (f"{API}/register/start", {"client_id": "nobody", "username": "a"}, 404, "client_not_found"),
    (f"{API}/register/start", {"client_id": CLIENT_ID}, 400, "invalid_request"),
    (f"{API}/register/start", {"client_id": CLIENT_ID, "username": "a", "timeout": 5}, 400, "invalid_request"),
    (f"{API}/authenticate/start", {"client_id": CLIENT_ID, "username": "nobody"}, 404, "user_not_found"),
    (f"{API}/authenticate/start", {"client_id": CLIENT_ID, "approval_data": {f"k{i}": "v" for i in range(11)}}, 400, "invalid_approval_data"),
    (f"{API}/authenticate/start", {"client_id": CLIENT_ID, "approval_data": {"bad key": "v"}}, 400, "invalid_approval_data"),
    (f"{API}/authenticate/start", {"client_id": CLIENT_ID, "approval_data": {"nested": {"a": "b"}}}, 400, "invalid_approval_data"),
    (f"{API}/cross-device/attach-device", {"cross_device_ticket_id": "nope"}, 404, "cross_device_ticket_not_found"),
    ("/oidc/token", {"grant_type": "client_credentials", "client_id": CLIENT_ID, "client_secret": "wrong"}, 401, "invalid_client"),
    ("/oidc/token", {"grant_type": "password", "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}, 400, "unsupported_grant_type"),
])
def test_request_errors_are_precise(rp, path, body, status, code):
    got, answer = rp.post(path, body)
    assert (got, answer.get("error_code")) == (status, code), answer
    assert answer["message"]


@pytest.mark.parametrize("encoded", ["%%%", "e30", base64.b64encode(b'{"response": 1}').decode(), "{not json"])
def test_malformed_encoded_results_are_invalid_encoding(rp, encoded):
    status, answer = rp.post(f"{API}/authenticate", {"webauthn_encoded_result": encoded}, token=rp.client_token)
    assert (status, answer["error_code"]) == (400, "invalid_encoding"), answer


def test_a_claimed_huge_body_is_refused_at_once(daemon):
    """Content-Length: 4 GB and no body: 413 at once, without waiting for bytes that never come."""
    with socket.create_connection(("127.0.0.1", daemon.rp_port), timeout=10) as s:
        s.sendall(b"POST /cis/v1/auth/webauthn/register/start HTTP/1.1\r\nHost: localhost\r\n"
                  b"Content-Type: application/json\r\nContent-Length: 4294967296\r\n\r\n")
        answer = b""
        while b"\r\n\r\n" not in answer:
            chunk = s.recv(4096)
            if not chunk:
                break
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    # An honest request still works on a new connection.
    status, _ = call(daemon.rp_url, "POST", "/oidc/token", {"grant_type": "client_credentials", "client_id": CLIENT_ID,
                                                            "client_secret": CLIENT_SECRET})
    assert status == 200
