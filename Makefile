# nfq-rs: build, install and test the native C library (libnfq_rs.so / libnfq_rs.a).
#
#   make [all|build]        cargo build --release
#   make header             regenerate include/nfq_rs.h with cbindgen
#   make check-header       fail if the committed include/nfq_rs.h is stale
#   make install            PREFIX=/usr/local DESTDIR= (LIBDIR, INCLUDEDIR, PKGCONFIGDIR)
#   make uninstall          remove exactly what `make install` put there (same variables)
#   make demo               setup, build, staged install, C examples on real traffic in a netns
#   make test               setup, cargo test --release, check-header, C tests (needs root)
#   make test-c             only the C tests (scripts/test-c.sh)
#   make bench              setup, build, benchmark vs libnetfilter_queue (scripts/bench.sh) and the
#                           PyPI netfilterqueue package (scripts/bench-python.sh; root)
#   make bench-python       only the Python stage
#   make fuzz               every fuzz target for FUZZ_SECONDS (60) each (cargo fuzz; installs it if missing)
#   make soak               1M packets through the Rust API and the C API (root)
#   make clean
#
# Plain GNU make; recipes use bash.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := all

CARGO    ?= cargo
CBINDGEN ?= cbindgen
INSTALL  ?= install
LDCONFIG ?= ldconfig
export PATH := $(HOME)/.cargo/bin:$(PATH)

PREFIX       ?= /usr/local
DESTDIR      ?=
LIBDIR       ?= $(PREFIX)/lib
INCLUDEDIR   ?= $(PREFIX)/include
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
# Also install the libnetfilter_queue drop-in (see install-compat); COMPAT=0 leaves it out.
COMPAT       ?= 1

# Version and soname major from Cargo.toml (the soname itself is set in build.rs).
VERSION := $(shell sed -n 's/^version *= *"\([^"]*\)".*/\1/p' Cargo.toml | head -n1)
MAJOR   := $(firstword $(subst ., ,$(VERSION)))

TARGET_DIR := $(or $(CARGO_TARGET_DIR),target)
RELEASE    := $(TARGET_DIR)/release
SO_FILE    := libnfq_rs.so.$(VERSION)
SO_MAJOR   := libnfq_rs.so.$(MAJOR)
SO_LINK    := libnfq_rs.so
A_FILE     := libnfq_rs.a
HEADER     := include/nfq_rs.h
PC_IN      := pkgconfig/libnfq_rs.pc.in
PC_FILE    := libnfq_rs.pc

BUILD_DIR  := build
STAGE      := $(CURDIR)/$(BUILD_DIR)/stage
# What the static library needs besides itself (Libs.private), as rustc reports it; cached.
NATIVE_LIBS_FILE    := $(BUILD_DIR)/native-static-libs.txt
NATIVE_LIBS_DEFAULT := -lgcc_s -lutil -lrt -lpthread -lm -ldl -lc

.PHONY: all build header check-header install uninstall install-native uninstall-native \
        install-compat uninstall-compat demo test test-c bench bench-python fuzz soak clean

all: build

build:
	$(CARGO) build --release

# ---------------------------------------------------------------------------------------
# Header

header:
	$(CBINDGEN) --config cbindgen.toml --crate nfq-rs --output $(HEADER)

check-header:
	@tmp=$$(mktemp --suffix=.h); log=$$(mktemp); \
	trap 'rm -f "$$tmp" "$$log"' EXIT; \
	if ! $(CBINDGEN) --config cbindgen.toml --crate nfq-rs --output "$$tmp" >"$$log" 2>&1; then \
	    cat "$$log" >&2; echo "check-header: cbindgen failed" >&2; exit 1; \
	fi; \
	if ! cmp -s "$$tmp" $(HEADER); then \
	    diff -u $(HEADER) "$$tmp" | head -n 40 >&2 || true; \
	    echo "check-header: $(HEADER) is stale: src/ffi changed; run 'make header' and commit it" >&2; \
	    exit 1; \
	fi; \
	echo "check-header: $(HEADER) is up to date"

# ---------------------------------------------------------------------------------------
# Install / uninstall

$(NATIVE_LIBS_FILE): Cargo.toml Cargo.lock build.rs
	@mkdir -p $(BUILD_DIR)
	@libs=$$($(CARGO) rustc --quiet --lib --crate-type staticlib -- --print native-static-libs 2>&1 \
	        | sed -n 's/.*native-static-libs: //p' | tail -n1); \
	echo "$${libs:-$(NATIVE_LIBS_DEFAULT)}" >$@

install: install-native $(if $(filter 1 yes,$(COMPAT)),install-compat)

