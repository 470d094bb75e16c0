# vfido: a virtual FIDO2 security key.
#   make run     build and start the daemon on embedded defaults
#   make test    install what the tests need, then run every test tier this machine can run
#   make bench   benchmarks, as JSON
#   make soak    load and abuse against a release daemon (memory, channels, SIGKILLs), as JSON
#   make fuzz    libFuzzer targets (FUZZ_SECONDS each, default 60); make fuzz-speed: inputs/s, as JSON
#   make install / uninstall   (PREFIX=/usr/local, DESTDIR=)

SWIFT ?= swift
ARGS ?=
PREFIX ?= /usr/local
DESTDIR ?=
BINDIR ?= $(PREFIX)/bin
# udev reads /etc and /usr/lib only, never /usr/local: a /usr/local install puts its rules in /etc.
UDEVRULESDIR ?= $(if $(filter /usr,$(PREFIX)),/usr/lib/udev/rules.d,/etc/udev/rules.d)
SYSTEMDUNITDIR ?= $(PREFIX)/lib/systemd/system
SYSTEMDUSERUNITDIR ?= $(PREFIX)/lib/systemd/user
SYSUSERSDIR ?= $(PREFIX)/lib/sysusers.d
MODULESLOADDIR ?= $(PREFIX)/lib/modules-load.d
# The binary to install (a release build unless told otherwise).
VFIDO_BIN ?= .build/release/vfido

INSTALLED = $(BINDIR)/vfido $(UDEVRULESDIR)/70-vfido.rules $(SYSTEMDUNITDIR)/vfido.service \
	$(SYSTEMDUSERUNITDIR)/vfido.service $(SYSUSERSDIR)/vfido.conf $(MODULESLOADDIR)/vfido.conf

.PHONY: all build run test bench soak fuzz fuzz-speed deps clean help install uninstall

all: build

help:
	@sed -n '2,7p' Makefile

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
	$(SWIFT) build -c release --product vfido
	$(SWIFT) build -c release --product vfido-bench
	.build/release/vfido-bench > .build/bench.json
	.build/release/vfido-bench report .build/bench.json docs
	@cat .build/bench.json
	@echo "bench: docs/performance.md and docs/performance.svg now show this run" >&2

# SOAK_SCALE multiplies every count (1: 300k datagrams, 20k connections, 10k RP requests,
# 8 x 10k channel operations, 300 SIGKILLs).
soak:
	@scripts/install-deps.sh test
	$(SWIFT) build -c release --product vfido
	VFIDO_BIN=.build/release/vfido .venv/bin/python Tests/Reliability/soak.py --scale $${SOAK_SCALE:-1}

fuzz:
	FUZZ_SECONDS=$${FUZZ_SECONDS:-60} Fuzz/run.sh $(TARGET)

fuzz-speed:
	FUZZ_SECONDS=$${FUZZ_SECONDS:-30} Fuzz/run.sh --speed

.build/release/vfido:
	@scripts/install-deps.sh build
	$(SWIFT) build -c release --product vfido

install: $(VFIDO_BIN)
	install -D -m 0755 $(VFIDO_BIN) $(DESTDIR)$(BINDIR)/vfido
	install -D -m 0644 udev/70-vfido.rules $(DESTDIR)$(UDEVRULESDIR)/70-vfido.rules
	install -D -m 0644 udev/sysusers-vfido.conf $(DESTDIR)$(SYSUSERSDIR)/vfido.conf
	install -D -m 0644 udev/modules-load-vfido.conf $(DESTDIR)$(MODULESLOADDIR)/vfido.conf
	install -d $(DESTDIR)$(SYSTEMDUNITDIR) $(DESTDIR)$(SYSTEMDUSERUNITDIR)
	sed 's|@BINDIR@|$(BINDIR)|g' systemd/vfido.service > $(DESTDIR)$(SYSTEMDUNITDIR)/vfido.service
	sed 's|@BINDIR@|$(BINDIR)|g' systemd/vfido-user.service > $(DESTDIR)$(SYSTEMDUSERUNITDIR)/vfido.service
	chmod 0644 $(DESTDIR)$(SYSTEMDUNITDIR)/vfido.service $(DESTDIR)$(SYSTEMDUSERUNITDIR)/vfido.service
	@if [ -z "$(DESTDIR)" ]; then \
		echo "installed. To finish (as root):"; \
		echo "  systemd-sysusers; systemctl restart systemd-modules-load; udevadm control --reload; udevadm trigger"; \
		echo "  usermod -aG vfido <you>   # for vfido serve --uhid without root; log in again"; \
	fi

uninstall:
	rm -f $(addprefix $(DESTDIR),$(INSTALLED))

clean:
	rm -rf .build .venv
