"""Just enough of Firefox's Marionette protocol (its built-in remote protocol; no geckodriver):
length-prefixed JSON over TCP, `[0, id, command, params]` in, `[1, id, error, result]` out.
Navigate, run a script, and wait for page state by polling (no fixed sleeps)."""
from __future__ import annotations

import json
import socket
import time


class Marionette:
    def __init__(self, host: str, port: int, timeout: float = 120):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.buffer = b""
        self.next_id = 0
        hello = self._read()
        if hello.get("applicationType") != "gecko":
            raise RuntimeError(f"not Marionette: {hello}")
        # pageLoadStrategy none: navigation returns at once, the tier waits for page state itself.
        self.command("WebDriver:NewSession", capabilities={"alwaysMatch": {"pageLoadStrategy": "none"}})

    @classmethod
    def connect(cls, host: str, port: int, deadline: float) -> "Marionette":
        """Retries until the browser listens and greets (it may still be starting)."""
        last = None
        while time.monotonic() < deadline:
            try:
                return cls(host, port)
            except (OSError, RuntimeError, ValueError) as e:
                last = e
                time.sleep(1)
        raise RuntimeError(f"Marionette did not answer on {host}:{port}: {last}")

    def _read(self):
        while b":" not in self.buffer:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise RuntimeError("Marionette closed the connection")
            self.buffer += chunk
        length, rest = self.buffer.split(b":", 1)
        n = int(length)
        while len(rest) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise RuntimeError("Marionette closed the connection")
            rest += chunk
        self.buffer = rest[n:]
        return json.loads(rest[:n])

    def command(self, name: str, **params):
        self.next_id += 1
        payload = json.dumps([0, self.next_id, name, params]).encode()
        self.sock.sendall(str(len(payload)).encode() + b":" + payload)
        while True:
            message = self._read()
            if isinstance(message, list) and message[0] == 1 and message[1] == self.next_id:
                if message[2]:
                    raise RuntimeError(f"{name}: {message[2]}")
                return message[3]

    def navigate(self, url: str) -> None:
        self.command("WebDriver:Navigate", url=url)

    def evaluate(self, expression: str):
        return self.command("WebDriver:ExecuteScript", script=f"return ({expression});", args=[]).get("value")

    def wait_for(self, expression: str, timeout: float = 30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                value = self.evaluate(expression)
                if value:
                    return value
            except RuntimeError:
                pass  # the page is navigating
            time.sleep(0.2)
        raise AssertionError(f"timed out waiting for {expression}")

    def close(self) -> None:
        try:
            self.command("WebDriver:DeleteSession")
        except (OSError, RuntimeError):
            pass
        self.sock.close()
