#!/usr/bin/env bash
# Builds the libFuzzer targets and runs each for FUZZ_SECONDS (default 30).
#   Fuzz/run.sh            build and run every target
#   FUZZ_SECONDS=600 Fuzz/run.sh cbor
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

declare -A targets=(
    [cbor]="Fuzz/CBORReaderFuzz.swift Sources/CBOR/*.swift"
    [ctaphid]="Fuzz/CTAPHIDFuzz.swift Sources/CTAPHID/*.swift"
    [apdu]="Fuzz/APDUFuzz.swift Sources/CTAP/U2F/APDU.swift"
    [usbip]="Fuzz/USBIPFuzz.swift Sources/USBIP/Protocol.swift Sources/USBIP/USBDevice.swift Sources/USBIP/HIDDevice.swift"
)

for name in cbor ctaphid apdu usbip; do
    [[ -n "$only" && "$only" != "$name" ]] && continue
    echo "== fuzz target $name: build"
    # shellcheck disable=SC2086
    build "$name" ${targets[$name]}
    corpus="Fuzz/corpus/$name"
    mkdir -p "$corpus"
    mkdir -p "$out/corpus-$name"
    echo "== fuzz target $name: ${seconds}s"
    status=0
    (cd "$out" && "./$name" -max_total_time="$seconds" -max_len=8192 -print_final_stats=1 \
        "corpus-$name" "$OLDPWD/$corpus") > "$out/$name.log" 2>&1 || status=$?
    grep -E "^(stat::number_of_executed_units|stat::peak_rss_mb|==[0-9]+==ERROR|SUMMARY|Fatal error)" "$out/$name.log" || true
    if [[ $status -ne 0 ]]; then
        tail -40 "$out/$name.log"
        echo "fuzz target $name FAILED (exit $status; the crashing input is saved as $out/crash-*)"
        exit 1
    fi
    echo "fuzz target $name: ok"
done
