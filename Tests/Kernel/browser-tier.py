#!/usr/bin/env python3
"""Tier 5c: passkeys in real browsers, in the QEMU guest, on vfido through the guest's kernel.

For each browser (Chromium headless over CDP, Firefox ESR headless over Marionette, both driven
from here through QEMU's port forward; no downloaded drivers), with vfido's key attached over
USB/IP and the bundled RP asking for `residentKey: required` and `userVerification: required`:
  1. register a discoverable passkey on the hosted registration page;
  2. sign in usernameless on the hosted login page (empty allowCredentials);
  3. sign in with the username;
  4. sign in while the key denies the prompt: the page shows the RP's error code.
Then, once, Chromium registers through the uhid route (vfido inside the guest).
Each registration and sign-in ends at a callback served here (the RP's redirect_uri); the codes
are exchanged for tokens naming the user; the RP's records and the key's credential management
(through vfido's control API) show the passkey discoverable and user-verified; the control
API's events show the UV prompts and credentialAdded / credentialAsserted. One line per browser
and ceremony with its time. Run with the test venv's python (make test does).
  BROWSERS=chromium,firefox (default both), UHID=0 skips the uhid registration.
"""
from __future__ import annotations

import os
import re
import shutil
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
sys.path.insert(0, str(ROOT / "Tests/Browser"))
sys.path.insert(0, str(ROOT / "Tests/Kernel"))
sys.path.insert(0, str(ROOT / "clients/python"))
from cdp import Chromium  # noqa: E402
from conftest import free_tcp_port  # noqa: E402  (Tests/Interop/conftest.py)
from http_json import call, jwt_claims  # noqa: E402
from marionette import Marionette  # noqa: E402
from vfido_control import VfidoControl  # noqa: E402

VFIDO = Path(os.environ.get("VFIDO_BIN", ROOT / ".build/debug/vfido")).resolve()
LOGS = Path(os.environ.get("LOGS", ROOT / ".build/kernel-logs"))
CLIENT_ID, CLIENT_SECRET = "vfido-demo", "vfido-demo-secret"
# The browser's automation port inside the guest, and the guest port QEMU forwards to.
BROWSER_PORT = {"chromium": 9222, "firefox": 2828}
GUEST_AUTOPORT = 7000
# Under TCG a browser needs minutes before its first WebAuthn call (Chromium about 110 s here).
FIRST_CEREMONY_TIMEOUT, CEREMONY_TIMEOUT, BOOT_TIMEOUT = 600, 300, 900
T0 = time.monotonic()
results: list[str] = []


def say(text: str) -> None:
    print(f"host {time.monotonic() - T0:7.1f} s  {text}", flush=True)


class Failure(Exception):
    pass


def ok(base, method, path, body=None, token=None, form=False) -> dict:
    status, answer = call(base, method, path, body, token, form)
    if status != 200:
        raise Failure(f"{method} {path} answered {status} {answer}")
    return answer


class Callback(BaseHTTPRequestHandler):
    """The relying party's backend: where the hosted pages send the browser back to."""
    arrivals: list[tuple[str, dict, float]] = []
    arrived = threading.Condition()
    finished = False

    def do_GET(self):
        url = urllib.parse.urlparse(self.path)
        if url.path == "/status":
            return self.reply(b"finished" if Callback.finished else b"waiting")
        if url.path not in ("/registered", "/signed-in"):
            return self.send_error(404)
        with Callback.arrived:
            Callback.arrivals.append((url.path, {k: v[0] for k, v in urllib.parse.parse_qs(url.query).items()}, time.monotonic()))
            Callback.arrived.notify_all()
        self.reply(f"<!doctype html><title>{url.path[1:]}</title><p id=arrived>{url.path[1:]}".encode())

    def reply(self, body: bytes):
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass

    @classmethod
    def wait(cls, path: str, after: int, timeout: float, page, guest) -> tuple[dict, float | None]:
        """The next arrival at `path` (after the first `after`), and when the page started its
        WebAuthn call (its status says "Touch your security key"); fails early on the page's
        error code or the guest's end."""
        deadline = time.monotonic() + timeout
        touch = None
        while time.monotonic() < deadline:
            with cls.arrived:
                hits = [a for a in cls.arrivals[after:] if a[0] == path]
                if hits:
                    return hits[0][1], touch
                cls.arrived.wait(1)
            code, status = page_state(page)
            if code:
                raise Failure(f"the page shows {code} instead of reaching {path}")
            if touch is None and status.startswith("Touch"):
                touch = time.monotonic()
            if guest.poll() is not None:
                raise Failure(f"the guest ended before {path} was reached")
        raise Failure(f"no redirect to {path} within {timeout:.0f} s")


