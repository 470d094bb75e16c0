"""Installation: the udev rules, the systemd units, `make install` / `make uninstall`, and what
`vfido serve --uhid` says when it cannot create a device."""
from __future__ import annotations

import fnmatch
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "udev" / "70-vfido.rules"

# udev's rule syntax: KEY[{attr}] OP "value", comma separated.
ASSIGNMENT = re.compile(r'\s*([A-Z_]+)(\{[^}]+\})?\s*(==|!=|\+=|-=|:=|=)\s*"([^"]*)"\s*(,|$)')
MATCH_KEYS = {"ACTION", "DEVPATH", "KERNEL", "KERNELS", "NAME", "SUBSYSTEM", "SUBSYSTEMS", "DRIVER", "DRIVERS",
              "ATTR", "ATTRS", "ENV", "TAG", "TAGS", "TEST", "PROGRAM", "RESULT"}
ASSIGN_KEYS = {"GROUP", "MODE", "OWNER", "TAG", "ENV", "OPTIONS", "RUN", "SYMLINK", "ATTR", "NAME", "LABEL", "GOTO"}


def parse_rules(text: str) -> list[list[tuple[str, str, str, str]]]:
    rules = []
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        position, rule = 0, []
        while position < len(line):
            m = ASSIGNMENT.match(line, position)
            assert m, f"line {number}: cannot parse {line[position:]!r}"
            key, attr, op, value, _ = m.groups()
            if op in ("==", "!="):
                assert key in MATCH_KEYS, f"line {number}: {key} cannot be matched"
            else:
                assert key in ASSIGN_KEYS, f"line {number}: {key} cannot be assigned"
            rule.append((key, attr or "", op, value))
            position = m.end()
        rules.append(rule)
    return rules


def applies(rule, device: dict) -> bool:
    """Does a rule's match part fit a device? `device` has KERNEL, SUBSYSTEM, and KERNELS: the
    names of the device and its parents, as udev walks them."""
    for key, _, op, value in rule:
        if op not in ("==", "!="):
            continue
        if key == "KERNELS":
            hit = any(fnmatch.fnmatchcase(k, value) for k in device["KERNELS"])
        else:
            hit = fnmatch.fnmatchcase(device.get(key, ""), value)
        if hit != (op == "=="):
            return False
    return True


def assignments(rules, device):
    return [(k, a, op, v) for rule in rules if applies(rule, device) for (k, a, op, v) in rule if op not in ("==", "!=")]


# Device chains as the kernel names them (the guest tiers check these names on a real kernel).
HIDRAW_OVER_USBIP = {"KERNEL": "hidraw0", "SUBSYSTEM": "hidraw",
                     "KERNELS": ["hidraw0", "0003:1209:0001.0001", "1-1:1.0", "1-1", "usb1", "vhci_hcd.0"]}
HIDRAW_OVER_UHID = {"KERNEL": "hidraw1", "SUBSYSTEM": "hidraw", "KERNELS": ["hidraw1", "0003:1209:0001.0002", "uhid"]}
OTHER_KEY = {"KERNEL": "hidraw2", "SUBSYSTEM": "hidraw", "KERNELS": ["hidraw2", "0003:1050:0407.0003", "3-1:1.0", "3-1"]}
UHID_NODE = {"KERNEL": "uhid", "SUBSYSTEM": "misc", "KERNELS": ["uhid"]}


def test_udev_rules_parse():
    rules = parse_rules(RULES.read_text())
    assert len(rules) == 2


@pytest.mark.parametrize("device", [HIDRAW_OVER_USBIP, HIDRAW_OVER_UHID], ids=["usbip", "uhid"])
def test_udev_rules_give_vfido_hidraw_to_the_seat_user(device):
    given = assignments(parse_rules(RULES.read_text()), device)
    assert ("TAG", "", "+=", "uaccess") in given
    assert ("ENV", "{ID_SECURITY_TOKEN}", "=", "1") in given


def test_udev_rules_leave_other_devices_alone():
    assert assignments(parse_rules(RULES.read_text()), OTHER_KEY) == []


def test_udev_rules_open_uhid_to_the_vfido_group():
    given = assignments(parse_rules(RULES.read_text()), UHID_NODE)
    assert ("GROUP", "", "=", "vfido") in given and ("MODE", "", "=", "0660") in given


def test_udev_rules_match_vfidos_default_vid_pid(vfido_bin):
    help_text = subprocess.run([str(vfido_bin), "serve", "--help"], capture_output=True, text=True, check=True).stdout
    default = re.search(r"--vid-pid.*?default: .*?([0-9a-fA-F]{4}):([0-9a-fA-F]{4})", help_text, re.S)
    assert default, help_text
    vid, pid = (x.upper() for x in default.groups())
    assert f'KERNELS=="0003:{vid}:{pid}.*"' in RULES.read_text()


