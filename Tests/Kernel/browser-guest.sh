#!/bin/sh
# Runs inside the QEMU guest (HOSTROOT=1): gets vfido's key onto the guest's HID stack, then
# starts the host's $BROWSER (chromium or firefox, headless, from a read-only 9p share of the
# host's /, in a chroot) with its remote automation listening, and waits while the host drives
# it (browser-tier.py: CDP for Chromium, Marionette for Firefox, through QEMU's port forward).
#   ROUTE=usbip: `usbip attach` of the host's vfido (PORT, BUSID);
#   ROUTE=uhid:  vfido itself runs here (the host's build, VFIDO) with --uhid --builtin-uv.
# Ends when the host's callback says "finished" (polled: no fixed sleeps). Prints "STEP
# <seconds> <name>" per step, GUEST-BROWSER-UP when the browser is started, GUEST-OK at the end.
[ -f /test.env ] && . /test.env
HOST=10.0.2.2
WAIT=${WAIT:-900}
H=/hostroot
now() { cut -d' ' -f1 /proc/uptime; }
T=$(now)
step() { t=$(now); echo "STEP $(awk "BEGIN{printf \"%.2f\", $t-$T}") $*"; T=$t; }
fail() {
    echo "GUEST-FAIL: $*"
    echo "--- browser log"; grep -v -E 'dbus|D-Bus' $H/tmp/browser.log 2>/dev/null | tail -40
    [ -f /tmp/vfido.log ] && { echo "--- vfido log"; tail -20 /tmp/vfido.log; }
    dmesg | tail -20; exit 1
}

step "boot"
modprobe 9pnet_virtio; modprobe 9p
mkdir -p $H
mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=262144 hostroot $H || fail "mounting the host's / over 9p"
mount -t proc proc $H/proc; mount -t sysfs sys $H/sys; mount --bind /dev $H/dev
# The checkout under test may live in the host's /tmp, which the tmpfs below hides: the uhid
# route's vfido binary is copied out first (into the guest's own memory), then back in.
[ "$ROUTE" = uhid ] && { cp "$H$VFIDO" /vfido || fail "copying $VFIDO out of the share"; }
mount -t tmpfs tmp $H/tmp; mount -t tmpfs run $H/run; mkdir -p /dev/shm; mount -t tmpfs shm $H/dev/shm
[ "$ROUTE" = uhid ] && { cp /vfido $H/tmp/vfido && rm /vfido || fail "copying vfido into the tmpfs"; }
step "host root shared"

case "$ROUTE" in
usbip)
    usbip --tcp-port "$PORT" attach -r $HOST -b "$BUSID" || fail "usbip attach -b $BUSID"
    ;;
uhid)
    XDG_RUNTIME_DIR=/run chroot $H /tmp/vfido serve --uhid --builtin-uv --ephemeral --no-udp --no-rp --no-api > /tmp/vfido.log 2>&1 &
    ;;
*) fail "ROUTE must be usbip or uhid, not '$ROUTE'" ;;
esac
i=0; while [ ! -e /dev/hidraw0 ] && [ $i -lt 900 ]; do sleep 0.1; i=$((i + 1)); done
[ -e /dev/hidraw0 ] || fail "no /dev/hidraw0 ($ROUTE)"
chmod 666 /dev/hidraw0
step "$ROUTE -> /dev/hidraw0"

# Chromium CHECK-fails when /proc/self/exe is on the 9p mount, and Firefox loads libxul faster
# from memory: each runs from a tmpfs copy.
case "$BROWSER" in
chromium) dir=/usr/lib/chromium ;;
firefox) dir=/usr/lib/firefox-esr ;;
*) fail "BROWSER must be chromium or firefox, not '$BROWSER'" ;;
esac
mkdir -p $H/tmp/opt && cp -a $H$dir $H/tmp/opt/browser || fail "copying $dir to tmpfs"
step "$BROWSER copied to tmpfs"

# WebAuthn over http works only on http://localhost, which the browser resolves to loopback:
# the guest's 127.0.0.1 page and callback ports go to the host's (10.0.2.2). The browser's
# automation port (loopback only) is offered on the guest's address for QEMU's forward.
cat > $H/tmp/fwd.py <<'PY'
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
def serve(listen_host, listen_port, target_host, target_port):
    ls = socket.create_server((listen_host, listen_port))
    while True:
        c, _ = ls.accept()
        try: u = socket.create_connection((target_host, target_port))
        except OSError: c.close(); continue
        for x, y in ((c, u), (u, c)): threading.Thread(target=pipe, args=(x, y), daemon=True).start()