def page_state(page) -> tuple[str | None, str]:
    """The hosted page's error code (if it shows one) and its status line."""
    try:
        state = page.evaluate("[(document.getElementById('error') || {dataset: {}}).dataset.errorCode || '', "
                              "(document.getElementById('status') || {}).textContent || '']")
        return (state[0] or None, state[1] or "")
    except Exception:  # the page is navigating
        return None, ""


def start_guest(browser: str, route: str, env: dict, log_name: str) -> tuple[subprocess.Popen, int]:
    host_port = free_tcp_port()
    env_file = LOGS / f"{log_name}.env"
    env_file.write_text("".join(f"{k}={v}\n" for k, v in {**env, "BROWSER": browser, "ROUTE": route, "AUTOPORT": GUEST_AUTOPORT,
                                                          "BROWSERPORT": BROWSER_PORT[browser]}.items()))
    log = open(LOGS / f"{log_name}.log", "wb")
    guest = subprocess.Popen([str(ROOT / "Tests/Kernel/run-guest.sh"), str(ROOT / "Tests/Kernel/browser-guest.sh"), str(env_file)],
                             stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                             env={**os.environ, "HOSTROOT": "1", "MEM": os.environ.get("MEM", "2048"),
                                  # Browsers are several processes: two vCPUs (one host thread each).
                                  "SMP": os.environ.get("SMP", "2"),
                                  "TIMEOUT": str(BOOT_TIMEOUT + 600), "HOSTFWD": f"{host_port}:{GUEST_AUTOPORT}"})
    return guest, host_port


def guest_log(log_name: str) -> str:
    return (LOGS / f"{log_name}.log").read_text(errors="replace")


def attach(browser: str, guest: subprocess.Popen, host_port: int, log_name: str):
    """Waits for the guest's GUEST-BROWSER-UP, then for the browser's automation to answer."""
    deadline = time.monotonic() + BOOT_TIMEOUT
    while "GUEST-BROWSER-UP" not in guest_log(log_name):
        if guest.poll() is not None or time.monotonic() > deadline:
            raise Failure(f"the guest did not start {browser}")
        time.sleep(1)
    if browser == "chromium":
        return Chromium(devtools=("127.0.0.1", host_port), deadline=time.time() + (deadline - time.monotonic()))
    return Marionette.connect("127.0.0.1", host_port, deadline)


def stop(proc: subprocess.Popen, timeout: float = 30) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def start_vfido(args: list[str], log_name: str, rp_port: int) -> tuple[subprocess.Popen, str]:
    log_path = LOGS / f"{log_name}-vfido.log"
    proc = subprocess.Popen([str(VFIDO), *args], stdout=open(log_path, "wb"), stderr=subprocess.STDOUT, start_new_session=True)
    rp = f"http://127.0.0.1:{rp_port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            call(rp, "GET", "/cis/oidc/jwks")
            if "Stop with" in log_path.read_text() or args[0] == "rp":
                return proc, rp
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            raise Failure(f"vfido did not start: {log_path.read_text()[-2000:]}")
        time.sleep(0.1)


# The RP's ceremony timeout, which its hosted pages enforce (they abort the WebAuthn call): a
# request headless Chromium cannot finish without a person (its error sheet after the key
# refused) ends then. Long enough for a slow guest to run a normal ceremony well within it.
RP_TIMEOUT = 90
RP_PASSKEYS = ["--rp-resident-key", "required", "--rp-user-verification", "required", "--rp-ceremony-timeout", str(RP_TIMEOUT)]


