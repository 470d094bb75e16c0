#!/bin/sh
# Runs inside the QEMU guest: starts vfido (the host's build, through a read-only 9p share of
# the host's /) with --uhid, and uses the key it creates through hidraw with libfido2's tools.
# Prints "STEP <seconds> <name>" per step and GUEST-OK at the end.
[ -f /test.env ] && . /test.env
now() { cut -d' ' -f1 /proc/uptime; }
T=$(now)
step() { t=$(now); echo "STEP $(awk "BEGIN{printf \"%.2f\", $t-$T}") $*"; T=$t; }
fail() { echo "GUEST-FAIL: $*"; echo "--- vfido log"; cat /tmp/vfido.log 2>/dev/null; dmesg | tail -20; exit 1; }
wait_for() {  # path, present|absent, tenths of a second
    i=0
    while [ $i -lt "${3:-100}" ]; do
        if [ "$2" = present ] && [ -e "$1" ]; then return 0; fi
        if [ "$2" = absent ] && [ ! -e "$1" ]; then return 0; fi
        sleep 0.1; i=$((i + 1))
    done
    return 1
}
start_vfido() {
    XDG_RUNTIME_DIR=/run chroot /hostroot "$VFIDO" serve --uhid --ephemeral --no-udp --no-rp --no-api > /tmp/vfido.log 2>&1 &
    VFIDO_PID=$!
}
wait_for_key() {  # fails at once if vfido dies before its hidraw node appears
    i=0
    while [ $i -lt 600 ]; do
        [ -e /dev/hidraw0 ] && return 0
        kill -0 $VFIDO_PID 2>/dev/null || fail "vfido exited before creating its device"
        sleep 0.1; i=$((i + 1))
    done
    fail "no /dev/hidraw0 60 s after vfido serve --uhid"
}

step "boot"
[ -e /dev/uhid ] || fail "no /dev/uhid in the guest"
modprobe 9pnet_virtio; modprobe 9p
mkdir -p /hostroot
mount -t 9p -o trans=virtio,version=9p2000.L,ro hostroot /hostroot || fail "mounting the host's / over 9p"
for d in dev proc sys; do mount --bind /$d /hostroot/$d || fail "bind /$d"; done
# The ephemeral daemon keeps its control socket and token in a private directory under
# $XDG_RUNTIME_DIR: a tmpfs on /run, since the share is read-only.
mount -t tmpfs run /hostroot/run || fail "tmpfs on /hostroot/run"
# (No tmpfs over /hostroot/tmp: the checkout under test may live in the host's /tmp, and an
# --ephemeral vfido writes nothing.)
step "host root shared"

start_vfido
wait_for_key
hid=$(basename "$(readlink -f /sys/class/hidraw/hidraw0/device)")
case "$hid" in 0003:1209:0001.*) ;; *) fail "HID device is named $hid, not 0003:1209:0001.* (udev/70-vfido.rules matches that)";; esac
step "vfido serve --uhid -> /dev/hidraw0 ($hid)"
cat /sys/class/hidraw/hidraw0/device/uevent

grep -q '^HID_NAME=vfido Virtual FIDO2 Key$' /sys/class/hidraw/hidraw0/device/uevent || fail "the HID device is not named"
grep -q '^HID_ID=0003:' /sys/class/hidraw/hidraw0/device/uevent || fail "the HID device is not on BUS_USB"
grep -Eq '^HID_UNIQ=[0-9A-F]{16}$' /sys/class/hidraw/hidraw0/device/uevent || fail "the HID serial (uniq) is not ASCII hex"

# Debian 12's libfido2 (1.12) takes names only from a USB parent device, which no uhid device
# has: it lists the key by VID:PID with an empty name, "( )".
timeout 20 fido2-token -L > /tmp/tokens.txt || fail "fido2-token -L"
cat /tmp/tokens.txt
grep -q '^/dev/hidraw0: vendor=0x1209, product=0x0001 ' /tmp/tokens.txt || fail "fido2-token -L does not list the uhid key"
step "fido2-token -L (libfido2 1.12, Debian 12)"
# Newer libfido2 (1.15) names a device with no USB parent by its HID name: the current one
# (Debian 13's tools, on their own loader and libraries from the host's share) lists it by name.
if [ -n "${CURRENT_LIBFIDO2:-}" ]; then
    timeout 20 chroot /hostroot "$CURRENT_LIBFIDO2" fido2-token -L > /tmp/tokens-current.txt || fail "current fido2-token -L"
    cat /tmp/tokens-current.txt
    grep -qx '/dev/hidraw0: vendor=0x1209, product=0x0001 ( vfido Virtual FIDO2 Key)' /tmp/tokens-current.txt ||
        fail "the current fido2-token -L does not list the uhid key by its name"
    timeout 20 chroot /hostroot "$CURRENT_LIBFIDO2" fido2-token -I /dev/hidraw0 > /tmp/info-current.txt || fail "current fido2-token -I"
    grep -q 'aaguid: 766669646f2d4b6579219a1e5c0fe17a' /tmp/info-current.txt || { cat /tmp/info-current.txt; fail "current fido2-token -I"; }
    step "fido2-token -L names the key, fido2-token -I (current libfido2)"
