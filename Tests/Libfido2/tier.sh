#!/usr/bin/env bash
# Tier 3b: libfido2's own tools and OpenSSH, unmodified, drive vfido over UDP through the
# project's LD_PRELOAD shim (Tests/Libfido2/vfido_udp_shim.c, built here from source).
# PINs are typed on stdin: the tools run without a controlling terminal (setsid), so
# readpassphrase falls back to stdin; OpenSSH gets its PIN from an askpass script.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
VFIDO=${VFIDO_BIN:-$ROOT/.build/debug/vfido}
WORK=$(mktemp -d /tmp/vfido-libfido2.XXXXXX)
PORT=$(python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
DEV=vfido-udp:127.0.0.1:$PORT
PIN=246810
NEWPIN=13579135
pid=

cleanup() {
    [[ -n $pid ]] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT

step() { printf '\n-- %s\n' "$*"; }
fail() { echo "FAIL: $*" >&2; [[ -f $WORK/vfido.log ]] && tail -20 "$WORK/vfido.log" >&2; exit 1; }
expect() {  # description, haystack, needle
    grep -qF -- "$3" <<<"$2" || fail "$1: expected to see '$3' in: $2"
    echo "ok: $1"
}
# A libfido2 tool with PIN lines on stdin and no terminal.
with_pins() { local pins=$1; shift; printf '%s\n' $pins | setsid -w "$@"; }

step "build the shim from source"
gcc -shared -fPIC -O2 -Wall -Wextra -Werror -o "$WORK/shim.so" Tests/Libfido2/vfido_udp_shim.c -ldl
export LD_PRELOAD=$WORK/shim.so VFIDO_UDP=127.0.0.1:$PORT

start_vfido() {
    "$VFIDO" serve --state "$WORK/state" --udp "127.0.0.1:$PORT" --no-usbip --no-rp --reset-window 0 >"$WORK/banner" 2>>"$WORK/vfido.log" &
    pid=$!
    for _ in $(seq 100); do grep -q "Stop with" "$WORK/banner" 2>/dev/null && return; sleep 0.1; done
    fail "vfido did not start"
}
start_vfido

step "fido2-token -L lists the key; -I lists exactly what getInfo claims"
out=$(fido2-token -L)
expect "fido2-token -L" "$out" "$DEV: vendor=0x0000, product=0x0000 (vfido Virtual FIDO2 Key (UDP))"
info=$(fido2-token -I "$DEV")
echo "$info"
expected=$(.venv/bin/python Tests/Libfido2/expected_info.py "$PORT" Tests/Interop)
while IFS= read -r line; do
    grep -qxF -- "$line" <<<"$info" || fail "fido2-token -I lacks the line '$line'"
done <<<"$expected"
echo "ok: fido2-token -I matches python-fido2's getInfo line for line ($(wc -l <<<"$expected") lines)"
expect "no PIN yet" "$info" "noclientPin"

step "fido2-token -S sets a PIN, -C changes it"
with_pins "$PIN $PIN" fido2-token -S "$DEV" 2>/dev/null
expect "PIN set" "$(fido2-token -I "$DEV")" ", clientPin,"
with_pins "$PIN $NEWPIN $NEWPIN" fido2-token -C "$DEV" 2>/dev/null
if with_pins "$PIN" fido2-token -L -r "$DEV" >/dev/null 2>&1; then fail "the old PIN still works"; fi
expect "a wrong PIN counts down" "$(fido2-token -I "$DEV")" "pin retries: 7"

step "fido2-cred -M -r -h makes a resident credential with hmac-secret; fido2-cred -V verifies it"
{ head -c32 /dev/urandom | base64; echo example.com; echo alice; head -c16 /dev/urandom | base64; } >"$WORK/cred.in"
with_pins "$NEWPIN" fido2-cred -M -r -h -i "$WORK/cred.in" -o "$WORK/cred.out" "$DEV" es256 2>/dev/null
fido2-cred -V -h -i "$WORK/cred.out" -o "$WORK/cred.verified" es256
sed -n 1p "$WORK/cred.verified" >"$WORK/cred.id"
sed -n '2,$p' "$WORK/cred.verified" >"$WORK/cred.pem"
expect "fido2-cred -V wrote the public key" "$(cat "$WORK/cred.pem")" "BEGIN PUBLIC KEY"
{ head -c32 /dev/urandom | base64; echo example.com; echo bob; head -c16 /dev/urandom | base64; } >"$WORK/cred2.in"
with_pins "$NEWPIN" fido2-cred -M -r -i "$WORK/cred2.in" -o "$WORK/cred2.out" "$DEV" eddsa 2>/dev/null
fido2-cred -V -i "$WORK/cred2.out" -o "$WORK/cred2.verified" eddsa

step "fido2-assert -G -h -p -v, then fido2-assert -V; hmac-secret stable per salt"
salt=$(head -c32 /dev/urandom | base64)
{ head -c32 /dev/urandom | base64; echo example.com; cat "$WORK/cred.id"; echo "$salt"; } >"$WORK/assert.in"
with_pins "$NEWPIN" fido2-assert -G -h -p -v -i "$WORK/assert.in" -o "$WORK/assert.out" "$DEV" 2>/dev/null
fido2-assert -V -h -p -v -i "$WORK/assert.out" "$WORK/cred.pem" es256
echo "ok: fido2-assert -V verified the signature (UP and UV required)"
with_pins "$NEWPIN" fido2-assert -G -h -p -v -i "$WORK/assert.in" -o "$WORK/assert2.out" "$DEV" 2>/dev/null
[[ $(tail -1 "$WORK/assert.out") == $(tail -1 "$WORK/assert2.out") ]] || fail "hmac-secret differs for the same salt"
echo "ok: the same salt gives the same hmac-secret"

step "fido2-token -L -r / -L -k list the passkeys; -D -i deletes one"
rps=$(with_pins "$NEWPIN" fido2-token -L -r "$DEV" 2>/dev/null)
expect "one RP" "$rps" "example.com"
creds=$(with_pins "$NEWPIN" fido2-token -L -k example.com "$DEV" 2>/dev/null)
[[ $(wc -l <<<"$creds") -eq 2 ]] || fail "expected 2 credentials, got: $creds"
expect "alice's credential listed" "$creds" "$(cat "$WORK/cred.id")"
bob=$(sed -n 1p "$WORK/cred2.verified")
with_pins "$NEWPIN" fido2-token -D -i "$bob" "$DEV" 2>/dev/null
creds=$(with_pins "$NEWPIN" fido2-token -L -k example.com "$DEV" 2>/dev/null)
[[ $(wc -l <<<"$creds") -eq 1 ]] && ! grep -qF "$bob" <<<"$creds" || fail "bob's credential was not deleted: $creds"
echo "ok: deleted; alice's remains"

step "OpenSSH: ecdsa-sk resident and ed25519-sk keys, -Y sign / -Y verify, ssh-keygen -K"
printf '#!/bin/sh\necho %s\n' "$NEWPIN" >"$WORK/askpass"
chmod 700 "$WORK/askpass"
export SSH_ASKPASS=$WORK/askpass SSH_ASKPASS_REQUIRE=force DISPLAY=${DISPLAY:-:0}
setsid -w ssh-keygen -q -t ecdsa-sk -O resident -O application=ssh:vfido-ci -N "" -C ci@vfido -f "$WORK/id_ecdsa_sk" </dev/null
setsid -w ssh-keygen -q -t ed25519-sk -N "" -C ci@vfido -f "$WORK/id_ed25519_sk" </dev/null
echo "a message signed by a virtual key" >"$WORK/msg"
for key in id_ecdsa_sk id_ed25519_sk; do
    setsid -w ssh-keygen -Y sign -f "$WORK/$key" -n file "$WORK/msg" </dev/null 2>/dev/null
    echo "ci@vfido $(cat "$WORK/$key.pub")" >"$WORK/allowed"
    verdict=$(ssh-keygen -Y verify -f "$WORK/allowed" -I ci@vfido -n file -s "$WORK/msg.sig" <"$WORK/msg" 2>&1)
    expect "$key signature" "$verdict" 'Good "file" signature for ci@vfido'
    echo "tampered" >>"$WORK/msg"
    if ssh-keygen -Y verify -f "$WORK/allowed" -I ci@vfido -n file -s "$WORK/msg.sig" <"$WORK/msg" >/dev/null 2>&1; then
        fail "$key: a changed message still verified"
    fi
    sed -i '$d' "$WORK/msg"
    rm "$WORK/msg.sig"
done
mkdir "$WORK/recovered"
(cd "$WORK/recovered" && setsid -w ssh-keygen -K -N "" </dev/null >/dev/null 2>&1)
recovered=$(cat "$WORK"/recovered/*.pub)
[[ $(cut -d' ' -f2 <<<"$recovered") == $(cut -d' ' -f2 "$WORK/id_ecdsa_sk.pub") ]] ||
    fail "ssh-keygen -K recovered another key: $recovered"
echo "ok: ssh-keygen -K recovered the resident ecdsa-sk key"

step "fido2-token -R resets the key"
fido2-token -R "$DEV" 2>/dev/null
info=$(fido2-token -I "$DEV")
expect "no PIN after reset" "$info" "noclientPin"
expect "all passkeys gone" "$info" "remaining rk(s): 256"

step "--profile yubikey-5-nfc-5.4: fido2-token -I shows what a real YubiKey 5 NFC 5.4.3 shows"
kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null || true
"$VFIDO" serve --ephemeral --udp "127.0.0.1:$PORT" --no-usbip --no-rp --no-api --profile yubikey-5-nfc-5.4 >"$WORK/banner" 2>>"$WORK/vfido.log" &
pid=$!
for _ in $(seq 100); do grep -q "Stop with" "$WORK/banner" 2>/dev/null && break; sleep 0.1; done
with_pins "$PIN $PIN" fido2-token -S "$DEV" 2>/dev/null  # the published key has a PIN
info=$(fido2-token -I "$DEV")
while IFS= read -r line; do
    grep -qxF -- "$line" <<<"$info" || fail "the yubikey-5-nfc-5.4 profile's fido2-token -I lacks the published line '$line'"
done < Tests/Fixtures/profiles/yubikey-5-nfc-5.4.fido2-token-I.txt
echo "ok: every published line of a YubiKey 5 NFC 5.4.3's fido2-token -I ($(wc -l < Tests/Fixtures/profiles/yubikey-5-nfc-5.4.fido2-token-I.txt) lines)"

step "--profile yubikey-5-nfc-5.7: fido2-token -I shows the published getInfo of a YubiKey 5.7.1"
kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null || true
"$VFIDO" serve --ephemeral --udp "127.0.0.1:$PORT" --no-usbip --no-rp --no-api --profile yubikey-5-nfc-5.7 >"$WORK/banner" 2>>"$WORK/vfido.log" &
pid=$!
for _ in $(seq 100); do grep -q "Stop with" "$WORK/banner" 2>/dev/null && break; sleep 0.1; done
info=$(fido2-token -I "$DEV")
while IFS= read -r line; do
    grep -qxF -- "$line" <<<"$info" || fail "the yubikey-5-nfc-5.7 profile's fido2-token -I lacks the line '$line'"
done < Tests/Fixtures/profiles/yubikey-5-nfc-5.7.fido2-token-I.txt
expect "versions include FIDO_2_1_PRE and FIDO_2_1" "$info" "FIDO_2_1, FIDO_2_1_PRE"
echo "ok: fido2-token -I of the yubikey-5-nfc-5.7 profile ($(wc -l < Tests/Fixtures/profiles/yubikey-5-nfc-5.7.fido2-token-I.txt) lines)"

step "--profile solokey-1: fido2-token -I shows what solo1's firmware 4.1.5 answers, and manages credentials"
kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null || true
"$VFIDO" serve --ephemeral --udp "127.0.0.1:$PORT" --no-usbip --no-rp --no-api --profile solokey-1 >"$WORK/banner" 2>>"$WORK/vfido.log" &
pid=$!
for _ in $(seq 100); do grep -q "Stop with" "$WORK/banner" 2>/dev/null && break; sleep 0.1; done
with_pins "$PIN $PIN" fido2-token -S "$DEV" 2>/dev/null
info=$(fido2-token -I "$DEV")
while IFS= read -r line; do
    grep -qxF -- "$line" <<<"$info" || fail "the solokey-1 profile's fido2-token -I lacks the line '$line'"
done < Tests/Fixtures/profiles/solokey-1.fido2-token-I.txt
for absent in "transport strings:" "algorithms:"; do
    if grep -q "^$absent" <<<"$info"; then fail "solo1's getInfo has no '$absent', vfido's does"; fi
done
echo "ok: fido2-token -I of the solokey-1 profile ($(wc -l < Tests/Fixtures/profiles/solokey-1.fido2-token-I.txt) lines, no transports or algorithms)"
with_pins "$PIN" fido2-cred -M -r -i "$WORK/cred.in" -o "$WORK/cred.out" "$DEV" 2>/dev/null || fail "fido2-cred -M -r on the solokey-1 profile"
expect "credential management through credMgmt (0x0A) with a PIN protocol 1 token" "$(with_pins "$PIN" fido2-token -I -c "$DEV" 2>/dev/null)" "existing rk(s): 1"

echo
echo "libfido2 tier: all checks passed"