def hosted_urls(rp: str, rp_port: int, cb_port: int, user: str, client_token: str) -> tuple[str, callable]:
    hint = ok(rp, "POST", "/cis/v1/auth/webauthn/external/register/hosted/hint",
              {"external_user_id": f"ext-{user}", "username": user, "redirect_uri": f"http://localhost:{cb_port}/registered"},
              token=client_token)
    page = f"http://localhost:{rp_port}"
    registration = f"{page}/cis/hosted/passkey/passkey-registration?register_webauthn_cred_token={hint['register_webauthn_cred_token']}"

    def login(state: str, username: str | None) -> str:
        query = {"response_type": "code", "client_id": CLIENT_ID, "redirect_uri": f"http://localhost:{cb_port}/signed-in",
                 "state": state}
        if username:
            query["login_hint"] = username
        return f"{page}/cis/oidc/auth?" + urllib.parse.urlencode(query)
    return registration, login


def wind_down(guest, name: str, label: str, server, vfido) -> None:
    """Tells the guest to finish, prints its steps, stops the callback and vfido."""
    Callback.finished = True
    if guest:
        try:
            guest.wait(timeout=120)
        except subprocess.TimeoutExpired:
            stop(guest)
        for line in guest_log(name).splitlines():
            if line.startswith(("STEP", "GUEST-")):
                print(f"guest {label}: {line}", flush=True)
    server.shutdown()
    server.server_close()
    stop(vfido)


def expect_clean_end(name: str, label: str) -> None:
    if "GUEST-OK" not in guest_log(name):
        raise Failure(f"the {label} guest did not finish cleanly:\n" + "\n".join(guest_log(name).splitlines()[-40:]))


def record(browser: str, ceremony: str, seconds: float, webauthn: float | None = None) -> None:
    """One result line: the whole ceremony from navigation, and (when seen) from the page's
    WebAuthn call to the RP's redirect."""
    split = f"  (WebAuthn call to redirect {webauthn:5.1f} s)" if webauthn is not None else ""
    line = f"{browser:<9} {ceremony:<58} {seconds:6.1f} s  ok{split}"
    results.append(line)
    say(line)


