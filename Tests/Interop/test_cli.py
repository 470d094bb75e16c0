"""The command line a newcomer meets: help for every option, errors that say what to do."""
from __future__ import annotations

import re
import subprocess

import pytest
from fido2.ctap2 import Ctap2


def run(vfido_bin, *args, check=True):
    return subprocess.run([str(vfido_bin), *args], capture_output=True, text=True, check=check, timeout=30)


def test_top_level_help_names_every_command(vfido_bin):
    out = run(vfido_bin, "--help").stdout
    for command in ("serve", "rp", "e2e", "attestation", "creds"):
        assert re.search(rf"^\s+{command}\s+\S", out, re.M), f"{command} is not explained:\n{out}"
    assert "UDP" in out


@pytest.mark.parametrize("command, options", [
    (["serve"], ["--state", "--ephemeral", "--udp", "--no-udp", "--usbip", "--no-usbip", "--usbip-max-connections", "--allow-remote", "--keys",
                 "--vid-pid", "--product", "--manufacturer", "--presence", "--attestation", "--reset-window", "--log-level"]),
    (["serve"], ["--no-rp", "--rp", "--rp-id", "--rp-origin", "--rp-client", "--rp-attestation-root", "--rp-ceremony-timeout"]),
    (["rp", "serve"], ["--rp", "--rp-id", "--rp-origin", "--rp-client", "--rp-redirect-prefix", "--rp-attestation-root",
                       "--rp-require-trusted-attestation", "--rp-ceremony-timeout", "--rp-database", "--allow-remote",
                       "--rp-resident-key", "--rp-user-verification"]),
    (["e2e"], ["--rp", "--origin", "--udp", "--pin", "--client", "--timeout-wait", "--ceremonies", "--json", "-v, --verbose"]),
    (["attestation", "root"], ["--state", "--ephemeral"]),
    (["creds", "list"], ["--state"]),
])
def test_every_option_has_a_description(vfido_bin, command, options):
    out = run(vfido_bin, *command, "--help").stdout
    for option in options:
        line = next((l for l in out.splitlines() if l.strip().startswith(option)), None)
        assert line is not None, f"{option} missing from `vfido {' '.join(command)} --help`:\n{out}"
        described = line.split(option, 1)[1].split(">", 1)[-1].strip() or out.split(line, 1)[1].splitlines()[1].strip()
        assert len(described) > 10, f"{option} has no description:\n{out}"


@pytest.mark.parametrize("args, message", [
    (["serve", "--udp", "nonsense"], "--udp"),
    (["serve", "--presence", "maybe"], "--presence"),
    (["serve", "--attestation", "fancy"], "--attestation"),
    (["serve", "--reset-window", "-1"], "reset-window"),
    (["serve", "--keys", "0"], "--keys"),
    (["serve", "--vid-pid", "12:zz"], "--vid-pid"),
    (["serve", "--vid-pid", "12345:1"], "--vid-pid"),
    (["serve", "--usbip-max-connections", "0"], "--usbip-max-connections"),
    (["serve", "--usbip", "0.0.0.0:3240"], "--allow-remote"),
    (["serve", "--udp", "192.0.2.1:8111"], "--allow-remote"),
    (["serve", "--no-udp", "--no-usbip"], "no way to reach"),
    (["rp", "serve", "--rp", "0.0.0.0:8080"], "--allow-remote"),
    (["rp", "serve", "--rp-client", "nocolon"], "id:secret"),
    (["rp", "serve", "--rp", "127.0.0.1:0"], "--rp-origin"),
    (["serve", "--rp", "127.0.0.1:0"], "--rp-origin"),
    (["rp", "serve", "--rp-resident-key", "always"], "--rp-resident-key"),
    (["rp", "serve", "--rp-user-verification", "sometimes"], "--rp-user-verification"),
    (["e2e", "--rp", "not a url"], "--rp"),
    (["e2e", "--udp", "8111"], "--udp"),
    (["e2e", "--client", "nocolon"], "id:secret"),
])
def test_bad_options_are_refused_with_the_option_named(vfido_bin, args, message):
    result = run(vfido_bin, *args, check=False)
    assert result.returncode != 0
    assert message in result.stderr


def test_serve_says_where_it_listens_and_how_to_connect(daemon):
    assert f"127.0.0.1:{daemon.port}" in daemon.banner
    assert "python-fido2" in daemon.banner and "libfido2" in daemon.banner
    assert "vfido attestation root" in daemon.banner


