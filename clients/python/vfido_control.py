"""A dependency-free client for vfido's control API (docs/control-api.md).

    from vfido_control import VfidoDaemon
    with VfidoDaemon.start("/path/to/vfido", "--presence", "control") as daemon:
        api = daemon.control
        api.add_credential(1, credential_id=b"...", rp_id="example.com", private_key=pkcs8_der)
        api.approve(1, wait=10)

Bytes go in as `bytes` and come back base64url-decoded where the API speaks base64url
(credentialId, userHandle, privateKey in exports stay strings: they are what WebDriver JSON holds).
"""
from __future__ import annotations

import base64
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any, Iterator


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class ControlError(Exception):
    """A refused request: the HTTP status and the API's error_code and message."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(f"HTTP {status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float):
        super().__init__("vfido", timeout=timeout)
        self.socket_path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.socket_path)


class VfidoControl:
    """One daemon's control API, over TCP (`url`) or its Unix socket (`socket_path`)."""

    def __init__(self, token: str, url: str | None = None, socket_path: str | None = None, timeout: float = 60):
        if not (url or socket_path):
            raise ValueError("give url or socket_path")
        self.token = token
        self.url = url
        self.socket_path = socket_path
        self.timeout = timeout

    @classmethod
    def for_state(cls, state: str | Path) -> "VfidoControl":
        """The daemon serving this state directory, through its socket."""
        state = Path(state)
        return cls((state / "control.token").read_text().strip(), socket_path=str(state / "control.sock"))

    def _connection(self, timeout: float | None = None) -> http.client.HTTPConnection:
        timeout = timeout or self.timeout
        if self.url:
            match = re.match(r"http://([^/:]+):(\d+)", self.url)
            if not match:
                raise ValueError(f"url must be http://HOST:PORT, not {self.url}")
            return http.client.HTTPConnection(match.group(1), int(match.group(2)), timeout=timeout)
        return _UnixConnection(self.socket_path, timeout)

    def request(self, method: str, path: str, body: Any = None, token: str | None = None, raw: bytes | None = None) -> Any:
        """One request; the decoded JSON reply, or ControlError."""
        connection = self._connection()
        headers = {"Authorization": f"Bearer {self.token if token is None else token}"}
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        if data is not None:
            headers["Content-Type"] = "application/json"
        try:
            connection.request(method, path, body=data, headers=headers)
            response = connection.getresponse()
            payload = response.read()
        finally:
            connection.close()
        decoded = json.loads(payload) if payload and response.getheader("Content-Type", "").startswith("application/json") else payload
        if not 200 <= response.status < 300:
            if isinstance(decoded, dict):
                raise ControlError(response.status, decoded.get("error_code", "?"), decoded.get("message", ""))
            raise ControlError(response.status, "?", payload.decode(errors="replace"))
        return decoded

    # keys and the device
    def keys(self) -> list[dict]:
        return self.request("GET", "/keys")

    def key(self, key: int = 1) -> dict:
        return self.request("GET", f"/keys/{key}")

    def add_key(self, **options: Any) -> dict:
        """Adds a key at runtime, in memory: WebDriver's or CDP's option names
        (protocol="ctap2", hasResidentKey=False, hasUserVerification=True, extensions=["prf"], ...)."""
        return self.request("POST", "/keys", options)

    def remove_key(self, key: int) -> None:
        """Removes a key added at runtime: hosts see it unplugged, its credentials are gone."""
        self.request("DELETE", f"/keys/{key}")

    def power_cycle(self, key: int = 1) -> dict:
        return self.request("POST", f"/keys/{key}/power-cycle")

    def unplug(self, key: int = 1) -> dict:
        return self.request("POST", f"/keys/{key}/unplug")

    def plug(self, key: int = 1) -> dict:
        return self.request("POST", f"/keys/{key}/plug")

    def reset(self, key: int = 1) -> dict:
        """Factory reset: every credential and the PIN are gone."""
        return self.request("POST", f"/keys/{key}/reset")

    # presence and verification
    def presence(self, key: int = 1) -> dict:
        return self.request("GET", f"/keys/{key}/presence")

    def set_presence(self, key: int = 1, *, policy: str | None = None, user_consenting: bool | None = None,
                     user_verified: bool | None = None, touching: bool | None = None) -> dict:
        body = {name: value for name, value in (("policy", policy), ("isUserConsenting", user_consenting),
                                                ("isUserVerified", user_verified), ("touching", touching)) if value is not None}
        return self.request("PUT", f"/keys/{key}/presence", body)

    def prompts(self, key: int = 1) -> list[dict]:
        return self.request("GET", f"/keys/{key}/prompts")

    def approve(self, key: int = 1, *, prompt_id: int | None = None, wait: float = 0) -> dict:
        return self._answer("approve", key, prompt_id, wait)

    def deny(self, key: int = 1, *, prompt_id: int | None = None, wait: float = 0) -> dict:
        return self._answer("deny", key, prompt_id, wait)

    def _answer(self, verb: str, key: int, prompt_id: int | None, wait: float) -> dict:
        body: dict[str, Any] = {"wait": wait}
        if prompt_id is not None:
            body["id"] = prompt_id
        return self.request("POST", f"/keys/{key}/prompts/{verb}", body)

    # overrides
    def set_overrides(self, key: int = 1, *, bogus_signature: bool | None = None, bad_uv: bool | None = None,
                      bad_up: bool | None = None) -> dict:
        body = {name: value for name, value in (("isBogusSignature", bogus_signature), ("isBadUV", bad_uv),
                                                ("isBadUP", bad_up)) if value is not None}
        return self.request("PUT", f"/keys/{key}/overrides", body)

    # faults (docs/fault-injection.md)
    def faults(self, key: int = 1) -> dict:
        return self.request("GET", f"/keys/{key}/faults")

    def set_faults(self, key: int = 1, *, rules: list[str], seed: int | None = None) -> dict:
        body: dict[str, Any] = {"rules": rules}
        if seed is not None:
            body["seed"] = seed
        return self.request("PUT", f"/keys/{key}/faults", body)

    # credentials
    def add_credential(self, key: int = 1, *, credential_id: bytes, rp_id: str, private_key: bytes, resident: bool = False,
                       user_handle: bytes | None = None, sign_count: int = 0, user_name: str | None = None,
                       user_display_name: str | None = None, backup_eligible: bool | None = None,
                       backup_state: bool | None = None, large_blob: bytes | None = None) -> dict:
        """WebDriver's Add Credential: private_key is PKCS#8 DER; large_blob (uncompressed) goes
        into the key's large-blob array as a browser's largeBlob write puts it."""
        body: dict[str, Any] = {"credentialId": b64url(credential_id), "isResidentCredential": resident, "rpId": rp_id,
                                "privateKey": b64url(private_key), "signCount": sign_count}
        for name, value in (("userHandle", user_handle and b64url(user_handle)), ("userName", user_name),
                            ("userDisplayName", user_display_name), ("backupEligibility", backup_eligible),
                            ("backupState", backup_state), ("largeBlob", large_blob and b64url(large_blob))):
            if value is not None:
                body[name] = value
        return self.request("POST", f"/keys/{key}/credentials", body)

    def credentials(self, key: int = 1) -> list[dict]:
        return self.request("GET", f"/keys/{key}/credentials")

    def credential(self, key: int = 1, *, credential_id: bytes) -> dict:
        return self.request("GET", f"/keys/{key}/credentials/{b64url(credential_id)}")

    def set_credential_properties(self, key: int = 1, *, credential_id: bytes, backup_eligible: bool | None = None,
                                  backup_state: bool | None = None, sign_count: int | None = None) -> dict:
        body = {name: value for name, value in (("backupEligibility", backup_eligible), ("backupState", backup_state),
                                                ("signCount", sign_count)) if value is not None}
        return self.request("PATCH", f"/keys/{key}/credentials/{b64url(credential_id)}", body)

    def remove_credential(self, key: int = 1, *, credential_id: bytes) -> None:
        self.request("DELETE", f"/keys/{key}/credentials/{b64url(credential_id)}")

    def clear_credentials(self, key: int = 1) -> int:
        return self.request("DELETE", f"/keys/{key}/credentials")["removed"]

    def export_credentials(self, key: int = 1, *, format: str = "webdriver") -> Any:
        """Stored credentials WITH private keys."""
        return self.request("POST", f"/keys/{key}/credentials/export", {"format": format})

    # events
    def recent_events(self, after: int = 0) -> list[dict]:
        return self.request("GET", f"/events/recent?after={after}")

    def events(self, key: int | None = None, after: int | None = None, timeout: float = 60) -> Iterator[dict]:
        """The live event stream (Server-Sent Events), one dict per event; ends when the daemon closes it."""
        query = "&".join(part for part in (f"key={key}" if key else "", f"after={after}" if after is not None else "") if part)
        connection = self._connection(timeout)
        connection.request("GET", "/events" + (f"?{query}" if query else ""), headers={"Authorization": f"Bearer {self.token}"})
        response = connection.getresponse()
        if response.status != 200:
            raise ControlError(response.status, "?", response.read().decode(errors="replace"))
        try:
            event_type = None
            while True:
                line = response.readline()
                if not line:
                    return
                line = line.decode().rstrip("\n")
                if line.startswith("event: "):
                    event_type = line[7:]
                elif line.startswith("data: "):
                    data = json.loads(line[6:])
                    if event_type == "overflow":
                        raise ControlError(200, "overflow", data.get("message", ""))
                    yield data
        finally:
            connection.close()

    def wait_for_event(self, predicate, after: int = 0, timeout: float = 60) -> dict:
        """The first event after `after` (a sequence number) that satisfies predicate."""
        deadline = time.monotonic() + timeout
        for event in self.events(after=after, timeout=timeout):
            if predicate(event):
                return event
            if time.monotonic() > deadline:
                break
        raise TimeoutError("no such event")

    def last_sequence(self) -> int:
        events = self.recent_events()
        return events[-1]["sequence"] if events else 0


