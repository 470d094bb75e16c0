#!/usr/bin/env bash
# Boots the guest from build-guest.sh with SCRIPT as /test.sh (and ENV_FILE as /test.env), under
# QEMU's software emulation, and returns when the guest powers off. The serial console goes to
# standard output.
#   run-guest.sh SCRIPT [ENV_FILE]
# Env: ACCEL (tcg; kvm where a runner has a usable one), MEM (MiB, 256), SMP (vCPUs, 1; TCG runs one
#      host thread per vCPU), TIMEOUT (s, 300),
#      HOSTROOT=1 shares the host's / read-only over virtio-9p (mount tag "hostroot"), so the
#      guest can run host binaries, vfido among them, in a chroot.
#      HOSTFWD=HOSTPORT:GUESTPORT forwards the host's 127.0.0.1:HOSTPORT to the guest (a browser's
#      automation port, driven from the host).
# Networking is QEMU's user mode: in the guest 10.0.2.2 is the host's loopback, nothing else.
set -euo pipefail
cd "$(dirname "$0")/../.."
GUEST=${GUEST:-$PWD/.build/kernel-guest}
script=$1
envfile=${2:-/dev/null}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cp "$script" "$tmp/test.sh" && chmod +x "$tmp/test.sh"
cp "$envfile" "$tmp/test.env"
(cd "$tmp" && printf 'test.sh\ntest.env\n' | cpio -o -H newc --quiet | gzip -1) > "$tmp/extra.gz"
cat "$GUEST/initramfs.gz" "$tmp/extra.gz" > "$tmp/initrd.gz"
hostroot=()
[ -n "${HOSTROOT:-}" ] && hostroot=(-virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap)
if [ "${ACCEL:-tcg}" = kvm ]; then accel=(-accel kvm -cpu host); else accel=(-accel tcg,thread=multi -cpu max); fi
timeout --foreground "${TIMEOUT:-300}" qemu-system-x86_64 "${accel[@]}" \
    -machine pc -smp "${SMP:-1}" -m "${MEM:-256}" \
    -nodefaults -no-user-config -display none -serial stdio -no-reboot \
    -kernel "$GUEST/vmlinux" -initrd "$tmp/initrd.gz" \
    -append "console=ttyS0 quiet panic=-1 mitigations=off" \
    -netdev "user,id=n0${HOSTFWD:+,hostfwd=tcp:127.0.0.1:${HOSTFWD%%:*}-:${HOSTFWD##*:}}" -device virtio-net-pci,netdev=n0,romfile= \
    "${hostroot[@]}"
