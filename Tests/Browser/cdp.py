"""Just enough of the Chrome DevTools Protocol: start headless Chromium, attach to its page,
send commands, and wait for page state by polling (no fixed sleeps)."""
from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
import time
import urllib.request

import websocket


def chromium_binary() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if shutil.which(name):
            return shutil.which(name)
    return None


class Chromium:
    def __init__(self, devtools: tuple[str, int] | None = None, deadline: float | None = None):
        """Starts a headless Chromium here, or with `devtools=(host, port)` attaches to one
        already listening there (the kernel tier's, inside its QEMU guest)."""
        deadline = deadline or time.time() + 60
        self.proc = None
        self.profile = None
        if devtools:
            host, port = devtools
        else:
            host, port = "127.0.0.1", self._start()
        pages = []
        while not pages:
            try:
                with urllib.request.urlopen(f"http://{host}:{port}/json/list", timeout=10) as r:
                    pages = [t for t in json.load(r) if t["type"] == "page"]
            except OSError:
                pass
            if not pages:
                if time.time() > deadline:
                    raise RuntimeError(f"no DevTools page on {host}:{port}")
                time.sleep(0.5)
        # The page's WebSocket URL names the browser's own address; reach it where we reached /json.
        path = re.sub(r"^ws://[^/]+", "", pages[0]["webSocketDebuggerUrl"])
        self.ws = websocket.create_connection(f"ws://{host}:{port}{path}", timeout=120, suppress_origin=True)
        self.next_id = 0

    def _start(self) -> int:
        self.profile = tempfile.TemporaryDirectory(prefix="vfido-chromium-", ignore_cleanup_errors=True)
        self.proc = subprocess.Popen(
            [chromium_binary(), "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-dev-shm-usage",
             "--remote-debugging-port=0", f"--user-data-dir={self.profile.name}", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        deadline = time.time() + 60
        while time.time() < deadline:
            line = self.proc.stderr.readline()
            if not line and self.proc.poll() is not None:
                raise RuntimeError("chromium exited before DevTools listened")
            match = re.search(r"DevTools listening on ws://[^:]+:(\d+)/", line)
            if match:
                return int(match.group(1))
        raise RuntimeError("chromium did not start DevTools within 60 s")

    def navigate(self, url: str) -> None:
        self.send("Page.navigate", url=url)

    def send(self, method: str, **params) -> dict:
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.ws.recv())
            if message.get("id") == self.next_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})

    def evaluate(self, expression: str):
        result = self.send("Runtime.evaluate", expression=expression, returnByValue=True)
        return result.get("result", {}).get("value")

    def wait_for(self, expression: str, timeout: float = 30, failure: str | None = None):
        """Polls a JS expression until it is truthy; fails early if `failure` becomes truthy."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                value = self.evaluate(expression)
                if value:
                    return value
                if failure and (bad := self.evaluate(failure)):
                    raise AssertionError(f"page reported: {bad}")
            except RuntimeError:
                pass  # the page is navigating; its context went away
            time.sleep(0.1)
        raise AssertionError(f"timed out waiting for {expression} (page at {self.evaluate('location.href')}: "
                             f"{self.evaluate('document.body && document.body.innerText')})")

    def close(self):
        try:
            self.ws.close()
        finally:
            if self.proc:
                self.proc.terminate()
                try:
                    self.proc.wait(10)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
            if self.profile:
                self.profile.cleanup()
