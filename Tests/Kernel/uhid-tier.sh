#!/usr/bin/env bash
# Kernel tier for uhid: vfido runs inside a QEMU guest (Debian's kernel) with --uhid, and
# libfido2's tools use the key through hidraw. Prints each step's time.
set -uo pipefail
cd "$(dirname "$0")/../.."
VFIDO=$(realpath "${VFIDO_BIN:-.build/debug/vfido}")
LOGS=${LOGS:-.build/kernel-logs}
mkdir -p "$LOGS"
t0=$SECONDS
Tests/Kernel/build-guest.sh || exit 1
echo "VFIDO=$VFIDO" > "$LOGS/uhid.env"
# A current libfido2 as well as Debian 12's: only the newer reads a uhid key's name.
current=${GUEST:-$PWD/.build/kernel-guest}/libfido2-current
if OUT=$current Tests/Kernel/fetch-current-libfido2.sh; then
    echo "CURRENT_LIBFIDO2=$current/run" >> "$LOGS/uhid.env"
else
    echo "!!!! the current libfido2 could not be fetched: fido2-token -L naming the uhid key is NOT CHECKED"
fi
HOSTROOT=1 MEM=512 Tests/Kernel/run-guest.sh Tests/Kernel/uhid-guest.sh "$LOGS/uhid.env" > "$LOGS/uhid-guest.log" 2>&1
echo "host: guest ran in $((SECONDS - t0)) s"
grep -E '^(STEP|GUEST-)' "$LOGS/uhid-guest.log"
if ! grep -q '^GUEST-OK' "$LOGS/uhid-guest.log"; then
    echo "--- guest log"; tail -60 "$LOGS/uhid-guest.log"
    exit 1
fi
echo "uhid kernel tier passed in $((SECONDS - t0)) s"