install-native: build $(NATIVE_LIBS_FILE)
	$(INSTALL) -d "$(DESTDIR)$(LIBDIR)" "$(DESTDIR)$(INCLUDEDIR)" "$(DESTDIR)$(PKGCONFIGDIR)"
	$(INSTALL) -m 0755 $(RELEASE)/libnfq_rs.so "$(DESTDIR)$(LIBDIR)/$(SO_FILE)"
	ln -sfn $(SO_FILE) "$(DESTDIR)$(LIBDIR)/$(SO_MAJOR)"
	ln -sfn $(SO_MAJOR) "$(DESTDIR)$(LIBDIR)/$(SO_LINK)"
	$(INSTALL) -m 0644 $(RELEASE)/libnfq_rs.a "$(DESTDIR)$(LIBDIR)/$(A_FILE)"
	$(INSTALL) -m 0644 $(HEADER) "$(DESTDIR)$(INCLUDEDIR)/nfq_rs.h"
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@LIBDIR@|$(LIBDIR)|g' \
	    -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|g' -e 's|@VERSION@|$(VERSION)|g' \
	    -e "s|@LIBS_PRIVATE@|$$(cat $(NATIVE_LIBS_FILE))|g" \
	    $(PC_IN) >"$(DESTDIR)$(PKGCONFIGDIR)/$(PC_FILE)"
	chmod 0644 "$(DESTDIR)$(PKGCONFIGDIR)/$(PC_FILE)"
	@# Refresh the linker cache only for a real install into a system library directory.
	@if [ -z "$(DESTDIR)" ] && [ "$$(id -u)" = 0 ]; then \
	    case "$(LIBDIR)" in /lib|/lib/*|/usr/lib|/usr/lib/*|/usr/local/lib|/usr/local/lib/*) \
	        echo "$(LDCONFIG)"; $(LDCONFIG) || true ;; esac; \
	fi

uninstall: $(if $(filter 1 yes,$(COMPAT)),uninstall-compat) uninstall-native

uninstall-native: $(if $(filter 1 yes,$(COMPAT)),uninstall-compat)

uninstall-native:
	rm -f "$(DESTDIR)$(LIBDIR)/$(SO_FILE)" "$(DESTDIR)$(LIBDIR)/$(SO_MAJOR)" \
	      "$(DESTDIR)$(LIBDIR)/$(SO_LINK)" "$(DESTDIR)$(LIBDIR)/$(A_FILE)" \
	      "$(DESTDIR)$(INCLUDEDIR)/nfq_rs.h" "$(DESTDIR)$(PKGCONFIGDIR)/$(PC_FILE)"
	@# Directories: removed when empty, except the system's own (/usr, /usr/local, ...).
	@if [ -n "$(DESTDIR)" ] || ! case "$(PREFIX)" in /|/usr|/usr/|/usr/local|/usr/local/) true;; *) false;; esac; then \
	    for d in "$(PKGCONFIGDIR)" "$(LIBDIR)" "$(INCLUDEDIR)" "$(PREFIX)"; do \
	        [ -d "$(DESTDIR)$$d" ] && rmdir --ignore-fail-on-non-empty "$(DESTDIR)$$d" || true; \
	    done; \
	fi
	@if [ -z "$(DESTDIR)" ] && [ "$$(id -u)" = 0 ]; then \
	    case "$(LIBDIR)" in /lib|/lib/*|/usr/lib|/usr/lib/*|/usr/local/lib|/usr/local/lib/*) \
	        echo "$(LDCONFIG)"; $(LDCONFIG) || true ;; esac; \
	fi

# ---------------------------------------------------------------------------------------
# The libnetfilter_queue drop-in (installed by default; COMPAT=0 leaves it out). It goes into its own
# directories so it never shadows a system libnetfilter_queue:
#   $(COMPAT_INCDIR)/libnetfilter_queue/*.h     our compat headers
#   $(COMPAT_LIBDIR)/libnetfilter_queue.so.1    -> ../../libnfq_rs.so.0 (LD_LIBRARY_PATH switch)
#   $(COMPAT_LIBDIR)/libnetfilter_queue.so      -> libnetfilter_queue.so.1 (for -lnetfilter_queue)
#   $(COMPAT_LIBDIR)/pkgconfig/libnetfilter_queue.pc (PKG_CONFIG_PATH switch)
COMPAT_LIBDIR := $(LIBDIR)/nfq_rs/compat
COMPAT_INCDIR := $(INCLUDEDIR)/nfq_rs/compat
COMPAT_HEADERS := $(notdir $(wildcard include/libnetfilter_queue/*.h))

install-compat: install-native
	$(INSTALL) -d "$(DESTDIR)$(COMPAT_LIBDIR)/pkgconfig" "$(DESTDIR)$(COMPAT_INCDIR)/libnetfilter_queue"
	$(INSTALL) -m 0644 $(addprefix include/libnetfilter_queue/,$(COMPAT_HEADERS)) \
	    "$(DESTDIR)$(COMPAT_INCDIR)/libnetfilter_queue/"
	ln -sfn ../../$(SO_MAJOR) "$(DESTDIR)$(COMPAT_LIBDIR)/libnetfilter_queue.so.1"
	ln -sfn libnetfilter_queue.so.1 "$(DESTDIR)$(COMPAT_LIBDIR)/libnetfilter_queue.so"
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@LIBDIR@|$(LIBDIR)|g' \
	    -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|g' -e 's|@VERSION@|$(VERSION)|g' \
	    -e "s|@LIBS_PRIVATE@|$$(cat $(NATIVE_LIBS_FILE))|g" \
	    pkgconfig/libnetfilter_queue.pc.in >"$(DESTDIR)$(COMPAT_LIBDIR)/pkgconfig/libnetfilter_queue.pc"
	chmod 0644 "$(DESTDIR)$(COMPAT_LIBDIR)/pkgconfig/libnetfilter_queue.pc"

uninstall-compat:
	for h in $(COMPAT_HEADERS); do rm -f "$(DESTDIR)$(COMPAT_INCDIR)/libnetfilter_queue/$$h"; done
	rm -f "$(DESTDIR)$(COMPAT_LIBDIR)/libnetfilter_queue.so.1" "$(DESTDIR)$(COMPAT_LIBDIR)/libnetfilter_queue.so" \
	      "$(DESTDIR)$(COMPAT_LIBDIR)/pkgconfig/libnetfilter_queue.pc"
	@for d in "$(COMPAT_INCDIR)/libnetfilter_queue" "$(COMPAT_INCDIR)" "$(INCLUDEDIR)/nfq_rs" \
	          "$(COMPAT_LIBDIR)/pkgconfig" "$(COMPAT_LIBDIR)" "$(LIBDIR)/nfq_rs"; do \
	    [ -d "$(DESTDIR)$$d" ] && rmdir --ignore-fail-on-non-empty "$(DESTDIR)$$d" || true; \
	done

# ---------------------------------------------------------------------------------------
# Demo and tests (root: network namespaces and iptables inside them)

demo:
	scripts/setup.sh
	$(MAKE) --no-print-directory build
	scripts/demo.sh

# Runs every stage even after a failure, then fails if any stage failed.
test:
	scripts/setup.sh
	@failed=""; \
	echo "== cargo test --release"; \
	$(CARGO) test --release || failed="$$failed cargo-test"; \
	echo "== make check-header"; \
	$(MAKE) --no-print-directory check-header || failed="$$failed check-header"; \
	echo "== scripts/test-c.sh"; \
	scripts/test-c.sh || failed="$$failed c-tests"; \
	echo "== scripts/test-compat.sh"; \
	scripts/test-compat.sh || failed="$$failed compat-tests"; \
	echo "== scripts/test-python.sh"; \
	scripts/test-python.sh || failed="$$failed python-tests"; \
	echo "== scripts/test-fuzz.sh"; \
	scripts/test-fuzz.sh || failed="$$failed fuzz-smoke"; \
	echo "== scripts/test-soak-c.sh"; \
	scripts/test-soak-c.sh || failed="$$failed soak-c"; \
	echo "== scripts/test-hostile.sh"; \
	scripts/test-hostile.sh || failed="$$failed hostile"; \
	if [ -n "$$failed" ]; then echo "make test: FAILED:$$failed" >&2; exit 1; fi; \
	echo "make test: all passed"

test-c:
	scripts/setup.sh
	scripts/test-c.sh

# Fuzzing for longer than the smoke run of `make test`. New inputs go to build/fuzz/long, crashes
# to fuzz/artifacts/<target>/. cargo-fuzz needs nightly flags: RUSTC_BOOTSTRAP=1 on stable.
FUZZ_SECONDS ?= 60
fuzz:
	@command -v cargo-fuzz >/dev/null || $(CARGO) install cargo-fuzz --locked
	@cd fuzz && for t in $$(RUSTC_BOOTSTRAP=1 $(CARGO) fuzz list); do \
	    echo "== fuzz $$t ($(FUZZ_SECONDS)s)"; mkdir -p ../build/fuzz/long/$$t; \
	    RUSTC_BOOTSTRAP=1 $(CARGO) fuzz run -O $$t ../build/fuzz/long/$$t corpus/$$t -- \
	        -max_total_time=$(FUZZ_SECONDS) -timeout=10 -rss_limit_mb=2048 || exit 1; \
	done

# The long soak: 1M packets through accept/mark/rewrite verdicts (Rust API, then C API).
soak:
	scripts/setup.sh
	$(CARGO) test --release --test reliability -- --ignored --nocapture soak_one_million
	SOAK_C_PACKETS=1000000 scripts/test-soak-c.sh

# Not a test: throughput, parse cost, pool and latency against libnetfilter_queue, in a netns.
bench:
	scripts/setup.sh
	$(MAKE) --no-print-directory build
	scripts/bench.sh
	scripts/bench-python.sh

# Only the Python stage of make bench: netfilterqueue vs nfq_rs.compat vs nfq_rs.Queue.
bench-python:
	scripts/setup.sh
	$(MAKE) --no-print-directory build
	scripts/bench-python.sh

clean:
	$(CARGO) clean
	rm -rf $(BUILD_DIR)
