#!/usr/bin/env bash
# Tier "conformance: python-fido2 tests/device": the reference client's own hardware test suite,
# from its pinned PyPI sdist (downloaded into .build/, nothing installed), against a fresh vfido
# over UDP through Tests/Conformance/vfido_device_plugin.py. Any failure or error fails the tier,
# and so does a pass count below MIN_PASSED (a feature that silently stopped being tested).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
VERSION=2.2.1
MIN_PASSED=66
WORK=$ROOT/.build/conformance
SUITE=$WORK/fido2-$VERSION

if [[ ! -d $SUITE/tests/device ]]; then
    mkdir -p "$WORK"
    echo "== downloading the python-fido2 $VERSION sdist (its tests/device suite) into $WORK"
    .venv/bin/pip download -q --disable-pip-version-check --no-deps --no-binary :all: -d "$WORK" "fido2==$VERSION"
    tar -xzf "$WORK/fido2-$VERSION.tar.gz" -C "$WORK"
fi
# The suite must test the fido2 it ships with: the venv's is pinned to the same version.
installed=$(.venv/bin/python -c 'from importlib.metadata import version; print(version("fido2"))')
[[ $installed == "$VERSION" ]] || { echo "FAIL: .venv has fido2 $installed, the suite is $VERSION" >&2; exit 1; }

# Absolute: pytest runs inside the sdist's folder.
VFIDO=$(realpath "${VFIDO_BIN:-$ROOT/.build/debug/vfido}")
[[ -x $VFIDO ]] || { echo "FAIL: no vfido binary at $VFIDO (build it first)" >&2; exit 1; }
out=$WORK/result.txt
cd "$SUITE"
set +e
VFIDO_BIN=$VFIDO PYTHONPATH=$ROOT/Tests/Conformance \
    "$ROOT/.venv/bin/python" -m pytest -p vfido_device_plugin -p no:cacheprovider -q -rs \
    --rootdir "$SUITE" tests/device "$@" 2>&1 | tee "$out"
rc=${PIPESTATUS[0]}
set -e
line=$(grep -E '^python-fido2 tests/device: [0-9]+ passed' "$out" | tail -1)
[[ -n $line ]] || { echo "FAIL: the suite did not finish (pytest exit $rc)" >&2; exit 1; }
passed=$(sed -E 's/.*: ([0-9]+) passed.*/\1/' <<<"$line")
failed=$(sed -E 's/.* ([0-9]+) failed.*/\1/' <<<"$line")
if ((rc != 0 || failed > 0)); then echo "FAIL: python-fido2's device suite failed (pytest exit $rc)" >&2; exit 1; fi
if ((passed < MIN_PASSED)); then echo "FAIL: only $passed tests passed, expected at least $MIN_PASSED" >&2; exit 1; fi