def test_udp_port_in_use_is_a_clear_error(daemon, vfido_bin, tmp_path):
    result = run(vfido_bin, "serve", "--ephemeral", "--no-usbip", "--no-rp", "--udp", f"127.0.0.1:{daemon.port}", check=False)
    assert result.returncode != 0
    assert f"cannot listen on UDP 127.0.0.1:{daemon.port}" in result.stderr


def test_usbip_port_in_use_is_a_clear_error(start_daemon, vfido_bin):
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        result = run(vfido_bin, "serve", "--ephemeral", "--no-udp", "--no-rp", "--usbip", f"127.0.0.1:{port}", check=False)
    assert result.returncode != 0
    assert f"cannot listen for USB/IP on 127.0.0.1:{port}" in result.stderr


def test_a_second_daemon_on_the_same_state_is_refused(start_daemon, vfido_bin):
    first = start_daemon()
    result = run(vfido_bin, "serve", "--state", str(first.state), "--no-usbip", "--no-rp", "--udp", "127.0.0.1:0", check=False)
    assert result.returncode != 0
    assert f"another vfido is already serving {first.state}" in result.stderr
    # The first one is untouched, and once it stops the state is free again.
    assert Ctap2(first.device()).get_info().versions
    first.stop()
    again = start_daemon(state=first.state)
    assert Ctap2(again.device()).get_info().versions


def consecutive_free_udp_ports(count: int) -> int:
    """A base port with `count` free ports from it (the keys of `--keys N` listen on base..base+N-1)."""
    import random
    import socket
    for _ in range(50):
        base = random.randrange(20000, 60000 - count)
        held = []
        try:
            for p in range(base, base + count):
                s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                held.append(s)
                s.bind(("127.0.0.1", p))
            return base
        except OSError:
            continue
        finally:
            for s in held:
                s.close()
    raise RuntimeError(f"no {count} consecutive free UDP ports")


def test_a_farm_of_keys_starts_and_every_key_is_its_own(vfido_bin, tmp_path):
    # Keys start a few dozen at a time: each must still come up on its own port, with its own
    # store and serial, and keep what it was given across a restart.
    from fido2.ctap2 import Ctap2
    from vfido_udp import open_device
    from ctap_helpers import make
    count = 40
    base = consecutive_free_udp_ports(count)
    cmd = [str(vfido_bin), "serve", "--state", str(tmp_path / "farm"), "--keys", str(count), "--udp", f"127.0.0.1:{base}",
           "--no-usbip", "--no-rp", "--no-api"]

    def serve():
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        banner = []
        for line in proc.stdout:
            banner.append(line)
            if line.startswith("Stop with"):
                return proc, "".join(banner)
        proc.wait(timeout=30)
        raise AssertionError(f"vfido exited: {''.join(banner)} {proc.stderr.read()}")

    proc, banner = serve()
    try:
        assert f"keys 5-{count}" in banner and f"UDP ports to {base + count - 1}" in banner, banner
        for n in range(count):
            dev = open_device(base + n)  # INIT, then getInfo over the key's own port
            assert "FIDO_2_1" in Ctap2(dev).get_info().versions
            dev.close()
        last = open_device(base + count - 1)
        make(Ctap2(last), rk=True)
        assert Ctap2(last).get_info().remaining_disc_creds < Ctap2(open_device(base)).get_info().remaining_disc_creds
    finally:
        proc.terminate()
        assert proc.wait(timeout=30) == 0
    assert (tmp_path / "farm" / f"key-{count}").is_dir()
    proc, _ = serve()
    try:
        first, last = Ctap2(open_device(base)), Ctap2(open_device(base + count - 1))
        assert last.get_info().remaining_disc_creds < first.get_info().remaining_disc_creds
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_a_key_that_cannot_start_stops_the_farm_cleanly(vfido_bin, tmp_path):
    # One taken port among many: the daemon says which, exits, and leaves nothing held (the
    # state lock is free: the same command starts once the port is free).
    import socket
    count = 20
    base = consecutive_free_udp_ports(count)
    blocker = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    blocker.bind(("127.0.0.1", base + 13))
    cmd = [str(vfido_bin), "serve", "--state", str(tmp_path / "farm"), "--keys", str(count), "--udp", f"127.0.0.1:{base}",
           "--no-usbip", "--no-rp", "--no-api"]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert f"cannot listen on UDP 127.0.0.1:{base + 13}" in result.stderr
    blocker.close()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert any(line.startswith("Stop with") for line in proc.stdout)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
