#!/usr/bin/env bash
# Installs what building and testing vfido need on Debian: system packages when run as root
# (otherwise it names what is missing), and the Python venv with the interop peers.
#   scripts/install-deps.sh build     packages needed to build
#   scripts/install-deps.sh test      ... and to run every test tier (includes the venv)
# With `test`, packages for the kernel tier that cannot be installed (not root) are reported,
# and that tier then says it did not run; the build packages are required either way.
set -euo pipefail
cd "$(dirname "$0")/.."
what=${1:-test}

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
missing_of() { local p; for p in "$@"; do installed "$p" || echo "$p"; done; }
can_install() { [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; }

apt_install() {
    export DEBIAN_FRONTEND=noninteractive TMPDIR=/var/tmp
    echo "== installing Debian packages: $*"
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

build_packages=(libsqlite3-dev zlib1g-dev libcurl4)  # zlib: large blobs (DEFLATE); libcurl4: Foundation's URLSession (vfido e2e)
# usbip (host list + guest), fido2-tools (guest), qemu + busybox + cpio (the guest itself)
kernel_packages=(usbip fido2-tools qemu-system-x86 busybox-static cpio)
# the libfido2/OpenSSH tier: the tools, the header and a compiler for the shim, ssh-keygen
libfido2_packages=(fido2-tools libfido2-dev gcc libc6-dev openssh-client)
# the browser tiers: headless Chromium driving the RP's hosted pages; Firefox ESR in the guest (5c)
browser_packages=(chromium firefox-esr)
# the desktop prompts tier: a pinentry that asks on a terminal the test holds; a session bus
# (dbus-daemon) and GLib's gdbus, which --presence notify speaks through
desktop_packages=(pinentry-tty dbus libglib2.0-bin)

mapfile -t missing < <(missing_of "${build_packages[@]}")
if [[ "$what" == test ]]; then
    python3 -c 'import venv, ensurepip' 2>/dev/null || missing+=(python3-venv)
    mapfile -t -O "${#missing[@]}" missing < <(missing_of "${kernel_packages[@]}" "${libfido2_packages[@]}" "${browser_packages[@]}" "${desktop_packages[@]}")
fi

if ((${#missing[@]})); then
    if can_install; then
        apt_install "${missing[@]}"
    else
        echo "!! missing Debian packages: ${missing[*]}" >&2
        echo "!! install them (sudo apt-get install ${missing[*]}) or run this as root" >&2
        # Only the build packages and the venv are fatal; the other tiers report themselves.
        for p in "${missing[@]}"; do
            [[ " ${kernel_packages[*]} ${libfido2_packages[*]} ${browser_packages[*]} ${desktop_packages[*]} " == *" $p "* ]] || exit 1
        done
    fi
fi

if [[ "$what" == test ]]; then
    # The kernel tier downloads Debian's kernel package: apt needs its lists.
    if can_install && ! apt-cache show linux-image-amd64 >/dev/null 2>&1; then
        apt-get update -qq
    fi
    stamp=.venv/.requirements-installed
    if [[ ! -f $stamp || Tests/Interop/requirements.txt -nt $stamp ]]; then
        echo "== creating .venv with the interop peers (python-fido2, py_webauthn, pytest, websocket-client)"
        python3 -m venv .venv
        .venv/bin/pip install -q --disable-pip-version-check -r Tests/Interop/requirements.txt
        touch "$stamp"
    fi
fi