def passkeys_in(browser: str) -> None:
    """The four ceremonies over USB/IP, with every check."""
    usbip_port, rp_port, cb_port, api_port = free_tcp_port(), free_tcp_port(), free_tcp_port(), free_tcp_port()
    name = f"browser-{browser}"
    vfido, rp = start_vfido(["serve", "--ephemeral", "--builtin-uv", "--no-udp", "--usbip", f"127.0.0.1:{usbip_port}",
                             "--rp", f"127.0.0.1:{rp_port}", "--api", f"127.0.0.1:{api_port}", *RP_PASSKEYS], name, rp_port)
    server = ThreadingHTTPServer(("127.0.0.1", cb_port), Callback)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    Callback.arrivals, Callback.finished = [], False
    guest = None
    try:
        banner = (LOGS / f"{name}-vfido.log").read_text()
        token_file = re.search(r"bearer token in ([^;]+);", banner).group(1)
        api = VfidoControl(Path(token_file).read_text().strip(), url=f"http://127.0.0.1:{api_port}")
        client_token = ok(rp, "POST", "/oidc/token", {"grant_type": "client_credentials", "client_id": CLIENT_ID,
                                                      "client_secret": CLIENT_SECRET}, form=True)["access_token"]
        user = f"{browser}-{os.getpid()}"
        guest, host_port = start_guest(browser, "usbip", {"PORT": usbip_port, "BUSID": "1-1", "PAGEPORT": rp_port,
                                                          "CBPORT": cb_port, "WAIT": BOOT_TIMEOUT + 600}, name)
        say(f"{browser}: booting the guest (TCG, 2 GiB); vfido on USB/IP 127.0.0.1:{usbip_port}, RP {rp}")
        page = attach(browser, guest, host_port, name)
        say(f"{browser}: automation attached through QEMU's forward (127.0.0.1:{host_port})")
        # The registration link lives RP_TIMEOUT: made now that the browser is up, not before
        # a boot that takes minutes on a loaded machine.
        registration, login = hosted_urls(rp, rp_port, cb_port, user, client_token)

        def ceremony(label: str, url: str, path: str, timeout: float) -> dict:
            before, started = len(Callback.arrivals), time.monotonic()
            page.navigate(url)
            answer, touch = Callback.wait(path, before, timeout, page, guest)
            done = time.monotonic()
            record(browser, label, done - started, touch and done - touch)
            return answer

        def signed_in_as(answer: dict, state: str) -> None:
            if answer.get("state") != state or not answer.get("code"):
                raise Failure(f"the login redirect carried {answer}")
            tokens = ok(rp, "POST", "/oidc/token", {"grant_type": "authorization_code", "code": answer["code"],
                                                    "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
                                                    "redirect_uri": f"http://localhost:{cb_port}/signed-in"}, form=True)
            named = jwt_claims(tokens["id_token"])["webauthn_username"]
            if named != user:
                raise Failure(f"the tokens name {named}, not {user}")

        registered = ceremony("register a passkey (residentKey + UV required)", registration, "/registered", FIRST_CEREMONY_TIMEOUT)
        if registered.get("user_identifier") != user or not registered.get("credential_id"):
            raise Failure(f"the registration redirect carried {registered}")
        signed_in_as(ceremony("sign in usernameless (empty allowCredentials)", login("s1", None), "/signed-in", CEREMONY_TIMEOUT), "s1")
        signed_in_as(ceremony("sign in with the username", login("s2", user), "/signed-in", CEREMONY_TIMEOUT), "s2")

        api.set_presence(1, policy="deny")
        started = time.monotonic()
        page.navigate(login("s3", user))
        deadline = time.monotonic() + CEREMONY_TIMEOUT + RP_TIMEOUT
        code = None
        while time.monotonic() < deadline and not code:
            code = page_state(page)[0]
            if any(a[0] == "/signed-in" and a[1].get("state") == "s3" for a in Callback.arrivals):
                raise Failure("signed in although the key denied the prompt")
            time.sleep(0.5)
        if code != "webauthn_authentication_canceled":
            raise Failure(f"the login page shows {code!r} when the key denies, not webauthn_authentication_canceled")
        record(browser, "key denies: the page shows webauthn_authentication_canceled", time.monotonic() - started)
        api.set_presence(1, policy="auto")

        # The RP's records, and the key's own view of the passkey.
        credential_id = registered["credential_id"]
        users = ok(rp, "GET", "/cis/v1/users", token=client_token)["users"]
        stored = [c for u in users if u["username"] == user for c in u["credentials"]]
        if [c["credential_id"] for c in stored] != [credential_id]:
            raise Failure(f"the RP stores {stored} for {user}, not the passkey {browser} created")
        if not stored[0]["user_verified"] or stored[0].get("discoverable") is False:
            raise Failure(f"the RP's record is not a user-verified passkey: {stored[0]}")
        on_key = [c for c in api.credentials(1) if c["credentialId"] == credential_id]
        if not on_key or not on_key[0]["isResidentCredential"] or on_key[0]["userName"] != user:
            raise Failure(f"the key's credential management does not list the passkey: {api.credentials(1)}")
        say(f"{browser}: the RP stores {credential_id[:16]}… for {user}: user_verified {stored[0]['user_verified']}, "
            f"discoverable {stored[0].get('discoverable')}; the key lists it as resident for {on_key[0]['userName']}")

        events = api.recent_events()
        kinds = [e["type"] for e in events]
        uv_prompts = [e for e in events if e["type"] == "promptStarted" and e.get("verification")]
        denied = [e for e in events if e["type"] == "promptAnswered" and e.get("result") == "denied"]
        asserted = [e for e in events if e["type"] == "credentialAsserted" and e.get("credentialId") == credential_id]
        if "credentialAdded" not in kinds or len(asserted) < 2 or len(uv_prompts) < 3 or not denied:
            raise Failure(f"the control API's events lack the ceremonies: {kinds}")
        say(f"{browser}: events: {len(uv_prompts)} UV prompts, credentialAdded, {len(asserted)} credentialAsserted, "
            f"{len(denied)} denied")
    finally:
        wind_down(guest, name, browser, server, vfido)
    expect_clean_end(name, browser)