def make(*args, env=None):
    return subprocess.run(["make", "-s", "-C", str(ROOT), *args], capture_output=True, text=True, env=env, timeout=120)


@pytest.mark.parametrize("prefix, rules_dir", [("/usr/local", "etc/udev/rules.d"), ("/usr", "usr/lib/udev/rules.d")])
def test_make_install_and_uninstall(tmp_path, vfido_bin, prefix, rules_dir):
    dest = tmp_path / "dest"
    result = make("install", f"DESTDIR={dest}", f"PREFIX={prefix}", f"VFIDO_BIN={vfido_bin}")
    assert result.returncode == 0, result.stderr
    p = prefix.lstrip("/")
    expected = {
        f"{p}/bin/vfido": 0o755,
        f"{rules_dir}/70-vfido.rules": 0o644,
        f"{p}/lib/systemd/system/vfido.service": 0o644,
        f"{p}/lib/systemd/user/vfido.service": 0o644,
        f"{p}/lib/sysusers.d/vfido.conf": 0o644,
        f"{p}/lib/modules-load.d/vfido.conf": 0o644,
    }
    files = {str(f.relative_to(dest)): f.stat().st_mode & 0o777 for f in dest.rglob("*") if f.is_file()}
    assert files == expected
    assert (dest / rules_dir / "70-vfido.rules").read_text() == RULES.read_text()
    for unit in (f"{p}/lib/systemd/system/vfido.service", f"{p}/lib/systemd/user/vfido.service"):
        text = (dest / unit).read_text()
        assert f"ExecStart={prefix}/bin/vfido serve" in text and "@BINDIR@" not in text
        assert "--no-rp" in text  # a service is the key alone: the test RP would take port 8080 unasked
    assert "--uhid" in (dest / f"{p}/lib/systemd/user/vfido.service").read_text()
    installed = subprocess.run([str(dest / p / "bin" / "vfido"), "--version"], capture_output=True, text=True)
    assert installed.returncode == 0 and installed.stdout.strip()

    result = make("uninstall", f"DESTDIR={dest}", f"PREFIX={prefix}", f"VFIDO_BIN={vfido_bin}")
    assert result.returncode == 0, result.stderr
    assert [f for f in dest.rglob("*") if f.is_file()] == []


@pytest.mark.skipif(Path("/dev/uhid").exists(), reason="this machine has /dev/uhid")
def test_serve_uhid_without_dev_uhid_fails_fast_and_says_what_to_do(vfido_bin):
    result = subprocess.run([str(vfido_bin), "serve", "--uhid", "--ephemeral"], capture_output=True, text=True, timeout=30)
    assert result.returncode != 0
    # Fast means before anything started: no listener, no key (not a time bound, which a loaded
    # machine would break).
    assert "Server started" not in result.stderr and "ready" not in result.stdout
    assert "/dev/uhid does not exist" in result.stderr
    assert "modprobe uhid" in result.stderr
    assert "usbip attach" in result.stderr  # the other route


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("setpriv"), reason="needs root to drop to another user")
def test_serve_uhid_without_permission_points_at_the_udev_rules(vfido_bin, tmp_path):
    node = tmp_path / "uhid"
    node.write_bytes(b"")
    node.chmod(0o600)
    tmp_path.chmod(0o755)
    result = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", str(vfido_bin), "serve",
                             "--uhid", "--uhid-path", str(node), "--ephemeral"], capture_output=True, text=True, timeout=30)
    assert result.returncode != 0
    assert f"no permission to open {node}" in result.stderr
    assert "70-vfido.rules" in result.stderr and "vfido" in result.stderr


@pytest.mark.skipif(not shutil.which("systemd-analyze"), reason="systemd-analyze is not installed")
def test_systemd_units_verify_cleanly(tmp_path, vfido_bin):
    """systemd-analyze verify: no unknown keys, no bad values, an executable ExecStart."""
    prefix = tmp_path / "prefix"
    result = make("install", f"PREFIX={prefix}", f"UDEVRULESDIR={prefix}/udev", f"VFIDO_BIN={vfido_bin}")
    assert result.returncode == 0, result.stderr
    for unit in ("system", "user"):
        check = subprocess.run(["systemd-analyze", "verify", "--man=no", str(prefix / "lib/systemd" / unit / "vfido.service")],
                               capture_output=True, text=True, timeout=60)
        said = check.stdout + check.stderr
        if systemd_version() < 254:  # ImportCredential= came in systemd 254; older ones ignore it (docs/security.md)
            said = "\n".join(line for line in said.splitlines() if "Unknown key 'ImportCredential'" not in line)
        assert check.returncode == 0 and said == "", said


def systemd_version() -> int:
    first = subprocess.run(["systemd-analyze", "--version"], capture_output=True, text=True, timeout=60).stdout.split()
    return int(first[1]) if len(first) > 1 and first[1].isdigit() else 0
