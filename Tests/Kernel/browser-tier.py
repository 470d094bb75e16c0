#!/usr/bin/env python3
"""Tier 5c: real Chromium, in the QEMU guest, on vfido attached over USB/IP.

vfido (host) exports one key over USB/IP and runs the bundled RP. The guest attaches the key
(kernel vhci -> usbhid -> hidraw) and runs the host's Chromium headless on the RP's hosted
registration page. The registration redirects to a callback served here, which sends the browser
on to the hosted login page for the same user; that one redirects back here with an OIDC code.
Then this script checks the RP's records (the credential Chromium created is stored for the
user), exchanges the code for tokens naming the user, checks vfido's log shows the ceremonies
ran on the key, and prints every step's time. Run with the test venv's python (make test does).
"""
from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "Tests/Interop"))
from conftest import free_tcp_port  # noqa: E402  (Tests/Interop/conftest.py)
from http_json import call, jwt_claims  # noqa: E402
VFIDO = Path(os.environ.get("VFIDO_BIN", ROOT / ".build/debug/vfido")).resolve()
LOGS = Path(os.environ.get("LOGS", ROOT / ".build/kernel-logs"))
CLIENT_ID, CLIENT_SECRET = "vfido-demo", "vfido-demo-secret"
T0 = time.monotonic()
# What the RP's options ask for (the tenant's settings; RK=... UV=... try others). Headless
# Chromium cannot answer dialogs: asked for residentKey "preferred" by a key that has no PIN, it
# reads getInfo and then waits (seen here: nothing more reaches the key in 5 minutes), so the
# tier asks for a non-discoverable credential, and user verification "preferred".
RP_REQUIREMENTS = ["--rp-resident-key", os.environ.get("RK", "discouraged"),
                   "--rp-user-verification", os.environ.get("UV", "preferred")]


def say(text: str) -> None:
    print(f"host {time.monotonic() - T0:7.2f} s  {text}", flush=True)


def fail(text: str) -> None:
    print(f"FAIL: {text}", flush=True)
    sys.exit(1)


def ok(base, method, path, body=None, token=None, form=False) -> dict:
    status, answer = call(base, method, path, body, token, form)
    if status != 200:
        fail(f"{method} {path} answered {status} {answer}")
    return answer


class Callback(BaseHTTPRequestHandler):
    """The relying party's backend pages: where the hosted pages send the browser back to."""
    login_url = ""
    registered: dict | None = None
    signed_in: dict | None = None
    times: dict = {}

    def do_GET(self):
        url = urllib.parse.urlparse(self.path)
        query = {k: v[0] for k, v in urllib.parse.parse_qs(url.query).items()}
        if url.path == "/registered":
            Callback.registered, Callback.times["registered"] = query, time.monotonic()
            self.send_response(302)
            self.send_header("Location", Callback.login_url)
            self.end_headers()
        elif url.path == "/signed-in":
            Callback.signed_in, Callback.times["signed-in"] = query, time.monotonic()
            self.reply(b"<!doctype html><title>signed in</title><p>signed in")
        elif url.path == "/status":
            self.reply(b"done" if Callback.signed_in else b"registered" if Callback.registered else b"waiting")
        else:
            self.send_error(404)

    def reply(self, body: bytes):
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def main() -> None:
    LOGS.mkdir(parents=True, exist_ok=True)
    if subprocess.run([str(ROOT / "Tests/Kernel/build-guest.sh")]).returncode != 0:
        fail("building the guest")
    say("guest ready")

    usbip_port, rp_port, cb_port = free_tcp_port(), free_tcp_port(), free_tcp_port()
    rp = f"http://127.0.0.1:{rp_port}"
    vfido_log = open(LOGS / "browser-vfido.log", "wb")
    vfido = subprocess.Popen([str(VFIDO), "serve", "--ephemeral", "--no-udp", "--usbip", f"127.0.0.1:{usbip_port}",
                              "--rp", f"127.0.0.1:{rp_port}", *RP_REQUIREMENTS], stdout=vfido_log, stderr=subprocess.STDOUT,
                             start_new_session=True)
    try:
        run(vfido, rp, usbip_port, rp_port, cb_port)
    finally:
        os.killpg(vfido.pid, signal.SIGTERM)
        vfido.wait(timeout=10)


