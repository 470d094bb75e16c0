"""Key files sealed under a passphrase (docs/security.md): the storage key and the RP's
token-signing key are never in clear on disk, a daemon without the passphrase (or with a wrong
one) refuses to start and leaves the files as they were, `vfido passphrase set/remove` reseal
them, and every source of the passphrase (file, environment, systemd credential, terminal)
opens them. python-fido2 checks the credential made before still signs afterwards."""
from __future__ import annotations

import json
import os
import pty
import subprocess
import time
import urllib.request
from pathlib import Path

from fido2.ctap2 import Ctap2

from conftest import VFIDO, Daemon, free_tcp_port, free_udp_port
from ctap_helpers import RP, cdh, make

MAGIC = b"vfidoSK1"


def jwks(d: Daemon) -> dict:
    with urllib.request.urlopen(f"{d.rp_url}/cis/oidc/jwks", timeout=10) as response:
        return json.loads(response.read())["keys"][0]


def refused(state: Path, *args: str, env: dict | None = None) -> str:
    """Starts `vfido serve` that must refuse: its exit status and what it said."""
    cmd = [str(VFIDO), "serve", "--state", str(state), "--udp", f"127.0.0.1:{free_udp_port()}", "--no-usbip",
           "--api", "127.0.0.1:0", "--rp", f"127.0.0.1:{free_tcp_port()}", *args]
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=60, env=env)
    assert run.returncode != 0, run.stdout
    return run.stderr


def key_files(state: Path) -> dict[str, bytes]:
    return {name: (state / name).read_bytes() for name in ("storage.key", "rp-signing.key")}


def verifies(ctap2: Ctap2, credential) -> None:
    """The credential signs, checked by python-fido2 under the public key makeCredential returned."""
    assertion = ctap2.get_assertion(RP["id"], cdh(), [{"type": "public-key", "id": credential.credential_id}])
    credential.public_key.verify(bytes(assertion.auth_data) + cdh(), assertion.signature)


def test_sealed_key_files_open_only_with_their_passphrase(tmp_path, monkeypatch):
    state = tmp_path / "state"
    secret = tmp_path / "passphrase"
    secret.write_text("correct horse battery staple\n")
    d = Daemon(state, "--passphrase-file", str(secret))
    try:
        made = make(Ctap2(d.device()), rk=True)
        rp_key = jwks(d)
    finally:
        d.stop()
    files = key_files(state)
    for name, content in files.items():
        assert content.startswith(MAGIC), f"{name} is not sealed"
        assert (state / name).stat().st_mode & 0o777 == 0o600
    assert b"signing_key" not in (state / "rp.sqlite3").read_bytes()

    assert "is sealed with a passphrase" in refused(state)
    wrong = tmp_path / "wrong"
    wrong.write_text("not it")
    assert "does not open with this passphrase" in refused(state, "--passphrase-file", str(wrong))
    assert key_files(state) == files, "a refused start must leave the key files as they were"

    # The environment opens them, and so does a systemd credential.
    monkeypatch.setenv("VFIDO_PASSPHRASE", "correct horse battery staple")
    d = Daemon(state)
    try:
        verifies(Ctap2(d.device()), made.auth_data.credential_data)
        assert jwks(d) == rp_key, "the RP's signing key must survive the restart"
    finally:
        d.stop()
    monkeypatch.delenv("VFIDO_PASSPHRASE")
    credentials = tmp_path / "credentials"
    credentials.mkdir()
    (credentials / "vfido.passphrase").write_text("correct horse battery staple")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(credentials))
    d = Daemon(state)
    d.stop()
    monkeypatch.delenv("CREDENTIALS_DIRECTORY")

    # Change the passphrase: the old one no longer opens anything, the new one does.
    new = tmp_path / "new"
    new.write_text("a new passphrase")
    run = subprocess.run([str(VFIDO), "passphrase", "set", "--state", str(state), "--passphrase-file", str(secret),
                          "--new-passphrase-file", str(new)], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert [line.split()[0] for line in run.stdout.splitlines()] == ["sealed", "sealed"]
    assert "does not open with this passphrase" in refused(state, "--passphrase-file", str(secret))
    d = Daemon(state, "--passphrase-file", str(new))
    try:
        verifies(Ctap2(d.device()), made.auth_data.credential_data)
        # A running daemon holds the state: resealing under it is refused.
        run = subprocess.run([str(VFIDO), "passphrase", "remove", "--state", str(state), "--passphrase-file", str(new)],
                             capture_output=True, text=True, timeout=60)
        assert run.returncode != 0 and "already serving" in run.stderr
    finally:
        d.stop()

    # Back in clear: the raw 32-byte key, and a passphrase is now refused as a mistake.
    run = subprocess.run([str(VFIDO), "passphrase", "remove", "--state", str(state), "--passphrase-file", str(new)],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert len((state / "storage.key").read_bytes()) == 32
    assert "lies in clear but a passphrase was given" in refused(state, "--passphrase-file", str(new))
    d = Daemon(state)
    try:
        verifies(Ctap2(d.device()), made.auth_data.credential_data)
        assert jwks(d) == rp_key
    finally:
        d.stop()


def test_the_passphrase_can_be_typed_at_a_terminal(tmp_path):
    state = tmp_path / "state"
    env = dict(os.environ, VFIDO_PASSPHRASE="typed passphrase")
    run = subprocess.run([str(VFIDO), "creds", "list", "--state", str(state)], capture_output=True, text=True, timeout=60, env=env)
    assert run.returncode == 0, run.stderr
    assert (state / "storage.key").read_bytes().startswith(MAGIC)

    def listing(typed: bytes) -> tuple[int, bytes]:
        pid, fd = pty.fork()
        if pid == 0:
            os.execv(str(VFIDO), [str(VFIDO), "creds", "list", "--state", str(state), "--passphrase-prompt"])
        output = b""
        deadline = time.time() + 60
        while b"passphrase for" not in output and time.time() < deadline:
            output += os.read(fd, 1024)
        os.write(fd, typed + b"\n")
        while True:
            try:
                chunk = os.read(fd, 1024)
            except OSError:
                break
            if not chunk:
                break
            output += chunk
        _, status = os.waitpid(pid, 0)
        return os.waitstatus_to_exitcode(status), output

    code, output = listing(b"typed passphrase")
    assert code == 0 and b"no resident credentials" in output, output
    assert b"typed passphrase" not in output, "the terminal must not echo the passphrase"
    code, output = listing(b"mistyped")
    assert code != 0 and b"does not open with this passphrase" in output, output
