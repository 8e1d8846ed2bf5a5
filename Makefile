# nfq-rs: build, install and test the native C library (libnfq_rs.so / libnfq_rs.a).
#
#   make [all]              cargo build --release, then the drop-ins (unless COMPAT=0)
#   make build              cargo build --release
#   make dropins            build/dropin/libnetfilter_queue.so.1 (see "Drop-ins" below)
#   make header             regenerate include/nfq_rs.h with cbindgen
#   make check-header       fail if the committed include/nfq_rs.h is stale
#   make install            PREFIX=/usr/local DESTDIR= (LIBDIR, INCLUDEDIR, PKGCONFIGDIR)
#   make uninstall          remove exactly what `make install` put there (same variables)
#   make demo               setup, build, staged install, C examples on real traffic in a netns
#   make test               setup, cargo test --release, check-header, C tests (needs root)
#   make test-c             only the C tests (scripts/test-c.sh)
#   make bench              setup, build, benchmarks vs libnetfilter_queue (scripts/bench.sh), the PyPI
#                           netfilterqueue package (scripts/bench-python.sh) and libnetfilter_log
#                           (scripts/bench-nflog.sh); root
#   make bench-python       only the Python stage
#   make bench-nflog        only the NFLOG benchmark
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
# Also install the libnetfilter_queue and libnetfilter_log drop-ins (see install-compat); COMPAT=0 leaves them out.
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
        install-compat uninstall-compat dropins demo test test-c bench bench-python bench-nflog fuzz soak clean

all: build $(if $(filter 1 yes,$(COMPAT)),dropins)

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
# Drop-ins for the upstream libraries (installed by default; COMPAT=0 leaves them out). Each is
# a real shared object linked from libnfq_rs.a, so that it is what programs and plugins linked
# against the upstream library expect of it: upstream's soname, upstream's NEEDED libraries
# (programs and shared objects linked with only -lnetfilter_queue get libnfnetlink's and
# libmnl's symbols through them) plus ours, and exactly upstream's exported symbols, listed
# in a symbols file (unversioned, as upstream's are; nothing else, so no nfnl_*/mnl_* of ours
# can shadow the real ones the NEEDED entries bring). Linked against the runtime sonames
# (-l:libnfnetlink.so.0), so building needs only libnfnetlink0/libmnl0, not their -dev packages.
# They go into their own directories so they never shadow the system's libraries:
#   $(COMPAT_LIBDIR)/<soname>                 the drop-in (LD_LIBRARY_PATH or LD_PRELOAD switch)
#   $(COMPAT_LIBDIR)/lib<name>.so             -> ../../libnfq_rs.so.0 (programs built against
#                                             our .pc link -l<name> and NEED libnfq_rs.so.0,
#                                             never a name the system's upstream library answers to)
#   $(COMPAT_INCDIR)/lib<name>/*.h            our compat headers, from include/lib<name>/
#   $(COMPAT_LIBDIR)/pkgconfig/lib<name>.pc   from pkgconfig/lib<name>.pc.in (PKG_CONFIG_PATH switch)
#
# To add one: append <name> to DROPINS and set DROPIN_<name>_SONAME, DROPIN_<name>_NEEDED
# (upstream's NEEDED sonames besides libc, in upstream's order) and DROPIN_<name>_SYMBOLS (one
# exported name a line); put its headers in include/lib<name>/ and its .pc.in in pkgconfig/
# (each installed when present).
DROPINS := netfilter_queue netfilter_log
DROPIN_netfilter_queue_SONAME  := libnetfilter_queue.so.1
DROPIN_netfilter_queue_NEEDED  := libnfnetlink.so.0 libmnl.so.0
DROPIN_netfilter_queue_SYMBOLS := tests/compat/libnetfilter_queue.symbols
DROPIN_netfilter_log_SONAME    := libnetfilter_log.so.1
DROPIN_netfilter_log_NEEDED    := libnfnetlink.so.0 libmnl.so.0
DROPIN_netfilter_log_SYMBOLS   := tests/compat/libnetfilter_log.symbols

COMPAT_LIBDIR := $(LIBDIR)/nfq_rs/compat
COMPAT_INCDIR := $(INCLUDEDIR)/nfq_rs/compat
DROPIN_DIR    := $(BUILD_DIR)/dropin
dropin_file    = $(DROPIN_DIR)/$(DROPIN_$(1)_SONAME)
DROPIN_FILES   = $(foreach d,$(DROPINS),$(call dropin_file,$(d)))

.PHONY: $(addprefix install-compat-,$(DROPINS)) $(addprefix uninstall-compat-,$(DROPINS))

dropins: $(DROPIN_FILES)