def run(vfido, rp: str, usbip_port: int, rp_port: int, cb_port: int) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            call(rp, "GET", "/cis/oidc/jwks")
            with socket.create_connection(("127.0.0.1", usbip_port), timeout=1):
                break
        except OSError:
            if vfido.poll() is not None or time.monotonic() > deadline:
                fail(f"vfido did not start: {(LOGS / 'browser-vfido.log').read_text()[-2000:]}")
            time.sleep(0.1)
    say(f"vfido serving USB/IP on 127.0.0.1:{usbip_port} and the RP on {rp}")

    server = ThreadingHTTPServer(("127.0.0.1", cb_port), Callback)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    user, state = f"chromium-{os.getpid()}", f"state-{os.getpid()}"
    page = f"http://localhost:{rp_port}"
    Callback.login_url = f"{page}/cis/oidc/auth?" + urllib.parse.urlencode({
        "response_type": "code", "client_id": CLIENT_ID, "redirect_uri": f"http://localhost:{cb_port}/signed-in",
        "login_hint": user, "state": state})
    client_token = ok(rp, "POST", "/oidc/token", {"grant_type": "client_credentials", "client_id": CLIENT_ID,
                                                  "client_secret": CLIENT_SECRET}, form=True)["access_token"]
    hint = ok(rp, "POST", "/cis/v1/auth/webauthn/external/register/hosted/hint",
              {"external_user_id": f"ext-{user}", "username": user,
               "redirect_uri": f"http://localhost:{cb_port}/registered"}, token=client_token)
    url = f"{page}/cis/hosted/passkey/passkey-registration?register_webauthn_cred_token={hint['register_webauthn_cred_token']}"
    env = LOGS / "browser-guest.env"
    env.write_text(f"PORT={usbip_port}\nBUSID=1-1\nPAGEPORT={rp_port}\nCBPORT={cb_port}\nURL='{url}'\n"
                   f"WAIT={int(os.environ.get('WAIT', 300))}\n")
    say(f"hosted registration for {user} ready; booting the guest (TCG, 2 GiB)")

    started = time.monotonic()
    with open(LOGS / "browser-guest.log", "wb") as log:
        subprocess.run([str(ROOT / "Tests/Kernel/run-guest.sh"), str(ROOT / "Tests/Kernel/browser-guest.sh"), str(env)],
                       stdout=log, stderr=subprocess.STDOUT,
                       env={**os.environ, "HOSTROOT": "1", "MEM": os.environ.get("MEM", "2048"),
                            "TIMEOUT": os.environ.get("TIMEOUT", "480")})
    guest = (LOGS / "browser-guest.log").read_text(errors="replace")
    for line in guest.splitlines():
        if line.startswith(("STEP", "GUEST-")):
            print("guest " + line, flush=True)
    say(f"guest ran in {time.monotonic() - started:.1f} s")
    for name in ("registered", "signed-in"):
        if name in Callback.times:
            say(f"callback /{name} reached {Callback.times[name] - started:.1f} s after the guest started booting")
    if "GUEST-OK" not in guest:
        print("--- guest log (tail)\n" + "\n".join(guest.splitlines()[-60:]))
        print("--- vfido log (tail)\n" + (LOGS / "browser-vfido.log").read_text()[-3000:])
        fail("the guest did not finish")

    # The registration redirect and the RP's records.
    registered = Callback.registered or {}
    if registered.get("user_identifier") != user or not registered.get("credential_id"):
        fail(f"the registration redirect carried {registered}")
    users = ok(rp, "GET", "/cis/v1/users", token=client_token)["users"]
    stored = [c for u in users if u["username"] == user for c in u["credentials"]]
    if [c["credential_id"] for c in stored] != [registered["credential_id"]]:
        fail(f"the RP stores {stored} for {user}, not the credential Chromium created")
    say(f"the RP stores credential {registered['credential_id'][:16]}… for {user} "
        f"(alg {stored[0]['algorithm']}, attestation {stored[0]['attestation_format']}, sign count {stored[0]['sign_count']})")

    # The login redirect's code, exchanged by the backend for tokens naming the user.
    signed_in = Callback.signed_in or {}
    if signed_in.get("state") != state or not signed_in.get("code"):
        fail(f"the login redirect carried {signed_in}")
    tokens = ok(rp, "POST", "/oidc/token", {"grant_type": "authorization_code", "code": signed_in["code"],
                                            "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
                                            "redirect_uri": f"http://localhost:{cb_port}/signed-in"}, form=True)
    if jwt_claims(tokens["id_token"])["webauthn_username"] != user:
        fail(f"the tokens name {jwt_claims(tokens['id_token'])}")
    say(f"the login's code was exchanged for tokens naming {user}")

    # Both ceremonies ran on vfido's key (through USB/IP), not on something else.
    log = (LOGS / "browser-vfido.log").read_text()
    for command in ("makeCredential", "getAssertion"):
        if not re.search(rf"CTAP {command} -> 0x00", log):
            fail(f"vfido's log shows no successful {command}")
    say("vfido's log shows makeCredential and getAssertion answered over USB/IP")
    print("Chromium-in-guest tier passed", flush=True)


if __name__ == "__main__":
    main()