class VfidoDaemon:
    """`vfido serve --ephemeral` on free ports, with its control API; a context manager."""

    def __init__(self, proc: subprocess.Popen, banner: str, log_path: Path, udp_port: int | None):
        self.proc = proc
        self.banner = banner
        self.log_path = log_path
        self.udp_port = udp_port
        api = re.search(r"control API\s+(http://\S+)\s+\(bearer token in ([^;]+);", banner)
        if not api:
            raise RuntimeError(f"no control API in the banner:\n{banner}")
        self.url = api.group(1)
        self.token_path = Path(api.group(2))
        self.control = VfidoControl(self.token_path.read_text().strip(), url=self.url)

    @classmethod
    def start(cls, vfido: str | Path, *args: str, udp: bool = True, timeout: float = 60) -> "VfidoDaemon":
        udp_port = None
        cmd = [str(vfido), "serve", "--ephemeral", "--api", "127.0.0.1:0", "--no-rp", *args]
        if udp and "--udp" not in args:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                s.bind(("127.0.0.1", 0))
                udp_port = s.getsockname()[1]
            cmd += ["--udp", f"127.0.0.1:{udp_port}"]
        if "--usbip" not in args and "--uhid" not in args:
            cmd.append("--no-usbip")
        log_path = Path(tempfile.mkstemp(prefix="vfido-", suffix=".log")[1])
        log = open(log_path, "wb")
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=log, text=True)
        log.close()
        lines = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                raise RuntimeError(f"vfido exited at start: {log_path.read_text(errors='replace')}")
            lines.append(line)
            if line.startswith("Stop with"):
                return cls(proc, "".join(lines), log_path, udp_port)
        proc.kill()
        raise RuntimeError(f"vfido printed no banner in {timeout} s")

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc.stdout:
            self.proc.stdout.close()

    def __enter__(self) -> "VfidoDaemon":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
