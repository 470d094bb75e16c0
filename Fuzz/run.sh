#!/usr/bin/env bash
# Builds the libFuzzer targets and runs each for FUZZ_SECONDS (default 30), with leak detection.
#   Fuzz/run.sh                  build and run every target
#   FUZZ_SECONDS=600 Fuzz/run.sh ctap-credentialManagement
#   Fuzz/run.sh --speed          the ctap target's inputs a second, reset in place against a
#                                fresh store and authenticator per input, as JSON (FUZZ_SECONDS each)
# Targets: cbor, ctaphid, apdu, usbip (swiftc, a few sources each); ctap (the CTAP2 core with its
# store, raw CTAP messages), ctap-<command> (the same core, structured requests of one command:
# Fuzz/CTAP/Structured.swift) and rp (the relying party's verifier), through SwiftPM.
#
# Each run starts from Fuzz/regress/<target> (inputs that once crashed: replayed first, so a
# regression fails at once), Fuzz/corpus/<target> (hand-made seeds), the CTAP2-test-tool corpus
# for cbor and ctap when ../shared/corpus has it, and the corpus earlier runs grew in
# .build-fuzz/corpus/<target>, which it grows further. It reports coverage (edges and features
# libFuzzer counted) and corpus size. A crash is copied to Fuzz/regress/<target>/: commit it, and
# the unit tier replays it from then on (ctap, ctap-* and rp; the others replay it here).
set -euo pipefail
cd "$(dirname "$0")/.."
out=.build-fuzz/bin
mkdir -p "$out" .build-fuzz/corpus .build-fuzz/seeds
seconds=${FUZZ_SECONDS:-30}
only=${1:-}
structured=(makeCredential getAssertion clientPIN credentialManagement largeBlobs config)

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

# Seeds from google's CTAP2-test-tool corpus (../shared/corpus, see its README): its CBOR
# parameter maps as they are for cbor, and as CTAP messages (length, command byte, map) for ctap.
shared_seeds() {  # target -> prints the seed folder, or nothing
    local archive
    archive=$(scripts/corpus-archive.sh)
    [[ -z $archive ]] && return 0
    local seeds=.build-fuzz/seeds/$1
    [[ -d $seeds ]] || python3 Tests/Reliability/ctap2_corpus.py seeds "$archive" "$seeds" "$1" >&2
    echo "$seeds"
}

# The ctap target fuzzed from its hand-made seeds for FUZZ_SECONDS twice, with the same libFuzzer
# seed: resetting in place (as it fuzzes) and with FUZZ_RESET=fresh (a new store and authenticator
# per input, as before). Both rates come from the same run of this script.
speed() {
    build_package_target ctap vfido-fuzz-ctap
    local mode rate json="{" scratch
    for mode in in-place fresh; do
        scratch=$(mktemp -d)
        (cd "$out" && FUZZ_RESET=${mode/in-place/} SWIFT_BACKTRACE=enable=no ASAN_OPTIONS=detect_leaks=1 \
            LSAN_OPTIONS="suppressions=$OLDPWD/Fuzz/lsan.supp:print_suppressions=0" ./ctap -seed=1 -detect_leaks=0 \
            -max_total_time="$seconds" -max_len=8192 -print_final_stats=1 "$scratch" "$OLDPWD/Fuzz/corpus/ctap") > "$out/speed-$mode.log" 2>&1 \
            || { tail -20 "$out/speed-$mode.log" >&2; exit 1; }
        rm -rf "$scratch"
        rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$out/speed-$mode.log")
        json+="\"${mode/-/_}_inputs_per_second\": $rate, "
        eval "rate_${mode/-/_}=$rate"
    done
    # shellcheck disable=SC2154
    echo "$json\"seconds_each\": $seconds, \"ratio\": $(awk "BEGIN { printf \"%.2f\", $rate_in_place / $rate_fresh }")}"
}
if [[ ${1:-} == --speed ]]; then speed; exit 0; fi

declare -A targets=(
    [cbor]="Fuzz/CBORReaderFuzz.swift Sources/CBOR/*.swift"
    [ctaphid]="Fuzz/CTAPHIDFuzz.swift Sources/CTAPHID/*.swift Sources/Bytes/*.swift"
    [apdu]="Fuzz/APDUFuzz.swift Sources/CTAP/U2F/APDU.swift"
    [usbip]="Fuzz/USBIPFuzz.swift Sources/USBIP/Protocol.swift Sources/USBIP/USBDevice.swift Sources/USBIP/HIDDevice.swift Sources/Bytes/*.swift"
)

