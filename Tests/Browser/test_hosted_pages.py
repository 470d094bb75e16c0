"""Tier 6: real headless Chromium, with its DevTools virtual authenticator, runs the RP's hosted
registration page, hosted login page and demo page. The RP is `vfido rp serve`."""
from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "Interop"))
from cdp import Chromium  # noqa: E402
from conftest import VFIDO, free_tcp_port  # noqa: E402  (Tests/Interop/conftest.py)
from rp_helpers import API, CLIENT_ID, CLIENT_SECRET, RP, jwt_claims  # noqa: E402


class RPProcess:
    """`vfido rp serve` on a free port, shaped like the interop Daemon for rp_helpers.RP."""

    def __init__(self, tmp_path):
        self.rp_port = free_tcp_port()
        self.rp_url = f"http://localhost:{self.rp_port}"
        self.log = open(tmp_path / "rp.log", "wb")
        self.proc = subprocess.Popen([str(VFIDO), "rp", "serve", "--rp", f"127.0.0.1:{self.rp_port}",
                                      "--rp-database", str(tmp_path / "rp.sqlite3")],
                                     stdout=subprocess.PIPE, stderr=self.log, text=True)
        deadline = time.time() + 30
        while time.time() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                raise RuntimeError(f"vfido rp serve exited: {(tmp_path / 'rp.log').read_text()}")
            if line.startswith("Stop with"):
                return
        raise RuntimeError("vfido rp serve did not start")

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        assert self.proc.wait(10) == 0
        self.log.close()


@pytest.fixture
def rp(tmp_path):
    process = RPProcess(tmp_path)
    yield RP(process)
    process.stop()


@pytest.fixture
def browser():
    chromium = Chromium()
    chromium.send("WebAuthn.enable", enableUI=False)
    chromium.authenticator = chromium.send("WebAuthn.addVirtualAuthenticator", options={
        "protocol": "ctap2", "ctap2Version": "ctap2_1", "transport": "usb", "hasResidentKey": True,
        "hasUserVerification": True, "isUserVerified": True, "automaticPresenceSimulation": True})["authenticatorId"]
    yield chromium
    chromium.close()


def visit(browser: Chromium, url: str, until_prefix: str) -> dict:
    """Opens url and waits until the page has sent the browser to until_prefix; returns its query."""
    started = time.time()
    browser.send("Page.navigate", url=url)
    href = browser.wait_for(f"location.href.startsWith({until_prefix!r}) && location.href", timeout=60,
                            failure="document.getElementById('error') && document.getElementById('error').textContent")
    print(f"STEP {time.time() - started:.2f} {urlparse(url).path} -> {urlparse(href).path}")
    return {k: v[0] for k, v in parse_qs(urlparse(href).query).items()}


def test_hosted_registration_then_hosted_login(rp, browser):
    done = f"{rp.base}/demo/echo"
    token = rp.ok(f"POST {API}/external/register/hosted/hint", {"external_user_id": "ext-alice", "username": "alice",
                                                                 "redirect_uri": done}, token=rp.client_token)["register_webauthn_cred_token"]
    query = visit(browser, f"{rp.base}/cis/hosted/passkey/passkey-registration?register_webauthn_cred_token={token}", done)
    assert set(query) == {"user_identifier", "external_user_id", "credential_id", "register_webauthn_cred_token"}
    assert query["user_identifier"] == "alice" and query["external_user_id"] == "ext-alice"
    assert query["register_webauthn_cred_token"] == token
    [user] = rp.users()
    assert user["username"] == "alice" and [c["credential_id"] for c in user["credentials"]] == [query["credential_id"]]
    # The credential is the one in Chromium's virtual authenticator.
    held = browser.send("WebAuthn.getCredentials", authenticatorId=browser.authenticator)["credentials"]
    assert [c["credentialId"].replace("+", "-").replace("/", "_").rstrip("=") for c in held] == [query["credential_id"]]

    query = visit(browser, f"{rp.base}/cis/oidc/auth?response_type=code&client_id={CLIENT_ID}&scope=openid"
                           f"&redirect_uri={done}&login_hint=alice&state=st-1", done)
    assert query["state"] == "st-1"
    status, tokens = rp.post("/oidc/token", {"grant_type": "authorization_code", "code": query["code"], "client_id": CLIENT_ID,
                                             "client_secret": CLIENT_SECRET, "redirect_uri": done}, form=True)
    assert status == 200 and {"access_token", "id_token", "refresh_token"} <= set(tokens)
    assert jwt_claims(tokens["id_token"])["webauthn_username"] == "alice"
    assert rp.credentials()[0]["last_used"]


def test_demo_page_registers_and_signs_in(rp, browser):
    visit(browser, f"{rp.base}/", rp.base)
    browser.wait_for("!!document.querySelector('button[formaction=\"/demo/register\"]')")
    browser.evaluate("document.getElementById('username').value = 'dora'; "
                     "document.querySelector('button[formaction=\"/demo/register\"]').click()")
    browser.wait_for("document.body.innerText.includes('Passkey registered')", timeout=60,
                     failure="document.getElementById('error') && document.getElementById('error').textContent")
    assert "dora" in browser.evaluate("document.body.innerText")
    browser.send("Page.navigate", url=f"{rp.base}/")
    browser.wait_for("location.pathname === '/' && !!document.getElementById('username')")
    browser.evaluate("document.getElementById('username').value = ''; "
                     "document.querySelector('button[formaction=\"/demo/login\"]').click()")  # discoverable: no username
    text = browser.wait_for("document.body.innerText.includes('Signed in') && document.body.innerText", timeout=60,
                            failure="document.getElementById('error') && document.getElementById('error').textContent")
    assert "dora" in text
