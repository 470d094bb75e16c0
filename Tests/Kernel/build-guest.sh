#!/usr/bin/env bash
# Builds a tiny QEMU guest: Debian's kernel (unpacked, not installed) booted straight into a
# busybox initramfs with vhci-hcd, usbhid, hid-generic, uhid and networking, plus usbip and
# fido2-tools with their libraries. Everything comes from Debian packages.
#
# Output in $GUEST (default .build/kernel-guest): vmlinux (PVH-bootable), initramfs.gz.
# Rebuilds only what is missing. Needs the packages that install-deps.sh kernel installs.
set -euo pipefail
cd "$(dirname "$0")/../.."
GUEST=${GUEST:-$PWD/.build/kernel-guest}
mkdir -p "$GUEST"
cd "$GUEST"

# Kernel: Debian's current linux-image package, downloaded and unpacked.
kpkg=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/{print $2; exit}')
[ -n "$kpkg" ] || { echo "build-guest: cannot find Debian's linux-image package (apt-get update?)" >&2; exit 1; }
kver=${kpkg#linux-image-}
if [ ! -d "kroot/lib/modules/$kver" ] || [ ! -f vmlinux ]; then
    rm -rf debs kroot && mkdir debs
    (cd debs && apt-get -o APT::Sandbox::User=root download "$kpkg" >/dev/null)
    dpkg -x debs/"$kpkg"_*.deb kroot
    # An uncompressed vmlinux boots through QEMU's PVH entry point: no real-mode setup and no
    # xz decompression under emulation (about twice as fast to a shell).
    python3 - "kroot/boot/vmlinuz-$kver" <<'PY'
import lzma, sys
d = open(sys.argv[1], 'rb').read()
out = lzma.LZMADecompressor(format=lzma.FORMAT_XZ).decompress(d[d.find(b'\xfd7zXZ\x00'):])
assert out[:4] == b'\x7fELF'
open('vmlinux', 'wb').write(out)
PY
    rm -rf debs
fi

R=$GUEST/root
rm -rf "$R"
mkdir -p "$R"/{bin,sbin,usr/bin,usr/sbin,lib,lib64,proc,sys,dev,tmp,run,var,etc,root}
ln -s ../run "$R/var/run"   # usbip attach keeps its state in /var/run/vhci_hcd
cp /bin/busybox "$R/bin/busybox"
for applet in $("$R/bin/busybox" --list); do
    [ "$applet" = busybox ] || ln -sf busybox "$R/bin/$applet"
done

# A binary and every shared library it needs.
copy_elf() {
    mkdir -p "$R$(dirname "$1")"
    cp -L "$1" "$R$1"
    ldd "$1" | awk '/=>/{print $3} $1 ~ /^\//{print $1}' | while read -r lib; do
        [ -n "$lib" ] && [ -e "$lib" ] || continue
        mkdir -p "$R$(dirname "$lib")"
        cp -Ln "$lib" "$R$lib" 2>/dev/null || true
    done
}
copy_elf /usr/sbin/usbip
for tool in fido2-token fido2-cred fido2-assert; do copy_elf /usr/bin/$tool; done
# (usb.ids is left out on purpose: parsing it costs seconds per usbip call under emulation.)

km=kroot/lib/modules/$kver
[ -f "$km/modules.dep" ] || busybox depmod -b kroot "$kver"
modules=$(for m in vhci-hcd usbip-core usbhid hid-generic uhid virtio_net virtio_pci 9p 9pnet_virtio overlay; do
    grep -E "/$m\.ko(\.[a-z]+)?:" "$km/modules.dep" | tr -d ':' | tr ' ' '\n'
done | sort -u)
for m in $modules; do
    mkdir -p "$R/lib/modules/$kver/$(dirname "$m")"
    cp "$km/$m" "$R/lib/modules/$kver/$m"
done
cp "$km"/modules.builtin* "$km"/modules.order "$R/lib/modules/$kver/" 2>/dev/null || true
busybox depmod -b "$R" "$kver"

echo 'root:x:0:0:root:/root:/bin/sh' > "$R/etc/passwd"
echo 'root:x:0:' > "$R/etc/group"
cat > "$R/init" <<'INIT'
#!/bin/sh
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mkdir -p /dev/pts && mount -t devpts devpts /dev/pts
mount -t tmpfs tmp /tmp
modprobe virtio_pci; modprobe virtio_net
ip link set lo up
ip link set eth0 up && ip addr add 10.0.2.15/24 dev eth0 && ip route add default via 10.0.2.2
modprobe vhci-hcd; modprobe usbhid; modprobe hid-generic; modprobe uhid
echo "init: ready at $(cut -d' ' -f1 /proc/uptime)s"
if [ -x /test.sh ]; then
    /test.sh 2>&1
    echo "GUEST-EXIT=$?"
    sync; poweroff -f
fi
exec setsid cttyhack sh
INIT
chmod +x "$R/init"
(cd "$R" && find . | cpio -o -H newc --quiet | gzip -1) > initramfs.gz
echo "guest: kernel $kver, $(du -h initramfs.gz | cut -f1) initramfs in $GUEST"
