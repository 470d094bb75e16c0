"""The control API's web inspector in headless Chromium: it renders a running key's state, and a
click on Approve answers a prompt that python-fido2 is waiting on."""
from __future__ import annotations

import sys
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "Tests" / "Interop"))
sys.path.insert(0, str(ROOT / "clients" / "python"))
from cdp import Chromium  # noqa: E402
from conftest import VFIDO  # noqa: E402
from ctap_helpers import make  # noqa: E402
from fido2.ctap2 import Ctap2  # noqa: E402
from vfido_control import VfidoDaemon  # noqa: E402
from vfido_udp import open_device  # noqa: E402


def test_inspector_shows_the_key_and_a_click_approves_a_waiting_prompt():
    with VfidoDaemon.start(VFIDO, "--presence", "control", "--prompt-timeout", "120") as daemon:
        chromium = Chromium()
        try:
            chromium.send("Page.navigate", url=f"{daemon.url}/?access_token={daemon.control.token}")
            chromium.wait_for("document.querySelector('section.key h2')?.textContent.includes('presence control')",
                              failure="document.getElementById('error').textContent")
            assert chromium.evaluate("document.querySelector('.no-prompts') !== null")

            outcome: dict = {}
            ctap2 = Ctap2(open_device(daemon.udp_port, timeout=120))
            thread = threading.Thread(target=lambda: outcome.update(result=make(ctap2, rk=True)), daemon=True)
            thread.start()
            # the page re-renders on the promptStarted event: the prompt and its buttons appear
            chromium.wait_for("document.querySelector('.prompt button.approve') !== null", timeout=60,
                              failure="document.getElementById('error').textContent")
            assert "example.com wants to create a credential" in chromium.evaluate("document.querySelector('.prompt').textContent")
            chromium.evaluate("document.querySelector('.prompt button.approve').click()")
            thread.join(60)
            assert "result" in outcome, "the approved makeCredential did not finish"
            # the credential and the events show up without a reload
            chromium.wait_for("document.querySelectorAll('table.credentials tr').length === 2", timeout=60,
                              failure="document.getElementById('error').textContent")
            chromium.wait_for("document.querySelector('#log .credentialAdded') !== null", timeout=60)
            assert chromium.evaluate("document.querySelector('.no-prompts') !== null")
            answered = [e for e in daemon.control.recent_events() if e["type"] == "promptAnswered"]
            assert answered and answered[-1]["answeredBy"] == "control" and answered[-1]["result"] == "approved"
        finally:
            chromium.close()
