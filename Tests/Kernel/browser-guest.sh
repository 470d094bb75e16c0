#!/bin/sh
# Runs inside the QEMU guest (HOSTROOT=1): attaches vfido over USB/IP, then runs the host's
# Chromium headless (from a read-only 9p share of the host's /, in a chroot) on the hosted
# registration page at $URL. The page registers through the real kernel HID stack, redirects to
# the host's callback, which sends it on to the hosted login page, which redirects back again.
# Polls the host's callback for "done" (no fixed sleeps). Prints "STEP <seconds> <name>" per step
# and GUEST-OK at the end.
[ -f /test.env ] && . /test.env
HOST=10.0.2.2
WAIT=${WAIT:-300}
now() { cut -d' ' -f1 /proc/uptime; }
T=$(now)
step() { t=$(now); echo "STEP $(awk "BEGIN{printf \"%.2f\", $t-$T}") $*"; T=$t; }
fail() { echo "GUEST-FAIL: $*"; echo "--- chromium log"; grep -v -E 'dbus|D-Bus' /hostroot/tmp/chromium.log 2>/dev/null | tail -40; dmesg | tail -20; exit 1; }

step "boot"
usbip --tcp-port "$PORT" attach -r $HOST -b "$BUSID" || fail "usbip attach -b $BUSID"
i=0; while [ ! -e /dev/hidraw0 ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
[ -e /dev/hidraw0 ] || fail "no /dev/hidraw0 after usbip attach"
chmod 666 /dev/hidraw0
step "usbip attach -> /dev/hidraw0"

modprobe 9pnet_virtio; modprobe 9p
H=/hostroot
mkdir -p $H
mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=262144 hostroot $H || fail "mounting the host's / over 9p"
mount -t proc proc $H/proc; mount -t sysfs sys $H/sys; mount --bind /dev $H/dev
mount -t tmpfs tmp $H/tmp; mount -t tmpfs run $H/run; mkdir -p /dev/shm; mount -t tmpfs shm $H/dev/shm
# Chromium CHECK-fails when /proc/self/exe is on the 9p mount: it runs from a tmpfs copy.
mkdir -p $H/tmp/opt && cp -a $H/usr/lib/chromium $H/tmp/opt/ || fail "copying chromium to tmpfs"
step "chromium copied to tmpfs"

# WebAuthn over http works only on http://localhost, and Chromium resolves localhost to
# loopback: forward the guest's 127.0.0.1 ports to the host's (10.0.2.2).
cat > $H/tmp/fwd.py <<PY
import socket, sys, threading
def pipe(a, b):
    try:
        while True:
            d = a.recv(65536)
            if not d: break
            b.sendall(d)
    except OSError: pass
    for s in (a, b):
        try: s.shutdown(socket.SHUT_RDWR)
        except OSError: pass
def serve(port):
    ls = socket.create_server(("127.0.0.1", port))
    while True:
        c, _ = ls.accept(); u = socket.create_connection(("$HOST", port))
        for x, y in ((c, u), (u, c)): threading.Thread(target=pipe, args=(x, y), daemon=True).start()
for p in sys.argv[1:]: threading.Thread(target=serve, args=(int(p),), daemon=True).start()
threading.Event().wait()
PY
chroot $H /usr/bin/python3 /tmp/fwd.py "$PAGEPORT" "$CBPORT" &

chroot $H /usr/bin/env -i HOME=/tmp/home PATH=/usr/bin:/bin \
  /tmp/opt/chromium/chromium --headless=new --no-sandbox --disable-gpu \
  --enable-logging=stderr --v=0 --vmodule='*/device/fido/*=1,*/webauthn/*=1' --disable-dev-shm-usage --no-first-run --disable-background-networking \
  --disable-component-update --disable-sync --disable-extensions --user-data-dir=/tmp/prof \
  --host-resolver-rules="MAP * ~NOTFOUND, EXCLUDE localhost" \
  "$URL" > $H/tmp/chromium.log 2>&1 &
CPID=$!
step "chromium started on the hosted registration page"

# The host's callback answers "registered" once the registration redirect arrived, "done" after
# the login's.
seen=""
i=0
while [ $i -lt "$WAIT" ]; do
    state=$(timeout 5 wget -q -O - "http://$HOST:$CBPORT/status" 2>/dev/null)  # (busybox wget -T crashes)
    if [ "$state" != "$seen" ]; then
        [ "$state" = registered ] && step "registration page done (redirected to the login page)"
        seen=$state
    fi
    [ "$state" = done ] && break
    kill -0 $CPID 2>/dev/null || fail "chromium exited"
    sleep 1; i=$((i + 1))
done
[ "$state" = done ] || fail "no login after $WAIT s (callback state: ${state:-none})"
step "login page done (redirected with a code)"
kill $CPID 2>/dev/null
usbip --tcp-port "$PORT" detach -p 0 >/dev/null 2>&1
dmesg | grep -E "cannot find a urb|BUG|WARNING|usercopy" && fail "kernel complained (see above)"
echo "GUEST-OK"
