#!/usr/bin/env bash
# Kernel tier for USB/IP: vfido on the host (two ephemeral keys), a QEMU guest with Debian's
# kernel attaching them with `usbip attach` and using them through hidraw with fido2-tools.
# Prints each step's time; fails on any failed step or on a vhci/usbip error in the guest's
# kernel log.
set -uo pipefail
cd "$(dirname "$0")/../.."
VFIDO=${VFIDO_BIN:-.build/debug/vfido}
LOGS=${LOGS:-.build/kernel-logs}
mkdir -p "$LOGS"
t0=$SECONDS

Tests/Kernel/build-guest.sh || exit 1
echo "host: guest ready in $((SECONDS - t0)) s"

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
api_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
setsid "$VFIDO" serve --ephemeral --keys 2 --no-udp --no-rp --usbip "127.0.0.1:$port" --api "127.0.0.1:$api_port" > "$LOGS/vfido.log" 2>&1 &
vfido_pid=$!
trap 'kill -TERM -- -$vfido_pid 2>/dev/null; wait $vfido_pid 2>/dev/null' EXIT
for _ in $(seq 100); do
    (exec 3<>/dev/tcp/127.0.0.1/"$port") 2>/dev/null && break
    kill -0 $vfido_pid 2>/dev/null || { echo "vfido exited"; cat "$LOGS/vfido.log"; exit 1; }
    sleep 0.1
done

# Tier 4 on the host: the real usbip client lists both keys.
if ! usbip --tcp-port "$port" list -r 127.0.0.1 > "$LOGS/host-list.txt" 2>&1 \
    || ! grep -q '1-1:.*(1209:0001)' "$LOGS/host-list.txt" || ! grep -q '1-2:.*(1209:0001)' "$LOGS/host-list.txt"; then
    echo "FAIL: usbip list -r 127.0.0.1 on the host"; cat "$LOGS/host-list.txt"; exit 1
fi
echo "host: usbip list -r 127.0.0.1 lists 1-1 and 1-2 as 1209:0001"

# The guest drives the control API too (unplug, plug, add and remove a key): its token.
for _ in $(seq 100); do grep -q '^Stop with' "$LOGS/vfido.log" && break; sleep 0.1; done
token_file=$(sed -n 's/.*(bearer token in \([^;]*\);.*/\1/p' "$LOGS/vfido.log" | head -1)
[[ -f $token_file ]] || { echo "FAIL: no control token named in the banner"; cat "$LOGS/vfido.log"; exit 1; }
printf 'PORT=%s\nAPI_PORT=%s\nTOKEN=%s\n' "$port" "$api_port" "$(cat "$token_file")" > "$LOGS/guest.env"
t1=$SECONDS
Tests/Kernel/run-guest.sh Tests/Kernel/usbip-guest.sh "$LOGS/guest.env" > "$LOGS/guest.log" 2>&1
echo "host: guest ran in $((SECONDS - t1)) s"
grep -E '^(STEP|GUEST-)' "$LOGS/guest.log"
if ! grep -q '^GUEST-OK' "$LOGS/guest.log"; then
    echo "--- guest log"; tail -60 "$LOGS/guest.log"
    echo "--- vfido log"; tail -30 "$LOGS/vfido.log"
    exit 1
fi
if ! kill -0 $vfido_pid 2>/dev/null; then echo "FAIL: vfido died during the run"; exit 1; fi
echo "USB/IP kernel tier passed in $((SECONDS - t0)) s"
