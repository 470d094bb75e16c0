#!/usr/bin/env bash
# Regenerates docs/img/pinentry-gtk2.png, the dialog `--presence pinentry` shows on a desktop:
# vfido under a virtual X server (Xvfb) with pinentry-gtk-2, asked by python-fido2 to register a
# credential for "alice" at example.com. Needs xvfb, pinentry-gtk2, x11-apps (xwd) and
# ImageMagick (convert). Not part of make test: it makes a picture for the docs.
set -euo pipefail
cd "$(dirname "$0")/.."
VFIDO=${VFIDO_BIN:-.build/debug/vfido}
WORK=$(mktemp -d /tmp/vfido-screenshot.XXXXXX)
display=:$((90 + RANDOM % 9))
cleanup() { kill "${vfido_pid:-}" "${x_pid:-}" 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT
Xvfb "$display" -screen 0 720x420x24 >/dev/null 2>&1 &
x_pid=$!
DISPLAY=$display "$VFIDO" serve --ephemeral --no-rp --no-api --no-usbip --udp 127.0.0.1:0 --presence pinentry \
    --pinentry pinentry-gtk-2 --prompt-timeout 60 >"$WORK/banner" 2>"$WORK/log" &
vfido_pid=$!
for _ in $(seq 100); do grep -q "Stop with" "$WORK/banner" 2>/dev/null && break; sleep 0.1; done
port=$(grep -oE 'UDP 127\.0\.0\.1:[0-9]+' "$WORK/banner" | cut -d: -f2)
.venv/bin/python - "$port" <<'PY' &
import sys
sys.path.insert(0, "Tests/Interop")
from fido2.ctap2 import Ctap2
from vfido_udp import open_device
ctap2 = Ctap2(open_device(int(sys.argv[1]), timeout=90))
try:
    ctap2.make_credential(b"\0" * 32, {"id": "example.com", "name": "Example"}, {"id": b"alice", "name": "alice"},
                          [{"type": "public-key", "alg": -7}])
except Exception:
    pass
PY
sleep 4  # the dialog draws itself
xwd -root -display "$display" -silent | convert xwd:- -trim +repage -bordercolor white -border 12 docs/img/pinentry-gtk2.png
echo "wrote docs/img/pinentry-gtk2.png"
