#!/usr/bin/env bash
# `make test`: every tier this machine can run, and a loud line for every tier it cannot.
set -uo pipefail
cd "$(dirname "$0")/.."
declare -a summary=()
failed=0

tier() {  # name, command...
    local name=$1; shift
    echo
    echo "================ tier: $name"
    local start=$SECONDS
    if "$@"; then
        summary+=("PASS     $name ($((SECONDS - start)) s)")
    else
        summary+=("FAIL     $name ($((SECONDS - start)) s)")
        failed=1
    fi
}

not_here() {  # name, reason
    summary+=("NOT RUN  $1: $2")
}

tier_if() {  # blocker function, name, command: runs the tier, or says loudly why it cannot
    local blocker
    blocker=$($1)
    if [[ -z "$blocker" ]]; then
        tier "$2" "$3"
    else
        echo "!!!! tier $2 CANNOT RUN HERE: $blocker"
        not_here "$2" "$blocker"
    fi
}

unit() { swift test --skip-build --parallel && replay_fuzz_regressions; }
# Fuzz/regress/<target>: inputs that once crashed a fuzz target, replayed through the normal
# build's replayers (vfido-fuzz-ctap, with FUZZ_COMMAND for ctap-<command>, and vfido-fuzz-rp);
# the swiftc-built targets' regressions are replayed by the fuzz tier, first thing.
replay_fuzz_regressions() {
    local dir name files=()
    for dir in Fuzz/regress/*/; do
        name=$(basename "$dir")
        mapfile -t files < <(find "$dir" -type f ! -name '*.md' | sort)
        [[ ${#files[@]} -gt 0 ]] || continue
        echo "replaying ${#files[@]} regression input(s) of fuzz target $name"
        case $name in
            ctap) .build/debug/vfido-fuzz-ctap "${files[@]}" > /dev/null ;;
            ctap-*) FUZZ_COMMAND=${name#ctap-} .build/debug/vfido-fuzz-ctap "${files[@]}" > /dev/null ;;
            rp) .build/debug/vfido-fuzz-rp "${files[@]}" > /dev/null ;;
            *) echo "  (a swiftc target: the fuzz tier replays these)" ;;
        esac || { echo "a fuzz regression input of $name fails again"; return 1; }
    done
    # The replayer runs every input in place and on a fresh store and authenticator, and requires
    # the same answers: the CTAP target's hand-made seeds check that its reset leaks nothing.
    echo "replaying Fuzz/corpus/ctap: the CTAP target's reset in place against a fresh device"
    .build/debug/vfido-fuzz-ctap Fuzz/corpus/ctap > /dev/null || { echo "the CTAP fuzz target's reset in place leaks state"; return 1; }
}
interop() {
    VFIDO_BIN=.build/debug/vfido .venv/bin/python -m pytest -q -p no:cacheprovider Tests/Interop
}
conformance() { VFIDO_BIN=.build/debug/vfido Tests/Conformance/tier.sh; }
# The same suite with its --controller: touches and re-plugs come from its own PicoController
# requests to vfido's control API (`--presence control`), as on a bench with a Pico.
conformance_controller() { VFIDO_CONTROLLER=1 VFIDO_BIN=.build/debug/vfido Tests/Conformance/tier.sh; }
fuzz_smoke() { FUZZ_SECONDS=${FUZZ_SECONDS:-10} Fuzz/run.sh; }
crash_safety() { VFIDO_BIN=.build/debug/vfido .venv/bin/python Tests/Reliability/crash_safety.py --kills 30; }
corpus_replay() { VFIDO_BIN=.build/debug/vfido .venv/bin/python Tests/Reliability/corpus_replay.py "$(corpus_archive)"; }
corpus_archive() { scripts/corpus-archive.sh; }
corpus_blocker() {
    [[ -n "$(corpus_archive)" ]] || echo "google's CTAP2-test-tool corpus is not on this machine (../shared/corpus/ctap2-test-tool-corpus.tar.gz beside the checkout or its origin, or VFIDO_CORPUS)"
}
machine_faults() { VFIDO_BIN=.build/debug/vfido .venv/bin/python Tests/Reliability/machine_faults.py; }
machine_faults_blocker() {
    [[ $(id -u) == 0 ]] || { echo "it mounts a small tmpfs in a private mount namespace, which needs root"; return; }
    unshare -m true 2>/dev/null || echo "unshare -m (a private mount namespace) is refused here"
}
kernel_usbip() { Tests/Kernel/usbip-tier.sh; }
libfido2() { Tests/Libfido2/tier.sh; }
fuzz_host() { VFIDO_BIN=.build/debug/vfido Tests/FuzzHost/tier.sh; }
desktop_prompts() { VFIDO_BIN=.build/debug/vfido .venv/bin/python -m pytest -q -p no:cacheprovider Tests/Desktop; }
desktop_blocker() {
    local t
    for t in pinentry-tty dbus-daemon gdbus; do
        command -v "$t" >/dev/null || { echo "$t is not installed (run make test as root to install it)"; return; }
    done
}

# What the libfido2/OpenSSH tier needs.
libfido2_blocker() {
    local t
    for t in fido2-token fido2-cred fido2-assert ssh-keygen gcc setsid; do
        command -v "$t" >/dev/null || { echo "$t is not installed (run make test as root to install it)"; return; }
    done
    [[ -f /usr/include/fido.h ]] || echo "libfido2-dev is not installed (run make test as root to install it)"
}
kernel_uhid() {
    local rc=0
    Tests/Kernel/uhid-tier.sh || rc=1
    # The tier's one check that needs Debian 13's libfido2 says so here when it could not run.
    [[ -x .build/kernel-guest/libfido2-current/run ]] || not_here "5b, one check: a current libfido2's fido2-token -L naming the uhid key" \
        "Debian 13's fido2-tools could not be fetched from deb.debian.org (the tier's output says why)"
    return $rc
}
browser_pages() {
    VFIDO_BIN=.build/debug/vfido .venv/bin/python -m pytest -q -s -p no:cacheprovider Tests/Browser
}
end_to_end() {
    VFIDO_BIN=.build/debug/vfido .venv/bin/python -m pytest -q -p no:cacheprovider Tests/EndToEnd
}
kernel_browser() {
    local browsers=chromium,firefox
    # Firefox ESR is one browser of the tier: without it the tier runs Chromium and says so here.
    if ! command -v firefox-esr >/dev/null; then
        browsers=chromium
        not_here "5c, Firefox ESR's ceremonies" "firefox-esr is not installed (run make test as root to install it)"
    fi
    BROWSERS=$browsers VFIDO_BIN=.build/debug/vfido .venv/bin/python Tests/Kernel/browser-tier.py
}
kernel_browser_blocker() {
    local blocker
    blocker=$(kernel_blocker)
    [[ -n "$blocker" ]] && { echo "$blocker"; return; }
    browser_blocker
}
browser_blocker() {
    command -v chromium >/dev/null || echo "chromium is not installed (run make test as root to install it)"
}

# What the kernel tier needs, and why it cannot run when something is missing.
kernel_blocker() {
    local t
    for t in qemu-system-x86_64 busybox cpio usbip fido2-token; do
        command -v "$t" >/dev/null || { echo "$t is not installed (run make test as root to install it)"; return; }
    done
    apt-cache show linux-image-amd64 >/dev/null 2>&1 || echo "apt has no linux-image-amd64 (run apt-get update as root)"
}

tier "1 unit (swift test)" unit
tier "2 end to end: vfido e2e (RP <-> WebAuthnClient <-> CTAPHID <-> key), in process and over UDP" end_to_end
tier "3 interop over UDP (python-fido2, py_webauthn)" interop
tier "3a conformance: python-fido2 tests/device (its own hardware suite, from the 2.2.1 sdist)" conformance
tier "3a' conformance again, driven through --controller (the control API's Pico hook answers every touch and re-plug)" conformance_controller
tier_if libfido2_blocker "3b libfido2 tools and OpenSSH through the UDP shim" libfido2
tier_if kernel_blocker "4+5 USB/IP: host usbip list, and a QEMU guest kernel attaching two keys" kernel_usbip
tier_if kernel_blocker "5b uhid: vfido inside a QEMU guest kernel, used through hidraw" kernel_uhid
tier_if kernel_browser_blocker "5c passkeys in Chromium and Firefox ESR in a QEMU guest: register (rk + UV), sign in usernameless and by name, a denial; once over uhid" kernel_browser
tier_if browser_blocker "6 browser: headless Chromium (DevTools virtual authenticator) on the RP's hosted pages" browser_pages
tier "7 fuzz smoke (libFuzzer, ${FUZZ_SECONDS:-10} s per target)" fuzz_smoke
tier "8 crash safety: 30 SIGKILLs during makeCredential, credential deletion and large-blob writes; python-fido2 checks nothing acknowledged is lost" crash_safety
tier_if corpus_blocker "9 corpus replay: google's CTAP2-test-tool corpus (24,946 inputs) over UDP, a PING after each, RSS reported" corpus_replay
tier_if machine_faults_blocker "10 machine faults: disk full during writes (KEY_STORE_FULL, nothing lost), a read-only, damaged or wrongly keyed state directory refused at start and left untouched" machine_faults
tier_if libfido2_blocker "11 fuzz-host: fido2-token -I and python-fido2 against a key in fault mode, 200 seeded runs each; findings in those hosts printed, a vfido crash fails" fuzz_host
tier_if desktop_blocker "12 desktop prompts: --presence pinentry (Debian's pinentry-tty on a pty) and notify (a session bus and a notification server of the test's own): allow, deny, timeout, the host's cancel, fallbacks" desktop_prompts

echo
echo "================ summary"
printf '%s\n' "${summary[@]}"
passed=$(printf '%s\n' "${summary[@]}" | grep -c '^PASS')
failures=$(printf '%s\n' "${summary[@]}" | grep -c '^FAIL')
skipped=$(printf '%s\n' "${summary[@]}" | grep -c '^NOT RUN')
echo "tiers: $passed passed, $failures failed, $skipped skipped"
exit $failed
