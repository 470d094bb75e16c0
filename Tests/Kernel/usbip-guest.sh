#!/bin/sh
# Runs inside the QEMU guest: attaches vfido's two keys over USB/IP from the host
# (10.0.2.2 = the host's loopback) and drives them through the kernel's HID stack with
# libfido2's tools. Prints "STEP <seconds> <name>" per step and GUEST-OK at the end.
[ -f /test.env ] && . /test.env
HOST=10.0.2.2
PORT=${PORT:-3240}
USBIP="usbip --tcp-port $PORT"  # a variable, not a function: timeout runs binaries, not functions
now() { cut -d' ' -f1 /proc/uptime; }
T=$(now)
step() {
    t=$(now)
    echo "STEP $(awk "BEGIN{printf \"%.2f\", $t-$T}") $*"
    T=$t
}
fail() { echo "GUEST-FAIL: $*"; dmesg | tail -30; exit 1; }
wait_for() {  # path, present|absent
    i=0
    while [ $i -lt 100 ]; do
        if [ "$2" = present ] && [ -e "$1" ]; then return 0; fi
        if [ "$2" = absent ] && [ ! -e "$1" ]; then return 0; fi
        sleep 0.1; i=$((i + 1))
    done
    return 1
}
hidraw_for() {  # busid -> /dev/hidrawN of the key on that vhci port
    for h in /sys/class/hidraw/hidraw*; do
        [ -e "$h" ] || continue
        echo "/dev/$(basename "$h")"
    done | sort
}
api() {  # METHOD PATH [JSON]: the host's control API (busybox has no HTTP client with DELETE)
    body=${3:-}
    printf '%s %s HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s' \
        "$1" "$2" "$HOST" "$TOKEN" "${#body}" "$body" | timeout 20 nc $HOST "$API_PORT" > /tmp/api.out
    head -1 /tmp/api.out | grep -q '^HTTP/1.1 2' || { cat /tmp/api.out; return 1; }
}
make_and_check_credential() {  # device, rp
    dev=$1 rp=$2
    printf '%s\n%s\n%s\n%s\n' "$(head -c 32 /dev/urandom | base64)" "$rp" "alice" "$(head -c 16 /dev/urandom | base64)" > /tmp/cred_param
    timeout 20 fido2-cred -M -i /tmp/cred_param -o /tmp/cred "$dev" es256 || fail "fido2-cred -M on $dev"
    timeout 20 fido2-cred -V -i /tmp/cred -o /tmp/cred_pub es256 || fail "fido2-cred -V on $dev (packed attestation did not verify)"
    printf '%s\n%s\n%s\n' "$(head -c 32 /dev/urandom | base64)" "$rp" "$(sed -n 5p /tmp/cred)" > /tmp/assert_param
    timeout 20 fido2-assert -G -i /tmp/assert_param -o /tmp/assert "$dev" || fail "fido2-assert -G on $dev"
    sed -n '/BEGIN/,/END/p' /tmp/cred_pub > /tmp/pub.pem
    timeout 20 fido2-assert -V -i /tmp/assert /tmp/pub.pem es256 || fail "fido2-assert -V on $dev"
}

step "boot"
timeout 20 $USBIP list -r $HOST > /tmp/list.txt 2>&1 || { cat /tmp/list.txt; fail "usbip list"; }
cat /tmp/list.txt
grep -q '1-1:.*(1209:0001)' /tmp/list.txt || fail "usbip list does not show 1-1 as 1209:0001"
grep -q '1-2:.*(1209:0001)' /tmp/list.txt || fail "usbip list does not show 1-2"
step "usbip list"

timeout 20 $USBIP attach -r $HOST -b 1-1 || fail "usbip attach 1-1"
wait_for /dev/hidraw0 present || fail "no /dev/hidraw0 after attach"
hid=$(basename "$(readlink -f /sys/class/hidraw/hidraw0/device)")
case "$hid" in 0003:1209:0001.*) ;; *) fail "HID device is named $hid, not 0003:1209:0001.* (udev/70-vfido.rules matches that)";; esac
step "usbip attach 1-1 -> /dev/hidraw0 ($hid)"

timeout 20 fido2-token -L > /tmp/tokens.txt || fail "fido2-token -L"
cat /tmp/tokens.txt
grep -q '/dev/hidraw0: vendor=0x1209, product=0x0001 (vfido Virtual FIDO2 Key)' /tmp/tokens.txt || fail "fido2-token -L does not list the key by name"
step "fido2-token -L"

timeout 20 fido2-token -I /dev/hidraw0 > /tmp/info.txt || fail "fido2-token -I"
cat /tmp/info.txt
grep -q 'FIDO_2_1' /tmp/info.txt || fail "getInfo lacks FIDO_2_1"
grep -q 'aaguid: 766669646f2d4b6579219a1e5c0fe17a' /tmp/info.txt || fail "getInfo has another AAGUID"
step "fido2-token -I"

make_and_check_credential /dev/hidraw0 example.org
cp /tmp/cred /tmp/cred-key1
step "fido2-cred -M/-V, fido2-assert -G/-V"

i=0
while [ $i -lt 20 ]; do
    timeout 10 sh -c 'exec 3</dev/hidraw0; exec 3<&-' || fail "open/close $i of /dev/hidraw0 hung"
    i=$((i + 1))
done
timeout 20 fido2-token -I /dev/hidraw0 > /dev/null || fail "fido2-token -I after 20 open/close"
i=0
while [ $i -lt 20 ]; do
    timeout 10 fido2-token -I /dev/hidraw0 > /dev/null || fail "fido2-token -I round $i"
    i=$((i + 1))
done
step "hidraw opened and closed 20 times (+20 getInfo)"