# $(call DROPIN_TEMPLATE,name): the build, install and uninstall rules of one drop-in.
define DROPIN_TEMPLATE
$(call dropin_file,$(1)): build $(NATIVE_LIBS_FILE) $(DROPIN_$(1)_SYMBOLS)
	@mkdir -p $(DROPIN_DIR)
	@for lib in $(DROPIN_$(1)_NEEDED); do \
	    if [ "$$$$($(CC) -print-file-name=$$$$lib)" = "$$$$lib" ]; then \
	        echo "$(DROPIN_$(1)_SONAME): $$$$lib (a NEEDED library of upstream's $(DROPIN_$(1)_SONAME)) is not installed: install it (Debian: scripts/setup.sh) or build with COMPAT=0" >&2; \
	        exit 1; \
	    fi; \
	done
	@syms=$$$$(grep -v -e '^[[:space:]]*$$$$' -e '^#' $(DROPIN_$(1)_SYMBOLS)); \
	{ echo '{'; echo '  global:'; printf '    %s;\n' $$$$syms; echo '  local: *;'; echo '};'; } >$(DROPIN_DIR)/lib$(1).map; \
	printf -- '-Wl,-u,%s\n' $$$$syms >$(DROPIN_DIR)/lib$(1).undef
	$(CC) -shared -o $$@.tmp -Wl,-soname,$(DROPIN_$(1)_SONAME) \
	    -Wl,--version-script=$(DROPIN_DIR)/lib$(1).map @$(DROPIN_DIR)/lib$(1).undef \
	    -Wl,--gc-sections -Wl,-Bsymbolic-functions -Wl,-z,relro,-z,now -Wl,-z,noexecstack \
	    -Wl,--no-as-needed $(addprefix -l:,$(DROPIN_$(1)_NEEDED)) \
	    -Wl,--as-needed -Wl,--no-undefined $(RELEASE)/$(A_FILE) $$$$(cat $(NATIVE_LIBS_FILE))
	@missing=$$$$(comm -23 <(grep -v -e '^[[:space:]]*$$$$' -e '^#' $(DROPIN_$(1)_SYMBOLS) | sort -u) \
	    <(nm -D --defined-only $$@.tmp | awk '{print $$$$3}' | sort -u) | tr '\n' ' '); \
	if [ -n "$$$$missing" ]; then \
	    rm -f $$@.tmp; \
	    echo "$(DROPIN_$(1)_SONAME): libnfq_rs.a does not export $$$$missing(listed in $(DROPIN_$(1)_SYMBOLS))" >&2; \
	    exit 1; \
	fi
	mv -f $$@.tmp $$@

install-compat-$(1): install-native $(call dropin_file,$(1))
	$(INSTALL) -d "$(DESTDIR)$(COMPAT_LIBDIR)/pkgconfig" "$(DESTDIR)$(COMPAT_INCDIR)/lib$(1)"
	$(INSTALL) -m 0755 $(call dropin_file,$(1)) "$(DESTDIR)$(COMPAT_LIBDIR)/$(DROPIN_$(1)_SONAME)"
	ln -sfn ../../$(SO_MAJOR) "$(DESTDIR)$(COMPAT_LIBDIR)/lib$(1).so"
	$(if $(wildcard include/lib$(1)/*.h),$(INSTALL) -m 0644 $(wildcard include/lib$(1)/*.h) "$(DESTDIR)$(COMPAT_INCDIR)/lib$(1)/")
	$(if $(wildcard pkgconfig/lib$(1).pc.in),sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@LIBDIR@|$(LIBDIR)|g' \
	    -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|g' -e 's|@VERSION@|$(VERSION)|g' \
	    -e "s|@LIBS_PRIVATE@|$$$$(cat $(NATIVE_LIBS_FILE))|g" \
	    pkgconfig/lib$(1).pc.in >"$(DESTDIR)$(COMPAT_LIBDIR)/pkgconfig/lib$(1).pc" && \
	    chmod 0644 "$(DESTDIR)$(COMPAT_LIBDIR)/pkgconfig/lib$(1).pc")

uninstall-compat-$(1):
	for h in $(notdir $(wildcard include/lib$(1)/*.h)); do rm -f "$(DESTDIR)$(COMPAT_INCDIR)/lib$(1)/$$$$h"; done
	rm -f "$(DESTDIR)$(COMPAT_LIBDIR)/$(DROPIN_$(1)_SONAME)" "$(DESTDIR)$(COMPAT_LIBDIR)/lib$(1).so" \
	      "$(DESTDIR)$(COMPAT_LIBDIR)/pkgconfig/lib$(1).pc"
	@[ -d "$(DESTDIR)$(COMPAT_INCDIR)/lib$(1)" ] && rmdir --ignore-fail-on-non-empty "$(DESTDIR)$(COMPAT_INCDIR)/lib$(1)" || true
endef
$(foreach d,$(DROPINS),$(eval $(call DROPIN_TEMPLATE,$(d))))

install-compat: $(addprefix install-compat-,$(DROPINS))

uninstall-compat: $(addprefix uninstall-compat-,$(DROPINS))
	@for d in "$(COMPAT_INCDIR)" "$(INCLUDEDIR)/nfq_rs" \
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
	scripts/bench-nflog.sh

# Only the Python stage of make bench: netfilterqueue vs nfq_rs.compat vs nfq_rs.Queue.
bench-python:
	scripts/setup.sh
	$(MAKE) --no-print-directory build
	scripts/bench-python.sh

bench-nflog:
	scripts/setup.sh
	$(MAKE) --no-print-directory build
	scripts/bench-nflog.sh

clean:
	$(CARGO) clean
	rm -rf $(BUILD_DIR)
