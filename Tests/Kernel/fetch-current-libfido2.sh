#!/usr/bin/env bash
# Fetches the libfido2 tools of Debian's current stable release (13, trixie: libfido2 1.15) and
# the libraries they run on, glibc included, unpacked into a folder: nothing is installed and
# this machine's apt configuration is not touched (a private one is used).
#
# Why: Debian 12's libfido2 1.12 takes a device's name only from a USB parent device, and a uhid
# device has none, so its `fido2-token -L` prints "( )" for every uhid key. Newer libfido2
# (1.15 here) falls back to the HID device's name (HID_NAME), which is where vfido puts it. The uhid
# tier lists the key with both.
#
# Output: $OUT (default .build/kernel-guest/libfido2-current) with root/ (the unpacked packages),
# run (a wrapper: `run fido2-token -L` runs the tool on its own loader and libraries) and version.
# Rebuilds only what is missing. Exits non-zero, saying why, when Debian's archive is unreachable.
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-$PWD/.build/kernel-guest/libfido2-current}
SUITE=${SUITE:-trixie}
[ -x "$OUT/run" ] && [ -s "$OUT/version" ] && exit 0

rm -rf "$OUT"
apt_dir=$OUT/apt
mkdir -p "$apt_dir"/{lists/partial,cache/archives/partial} "$OUT/debs"
echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian $SUITE main" \
    > "$apt_dir/sources.list"
apt_options=(-o "Dir::Etc::SourceList=$apt_dir/sources.list" -o Dir::Etc::SourceParts=/nonexistent
             -o "Dir::State::Lists=$apt_dir/lists" -o "Dir::Cache=$apt_dir/cache" -o Dir::State::status=/dev/null
             -o APT::Sandbox::User=root -o Debug::NoLocking=1 -q)
if ! apt-get "${apt_options[@]}" update >"$apt_dir/update.log" 2>&1; then
    echo "fetch-current-libfido2: cannot read Debian $SUITE's package lists:" >&2
    tail -5 "$apt_dir/update.log" >&2
    exit 1
fi
# fido2-tools and every package it needs at run time (a closed set: each is unpacked, none installed).
mapfile -t packages < <(apt-cache "${apt_options[@]}" depends --recurse --no-recommends --no-suggests \
    --no-conflicts --no-breaks --no-replaces --no-enhances fido2-tools | grep -E '^[a-z0-9]' | sort -u)
(cd "$OUT/debs" && apt-get "${apt_options[@]}" download "${packages[@]}" >/dev/null)
for deb in "$OUT"/debs/*.deb; do dpkg-deb -x "$deb" "$OUT/root"; done
rm -rf "$OUT/debs" "$apt_dir"

lib=$OUT/root/usr/lib/x86_64-linux-gnu
[ -x "$lib/ld-linux-x86-64.so.2" ] && [ -x "$OUT/root/usr/bin/fido2-token" ] || {
    echo "fetch-current-libfido2: the unpacked packages have no loader or no fido2-token" >&2; exit 1; }
# The wrapper finds its folder at run time, so it works wherever the folder is seen from (the
# QEMU guest sees it through its read-only share of the host's /).
cat > "$OUT/run" <<'RUN'
#!/bin/sh
# run TOOL ARGS...: one of Debian 13's libfido2 tools, on Debian 13's loader and libraries.
here=$(cd "$(dirname "$0")" && pwd)
lib=$here/root/usr/lib/x86_64-linux-gnu
tool=$1; shift
exec "$lib/ld-linux-x86-64.so.2" --library-path "$lib" "$here/root/usr/bin/$tool" "$@"
RUN
chmod +x "$OUT/run"
version=$(basename "$(readlink -f "$lib/libfido2.so.1")")
"$OUT/run" fido2-token -L >/dev/null || { echo "fetch-current-libfido2: fido2-token does not run on its own libraries" >&2; exit 1; }
echo "${version#libfido2.so.} (Debian $SUITE)" > "$OUT/version"
echo "current libfido2: $(cat "$OUT/version") in $OUT"