def registration_over_uhid(browser: str = "chromium") -> None:
    """Once: the registration with vfido inside the guest (uhid), the RP on the host."""
    rp_port, cb_port = free_tcp_port(), free_tcp_port()
    name = f"browser-uhid-{browser}"
    vfido, rp = start_vfido(["rp", "serve", "--rp", f"127.0.0.1:{rp_port}", "--ephemeral", *RP_PASSKEYS], name, rp_port)
    server = ThreadingHTTPServer(("127.0.0.1", cb_port), Callback)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    Callback.arrivals, Callback.finished = [], False
    guest = None
    try:
        client_token = ok(rp, "POST", "/oidc/token", {"grant_type": "client_credentials", "client_id": CLIENT_ID,
                                                      "client_secret": CLIENT_SECRET}, form=True)["access_token"]
        user = f"{browser}-uhid-{os.getpid()}"
        guest, host_port = start_guest(browser, "uhid", {"VFIDO": VFIDO, "PAGEPORT": rp_port, "CBPORT": cb_port,
                                                         "WAIT": BOOT_TIMEOUT + 600}, name)
        say(f"{browser} over uhid: booting the guest; vfido runs inside it, the RP here on {rp}")
        page = attach(browser, guest, host_port, name)
        registration, _ = hosted_urls(rp, rp_port, cb_port, user, client_token)  # its link lives RP_TIMEOUT from now
        started = time.monotonic()
        page.navigate(registration)
        registered, touch = Callback.wait("/registered", 0, FIRST_CEREMONY_TIMEOUT, page, guest)
        done = time.monotonic()
        record(f"{browser}", "register a passkey through uhid (vfido inside the guest)", done - started, touch and done - touch)
        users = ok(rp, "GET", "/cis/v1/users", token=client_token)["users"]
        stored = [c for u in users if u["username"] == user for c in u["credentials"]]
        if [c["credential_id"] for c in stored] != [registered.get("credential_id")] or not stored[0]["user_verified"]:
            raise Failure(f"the RP stores {stored} for {user}")
    finally:
        wind_down(guest, name, f"{browser} uhid", server, vfido)
    expect_clean_end(name, f"{browser} uhid")


def main() -> int:
    LOGS.mkdir(parents=True, exist_ok=True)
    if subprocess.run([str(ROOT / "Tests/Kernel/build-guest.sh")]).returncode != 0:
        print("FAIL: building the guest")
        return 1
    browsers = [b for b in os.environ.get("BROWSERS", "chromium,firefox").split(",") if b]
    installed = {"chromium": shutil.which("chromium"), "firefox": shutil.which("firefox-esr")}
    failed = []
    for browser in browsers:
        if not installed[browser]:
            line = f"{browser:<9} CANNOT RUN HERE: {'firefox-esr' if browser == 'firefox' else browser} is not installed (run make test as root)"
            results.append(line)
            print(f"!!!! {line}", flush=True)
            failed.append(browser)
            continue
        try:
            passkeys_in(browser)
        except Failure as e:
            print(f"FAIL: {browser}: {e}", flush=True)
            failed.append(browser)
    if os.environ.get("UHID", "1") != "0" and installed["chromium"]:
        try:
            registration_over_uhid("chromium")
        except Failure as e:
            print(f"FAIL: chromium over uhid: {e}", flush=True)
            failed.append("chromium-uhid")
    print("\n==== browsers and ceremonies")
    print("\n".join(results))
    if failed:
        print(f"FAIL: {', '.join(failed)}")
        return 1
    print("browser-in-guest tier passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