names=(cbor ctaphid apdu usbip ctap)
for command in "${structured[@]}"; do names+=("ctap-$command"); done
names+=(rp)
[[ -z $only || " ${names[*]} " == *" $only "* ]] || { echo "fuzz: no target $only (targets: ${names[*]})" >&2; exit 2; }

built_ctap=0
for name in "${names[@]}"; do
    [[ -n "$only" && "$only" != "$name" ]] && continue
    binary=$name command=""
    case $name in
        ctap-*) binary=ctap command=${name#ctap-} ;;
    esac
    echo "== fuzz target $name: build"
    if [[ $binary == ctap ]]; then
        [[ $built_ctap == 1 ]] || build_package_target ctap vfido-fuzz-ctap
        built_ctap=1
    elif [[ $binary == rp ]]; then
        build_package_target rp vfido-fuzz-rp
    else
        # shellcheck disable=SC2086
        build "$name" ${targets[$name]}
    fi
    corpus=.build-fuzz/corpus/$name
    mkdir -p "$corpus" "Fuzz/corpus/$name" "Fuzz/regress/$name"
    dirs=("$PWD/$corpus" "$PWD/Fuzz/regress/$name" "$PWD/Fuzz/corpus/$name")
    if [[ $name == cbor || $name == ctap ]]; then
        seeds=$(shared_seeds "$name")
        if [[ -n $seeds ]]; then dirs+=("$PWD/$seeds"); else echo "   (no ../shared/corpus here: no CTAP2-test-tool seeds for $name)"; fi
    fi
    echo "== fuzz target $name: ${seconds}s"
    status=0
    # Leak detection is on everywhere. Its one suppression (Fuzz/lsan.supp) is swift-crypto's RSA
    # key generation, which leaks 16 bytes a key in BoringSSL's exponent; any other leak fails the run.
    # The CTAP core's targets check for leaks once, at the end of the run (-detect_leaks=0 only
    # stops libFuzzer's check after each input whose mallocs and frees differ, which the core's
    # caches make most inputs and which held the target to ~50 inputs a second); a leak still
    # fails the run, it is only found later.
    per_input_leaks=1
    [[ $binary == ctap ]] && per_input_leaks=0
    # (Swift's own backtracer is off: ASan reports the crash, and the two trip over each other.)
    (cd "$out" && FUZZ_COMMAND=$command SWIFT_BACKTRACE=enable=no ASAN_OPTIONS=detect_leaks=1 LSAN_OPTIONS="suppressions=$OLDPWD/Fuzz/lsan.supp:print_suppressions=0" \
        "./$binary" -detect_leaks=$per_input_leaks -max_total_time="$seconds" -max_len=8192 -print_final_stats=1 -artifact_prefix="$PWD/$name-" "${dirs[@]}") \
        > "$out/$name.log" 2>&1 || status=$?
    grep -E "^(stat::number_of_executed_units|stat::peak_rss_mb|==[0-9]+==ERROR|SUMMARY|Fatal error)" "$out/$name.log" || true
    done_line=$(grep -E "^#[0-9]+.*(DONE|pulse|NEW|REDUCE|INITED)" "$out/$name.log" | tail -1 || true)
    [[ $done_line =~ cov:\ ([0-9]+)\ ft:\ ([0-9]+)\ corp:\ ([0-9]+) ]] && \
        echo "   coverage: ${BASH_REMATCH[1]} edges, ${BASH_REMATCH[2]} features; corpus ${BASH_REMATCH[3]} inputs ($(find "$corpus" -type f | wc -l) kept in $corpus)"
    if [[ $status -ne 0 ]]; then
        tail -40 "$out/$name.log"
        for artifact in "$out/$name"-crash-* "$out/$name"-leak-* "$out/$name"-timeout-* "$out/$name"-oom-*; do
            [[ -f $artifact ]] || continue
            kept=Fuzz/regress/$name/$(basename "$artifact" | sed "s/^$name-//")
            cp "$artifact" "$kept"
            echo "fuzz target $name: the input is saved as $kept: commit it (the unit tier replays Fuzz/regress)"
        done
        echo "fuzz target $name FAILED (exit $status)"
        exit 1
    fi
    echo "fuzz target $name: ok"
done