timeout 20 $USBIP list -r $HOST > /tmp/list2.txt 2>&1 || { cat /tmp/list2.txt; fail "usbip list while attached"; }
grep -q '1-2:' /tmp/list2.txt || fail "usbip list while attached lost 1-2"
step "usbip list while attached"

timeout 20 $USBIP attach -r $HOST -b 1-2 || fail "usbip attach 1-2"
wait_for /dev/hidraw1 present || fail "no /dev/hidraw1 after the second attach"
timeout 20 fido2-token -L
for dev in /dev/hidraw0 /dev/hidraw1; do
    timeout 20 fido2-token -I "$dev" > /dev/null || fail "fido2-token -I $dev with two keys attached"
    make_and_check_credential "$dev" "two.example"
done
step "two keys attached at once, both usable"

$USBIP port
for p in $($USBIP port | sed -n 's/^Port \([0-9]*\): <Port in Use>.*/\1/p'); do
    timeout 20 $USBIP detach -p "$p" || fail "usbip detach -p $p"
done
wait_for /dev/hidraw0 absent || fail "/dev/hidraw0 still there after detach"
wait_for /dev/hidraw1 absent || fail "/dev/hidraw1 still there after detach"
step "detach both"

timeout 20 $USBIP attach -r $HOST -b 1-1 || fail "usbip re-attach 1-1"
wait_for /dev/hidraw0 present || fail "no /dev/hidraw0 after re-attach"
timeout 20 fido2-token -I /dev/hidraw0 > /dev/null || fail "fido2-token -I after re-attach"
# The credential made before the detach still asserts: same key, same state.
printf '%s\n%s\n%s\n' "$(head -c 32 /dev/urandom | base64)" example.org "$(sed -n 5p /tmp/cred-key1)" > /tmp/assert_param
timeout 20 fido2-assert -G -i /tmp/assert_param -o /tmp/assert /dev/hidraw0 || fail "old credential after re-attach"
step "re-attach 1-1, old credential still asserts"

api POST /keys/1/unplug || fail "unplug 1-1 through the control API"
wait_for /dev/hidraw0 absent || fail "/dev/hidraw0 still there after the control API unplugged 1-1"
timeout 20 $USBIP list -r $HOST > /tmp/list3.txt 2>&1 || { cat /tmp/list3.txt; fail "usbip list while 1-1 is unplugged"; }
grep -q ' 1-1:' /tmp/list3.txt && fail "usbip list still shows 1-1 while it is unplugged"
grep -q ' 1-2:' /tmp/list3.txt || fail "usbip list lost 1-2 while 1-1 is unplugged"
step "control API unplug: the guest kernel sees 1-1 disconnect, usbip list no longer shows it"

api POST /keys/1/plug || fail "plug 1-1 through the control API"
timeout 20 $USBIP attach -r $HOST -b 1-1 || fail "usbip attach 1-1 after plug"
wait_for /dev/hidraw0 present || fail "no /dev/hidraw0 after plug and attach"
printf '%s\n%s\n%s\n' "$(head -c 32 /dev/urandom | base64)" example.org "$(sed -n 5p /tmp/cred-key1)" > /tmp/assert_param
timeout 20 fido2-assert -G -i /tmp/assert_param -o /tmp/assert /dev/hidraw0 || fail "old credential after unplug and plug"
step "control API plug: attach again, old credential still asserts"

api POST /keys '{"protocol": "ctap2", "hasResidentKey": false}' || fail "add a key through the control API"
grep -q '"usbipBusId":"1-3"' /tmp/api.out || { cat /tmp/api.out; fail "the added key is not 1-3"; }
timeout 20 $USBIP list -r $HOST > /tmp/list4.txt 2>&1 || { cat /tmp/list4.txt; fail "usbip list after adding a key"; }
grep -q ' 1-3:.*(1209:0001)' /tmp/list4.txt || { cat /tmp/list4.txt; fail "usbip list does not show the added key 1-3"; }
timeout 20 $USBIP attach -r $HOST -b 1-3 || fail "usbip attach 1-3"
wait_for /dev/hidraw1 present || fail "no /dev/hidraw1 after attaching the added key"
timeout 20 fido2-token -I /dev/hidraw1 > /tmp/info3.txt || fail "fido2-token -I on the added key"
grep -q 'FIDO_2_0' /tmp/info3.txt && ! grep -q 'FIDO_2_1' /tmp/info3.txt || { cat /tmp/info3.txt; fail "the added key is not a CTAP 2.0 key"; }
grep -q 'options: .*nork' /tmp/info3.txt || { cat /tmp/info3.txt; fail "the added key claims discoverable credentials"; }
make_and_check_credential /dev/hidraw1 added.example
step "a key added at runtime: listed as 1-3, attached, CTAP 2.0 without rk, signs"

api DELETE /keys/3 || fail "remove the added key through the control API"
wait_for /dev/hidraw1 absent || fail "/dev/hidraw1 still there after the key was removed"
timeout 20 $USBIP list -r $HOST > /tmp/list5.txt 2>&1
grep -q ' 1-3:' /tmp/list5.txt && fail "usbip list still shows the removed key"
step "the added key removed: the guest sees it disconnect, usbip list no longer shows it"

for p in $($USBIP port | sed -n 's/^Port \([0-9]*\): <Port in Use>.*/\1/p'); do $USBIP detach -p "$p"; done
step "final detach"

dmesg > /tmp/dmesg.txt
if grep -E 'cannot find a urb|BUG|WARNING|usercopy' /tmp/dmesg.txt; then
    fail "the kernel log has a usbip/vhci error"
fi
echo "--- kernel log (usb/hid lines)"
grep -E 'vhci|usb [0-9]|hid' /tmp/dmesg.txt | tail -25
echo GUEST-OK