else
    echo "GUEST-NOT-CHECKED: the name in a current libfido2's fido2-token -L (no current libfido2 was fetched)"
fi

timeout 20 fido2-token -I /dev/hidraw0 > /tmp/info.txt || fail "fido2-token -I"
grep -q 'aaguid: 766669646f2d4b6579219a1e5c0fe17a' /tmp/info.txt || { cat /tmp/info.txt; fail "getInfo has another AAGUID"; }
step "fido2-token -I"

printf '%s\n%s\n%s\n%s\n' "$(head -c 32 /dev/urandom | base64)" example.org alice "$(head -c 16 /dev/urandom | base64)" > /tmp/cred_param
timeout 20 fido2-cred -M -i /tmp/cred_param -o /tmp/cred /dev/hidraw0 es256 || fail "fido2-cred -M"
timeout 20 fido2-cred -V -i /tmp/cred -o /tmp/cred_pub es256 || fail "fido2-cred -V"
printf '%s\n%s\n%s\n' "$(head -c 32 /dev/urandom | base64)" example.org "$(sed -n 5p /tmp/cred)" > /tmp/assert_param
timeout 20 fido2-assert -G -i /tmp/assert_param -o /tmp/assert /dev/hidraw0 || fail "fido2-assert -G"
sed -n '/BEGIN/,/END/p' /tmp/cred_pub > /tmp/pub.pem
timeout 20 fido2-assert -V -i /tmp/assert /tmp/pub.pem es256 || fail "fido2-assert -V"
step "fido2-cred -M/-V, fido2-assert -G/-V"

# The control API over the daemon's Unix socket, through the CLI (in the same chroot).
control_args=$(sed -n 's/.*power-cycle\( --control .*\)$/\1/p' /tmp/vfido.log | head -1)
[ -n "$control_args" ] || fail "the banner names no control socket"
ctl() { XDG_RUNTIME_DIR=/run chroot /hostroot "$VFIDO" "$@" $control_args; }
ctl keys add --builtin-uv > /tmp/added.json || fail "vfido keys add"
wait_for /dev/hidraw1 present || fail "no /dev/hidraw1 after vfido keys add"
[ "$(grep '^HID_UNIQ=' /sys/class/hidraw/hidraw1/device/uevent)" != "$(grep '^HID_UNIQ=' /sys/class/hidraw/hidraw0/device/uevent)" ] ||
    fail "the added key has the first key's serial"
timeout 20 fido2-token -I /dev/hidraw1 > /tmp/info2.txt || fail "fido2-token -I on the added key"
grep -q 'options: .* uv,' /tmp/info2.txt || { cat /tmp/info2.txt; fail "the added key lacks built-in UV"; }
step "vfido keys add --builtin-uv -> /dev/hidraw1, its own serial, uv in getInfo"

ctl unplug --key 1 > /dev/null || fail "vfido unplug"
wait_for /dev/hidraw0 absent 50 || fail "/dev/hidraw0 still there after vfido unplug"
[ -e /dev/hidraw1 ] || fail "unplugging key 1 took key 2 away"
ctl plug --key 1 > /dev/null || fail "vfido plug"
wait_for /dev/hidraw0 present || fail "no /dev/hidraw0 after vfido plug"
printf '%s\n%s\n%s\n' "$(head -c 32 /dev/urandom | base64)" example.org "$(sed -n 5p /tmp/cred)" > /tmp/assert_param
timeout 20 fido2-assert -G -i /tmp/assert_param -o /tmp/assert /dev/hidraw0 || fail "the credential after unplug and plug"
step "vfido unplug/plug: the node goes and comes back, the credential still asserts"

ctl keys remove --key 2 > /dev/null || fail "vfido keys remove"
wait_for /dev/hidraw1 absent 50 || fail "/dev/hidraw1 still there after vfido keys remove"
step "vfido keys remove: /dev/hidraw1 is gone"

kill -TERM $VFIDO_PID
wait_for /dev/hidraw0 absent 50 || fail "/dev/hidraw0 still there 5 s after SIGTERM"
wait $VFIDO_PID; rc=$?
[ $rc -eq 0 ] || fail "vfido exited $rc on SIGTERM"
step "SIGTERM: vfido exits 0 and the hidraw node is gone"

start_vfido
wait_for_key
kill -INT $VFIDO_PID
wait_for /dev/hidraw0 absent 50 || fail "/dev/hidraw0 still there after SIGINT"
wait $VFIDO_PID
step "SIGINT: the hidraw node is gone"

start_vfido
wait_for_key
kill -KILL $VFIDO_PID
wait_for /dev/hidraw0 absent 50 || fail "/dev/hidraw0 still there after SIGKILL"
step "SIGKILL: the kernel removes the device with the closed /dev/uhid"

dmesg > /tmp/dmesg.txt
if grep -E 'BUG|WARNING' /tmp/dmesg.txt; then fail "the kernel log has a BUG or WARNING"; fi
echo GUEST-OK
