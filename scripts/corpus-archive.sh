#!/usr/bin/env bash
# Prints the path of google/CTAP2-test-tool-corpus's archive, or nothing when this machine lacks it.
# It lives beside the checkout in ../shared/corpus, or beside the repository this clone came from
# (a clean clone of /work/main in /tmp); VFIDO_CORPUS overrides. Used by the corpus replay tier
# and by make fuzz (its seeds).
cd "$(dirname "$0")/.."
name=ctap2-test-tool-corpus.tar.gz
origin=$(git config --get remote.origin.url 2>/dev/null || true)
for candidate in "${VFIDO_CORPUS:-}" "../shared/corpus/$name" "${origin:+$origin/../shared/corpus/$name}"; do
    [[ -n "$candidate" && -f "$candidate" ]] && { readlink -f "$candidate"; exit 0; }
done