for spec in sys.argv[1:]:
    lh, lp, th, tp = spec.split(":")
    threading.Thread(target=serve, args=(lh, int(lp), th, int(tp)), daemon=True).start()
threading.Event().wait()
PY
chroot $H /usr/bin/python3 /tmp/fwd.py "127.0.0.1:$PAGEPORT:$HOST:$PAGEPORT" "127.0.0.1:$CBPORT:$HOST:$CBPORT" \
    "0.0.0.0:$AUTOPORT:127.0.0.1:$BROWSERPORT" &

case "$BROWSER" in
chromium)
    chroot $H /usr/bin/env -i HOME=/tmp/home PATH=/usr/bin:/bin \
      /tmp/opt/browser/chromium --headless=new --no-sandbox --disable-gpu \
      --enable-logging=stderr --v=0 --vmodule='*/device/fido/*=1,*/webauthn/*=1' --disable-dev-shm-usage --no-first-run \
      --disable-background-networking --disable-component-update --disable-sync --disable-extensions --user-data-dir=/tmp/prof \
      --host-resolver-rules="MAP * ~NOTFOUND, EXCLUDE localhost" --remote-debugging-port="$BROWSERPORT" \
      about:blank > $H/tmp/browser.log 2>&1 &
    ;;
firefox)
    mkdir -p $H/tmp/prof $H/tmp/home
    # What Firefox needs to finish unattended (docs/browser-testing.md): Marionette on a known
    # port, no first-run, update, telemetry or remote-settings traffic (the guest has no
    # internet), and no consent prompt for the RP's direct attestation.
    cat > $H/tmp/prof/user.js <<JS
user_pref("marionette.port", $BROWSERPORT);
user_pref("security.webauth.webauthn_testing_allow_direct_attestation", true);
user_pref("security.webauthn.always_allow_direct_attestation", true);
user_pref("browser.shell.checkDefaultBrowser", false);
user_pref("browser.startup.homepage_override.mstone", "ignore");
user_pref("datareporting.policy.dataSubmissionEnabled", false);
user_pref("toolkit.telemetry.reportingpolicy.firstRun", false);
user_pref("app.update.disabledForTesting", true);
user_pref("services.settings.server", "http://127.0.0.1:9/");
user_pref("network.dns.disablePrefetch", true);
user_pref("browser.safebrowsing.downloads.remote.enabled", false);
user_pref("extensions.update.enabled", false);
JS
    chroot $H /usr/bin/env -i HOME=/tmp/home PATH=/usr/bin:/bin MOZ_CRASHREPORTER_DISABLE=1 \
      /tmp/opt/browser/firefox-esr --headless --marionette --no-remote --profile /tmp/prof about:blank > $H/tmp/browser.log 2>&1 &
    ;;
esac
BPID=$!
step "$BROWSER started (automation on guest port $AUTOPORT)"
echo "GUEST-BROWSER-UP"

# The host drives the browser now; it says "finished" on its callback when done.
i=0
while [ $i -lt "$WAIT" ]; do
    state=$(timeout 5 wget -q -O - "http://$HOST:$CBPORT/status" 2>/dev/null)  # (busybox wget -T crashes)
    [ "$state" = finished ] && break
    kill -0 $BPID 2>/dev/null || fail "$BROWSER exited"
    sleep 1; i=$((i + 1))
done
[ "$state" = finished ] || fail "the host did not finish within $WAIT s (callback state: ${state:-none})"
step "the host drove $BROWSER through its ceremonies"
echo "--- $BROWSER log (WebAuthn lines)"; grep -i -E "webauthn|fido|ctap|authenticator" $H/tmp/browser.log | tail -25
kill $BPID 2>/dev/null
[ "$ROUTE" = usbip ] && usbip --tcp-port "$PORT" detach -p 0 >/dev/null 2>&1
dmesg | grep -E "cannot find a urb|BUG|WARNING|usercopy" && fail "kernel complained (see above)"
echo "GUEST-OK"
