#!/usr/bin/env python3
"""google/CTAP2-test-tool-corpus: what each of its inputs means, for the corpus replay tier and
as seeds for `make fuzz`. Standard library only (the fuzz script runs it with the system python).

Usage: ctap2_corpus.py seeds ARCHIVE DIR cbor|ctap  -- writes the CBOR parameter maps into DIR,
as they are (cbor) or as the CTAP fuzz target's messages: 2-byte little-endian length, command
byte, map (ctap).
"""
from __future__ import annotations

import sys
import tarfile
from pathlib import Path

# The corpus's folders: the CTAP command byte their CBOR maps belong to (None: raw CTAPHID).
FOLDERS = {
    "Cbor_MakeCredentialParameters": 0x01,
    "Cbor_GetAssertionParameters": 0x02,
    "Cbor_ClientPinParameters": 0x06,
    "CtapHidRawData": None,
}


def extract(archive: Path, into: Path) -> Path:
    with tarfile.open(archive) as tar:
        tar.extractall(into, filter="data")
    return into


def inputs(root: Path):
    """(folder, name, ctap_command or None, data) for every input, folder by folder."""
    for folder, ctap_command in FOLDERS.items():
        files = sorted(next(root.rglob(folder)).iterdir())
        if not files:
            raise SystemExit(f"corpus folder {folder} is empty")
        for path in files:
            yield folder, path.name, ctap_command, path.read_bytes()


def write_seeds(archive: Path, seeds: Path, form: str) -> None:
    seeds.mkdir(parents=True)
    for folder, name, command, body in inputs(extract(archive, seeds.parent / "unpacked")):
        if command is None:
            continue
        message = bytes([command]) + body
        (seeds / f"{folder}-{name}").write_bytes(body if form == "cbor" else len(message).to_bytes(2, "little") + message)


if __name__ == "__main__":
    if len(sys.argv) != 5 or sys.argv[1] != "seeds" or sys.argv[4] not in ("cbor", "ctap"):
        raise SystemExit(__doc__)
    write_seeds(Path(sys.argv[2]), Path(sys.argv[3]), sys.argv[4])
