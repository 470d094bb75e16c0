#!/usr/bin/env bash
# Builds the libFuzzer targets and runs each for FUZZ_SECONDS (default 30).
#   Fuzz/run.sh            build and run every target
#   FUZZ_SECONDS=600 Fuzz/run.sh cbor
# Targets: cbor, ctaphid, apdu, usbip (swiftc, a few sources each), ctap (the CTAP2 core with its
# store) and rp (the relying party's verifier), the last two through SwiftPM. A crash is saved as
# .build/fuzz/crash-*; ctap and rp crashes replay with `swift run vfido-fuzz-ctap FILE` (or -rp).
set -euo pipefail
cd "$(dirname "$0")/.."
out=.build/fuzz
mkdir -p "$out"
seconds=${FUZZ_SECONDS:-30}
only=${1:-}

build() {  # name, harness, module sources...
    local name=$1 harness=$2; shift 2
    if ! swiftc -sanitize=fuzzer,address -parse-as-library -O -g -module-name "Fuzz_$name" \
        "$harness" "$@" -o "$out/$name" > "$out/$name.build.log" 2>&1; then
        grep -v "ld.gold: warning" "$out/$name.build.log" >&2
        exit 1
    fi
}

# The CTAP2 core needs swift-crypto, which a bare swiftc build cannot link: SwiftPM builds it,
# with every Swift module instrumented, in a scratch folder of its own. It links with the
# toolchain's lld: GNU gold fails on ASan's runtime ("internal error in format_file_lineno").
build_package_target() {  # name, product
    local lld toolset=$out/lld-toolset.json
    lld=$(dirname "$(readlink -f "$(command -v swiftc)")")/ld.lld
    [[ -x $lld ]] || { echo "fuzz: the Swift toolchain has no ld.lld at $lld" >&2; exit 1; }
    printf '{ "schemaVersion": "1.0", "linker": { "path": "%s" } }\n' "$lld" > "$toolset"
    if ! swift build -c release --scratch-path .build-fuzz --product "$2" --toolset "$PWD/$toolset" \
        -Xswiftc -sanitize=fuzzer,address -Xswiftc -DFUZZING -Xswiftc -parse-as-library > "$out/$1.build.log" 2>&1; then
        grep -E "error|warning: unre" "$out/$1.build.log" | head -40 >&2
        exit 1
    fi
    cp .build-fuzz/release/"$2" "$out/$1"
}

declare -A targets=(
    [cbor]="Fuzz/CBORReaderFuzz.swift Sources/CBOR/*.swift"
    [ctaphid]="Fuzz/CTAPHIDFuzz.swift Sources/CTAPHID/*.swift Sources/Bytes/*.swift"
    [apdu]="Fuzz/APDUFuzz.swift Sources/CTAP/U2F/APDU.swift"
    [usbip]="Fuzz/USBIPFuzz.swift Sources/USBIP/Protocol.swift Sources/USBIP/USBDevice.swift Sources/USBIP/HIDDevice.swift Sources/Bytes/*.swift"
)

for name in cbor ctaphid apdu usbip ctap rp; do
    [[ -n "$only" && "$only" != "$name" ]] && continue
    echo "== fuzz target $name: build"
    if [[ $name == ctap || $name == rp ]]; then
        build_package_target "$name" "vfido-fuzz-$name"
    else
        # shellcheck disable=SC2086
        build "$name" ${targets[$name]}
    fi
    corpus="Fuzz/corpus/$name"
    mkdir -p "$corpus"
    mkdir -p "$out/corpus-$name"
    echo "== fuzz target $name: ${seconds}s"
    status=0
    # (Leak detection is off for ctap: swift-crypto's RSA key generation leaks 16 bytes a key.)
    leaks=1; [[ $name == ctap ]] && leaks=0
    (cd "$out" && ASAN_OPTIONS=detect_leaks=$leaks "./$name" -max_total_time="$seconds" -max_len=8192 -print_final_stats=1 \
        "corpus-$name" "$OLDPWD/$corpus") > "$out/$name.log" 2>&1 || status=$?
    grep -E "^(stat::number_of_executed_units|stat::peak_rss_mb|==[0-9]+==ERROR|SUMMARY|Fatal error)" "$out/$name.log" || true
    if [[ $status -ne 0 ]]; then
        tail -40 "$out/$name.log"
        echo "fuzz target $name FAILED (exit $status; the crashing input is saved as $out/crash-*)"
        exit 1
    fi
    echo "fuzz target $name: ok"
done
