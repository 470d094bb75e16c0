# vfido: a virtual FIDO2 security key.
#   make run     build and start the daemon on embedded defaults
#   make test    install what the tests need, then run every test tier this machine can run
#   make bench   benchmarks, as JSON
#   make fuzz    libFuzzer targets (FUZZ_SECONDS each, default 60)

SWIFT ?= swift
ARGS ?=

.PHONY: all build run test bench fuzz deps clean help

all: build

help:
	@sed -n '2,6p' Makefile

build:
	@scripts/install-deps.sh build
	$(SWIFT) build -c release --product vfido

run: build
	.build/release/vfido serve $(ARGS)

test:
	@scripts/install-deps.sh test
	$(SWIFT) build --build-tests
	@scripts/test-all.sh

bench:
	@scripts/install-deps.sh build
	$(SWIFT) build -c release --product vfido-bench
	.build/release/vfido-bench

fuzz:
	FUZZ_SECONDS=$${FUZZ_SECONDS:-60} Fuzz/run.sh

clean:
	rm -rf .build .venv
