#!/usr/bin/env bash
# Installs what building and testing vfido need on Debian: system packages when run as root
# (otherwise it names what is missing), and the Python venv with the interop peers.
#   scripts/install-deps.sh build     packages needed to build
#   scripts/install-deps.sh test      ... and to test (includes the venv)
set -euo pipefail
cd "$(dirname "$0")/.."
what=${1:-test}

packages=(libsqlite3-dev)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [[ "$what" == test ]] && ! python3 -c 'import venv, ensurepip' 2>/dev/null; then
    missing+=(python3-venv)
fi

if ((${#missing[@]})); then
    if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
        echo "== installing Debian packages: ${missing[*]}"
        export DEBIAN_FRONTEND=noninteractive TMPDIR=/var/tmp
        apt-get update -qq
        apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    else
        echo "!! missing Debian packages: ${missing[*]}" >&2
        echo "!! install them (sudo apt-get install ${missing[*]}) or run this as root" >&2
        exit 1
    fi
fi

if [[ "$what" == test ]]; then
    stamp=.venv/.requirements-installed
    if [[ ! -f $stamp || Tests/Interop/requirements.txt -nt $stamp ]]; then
        echo "== creating .venv with the interop peers (python-fido2, py_webauthn, pytest)"
        python3 -m venv .venv
        .venv/bin/pip install -q --disable-pip-version-check -r Tests/Interop/requirements.txt
        touch "$stamp"
    fi
fi
