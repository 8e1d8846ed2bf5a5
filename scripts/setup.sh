#!/usr/bin/env bash
# Installs what building and testing nfq-rs needs on a fresh Debian 12 machine (run as root).
# Idempotent and quiet: when everything is present it only checks and returns.
#
#   apt packages   iptables, iproute2, C/C++ toolchain, pkg-config, valgrind, the system
#                  libnetfilter_queue/libnetfilter_log/libmnl/libnfnetlink (for differential tests), conntrack,
#                  python3 (with python3-venv and python3-dev: the PyPI netfilterqueue package is
#                  built into a venv for the Python differential tests and the Python benchmark);
#                  libnfnetlink0 and libmnl0 are also the runtime dependencies of our drop-in
#                  libnetfilter_queue.so.1 and libnetfilter_log.so.1 (linked against them by `make`)
#   cbindgen       0.29.x via `cargo install` (regenerates/checks include/nfq_rs.h)
#
# The Rust toolchain (rustup, cargo) is assumed to be present.
set -euo pipefail

export PATH="$HOME/.cargo/bin:$PATH"
export DEBIAN_FRONTEND=noninteractive

CBINDGEN_VERSION=0.29.4
PACKAGES=(
    iptables iproute2 kmod
    gcc g++ make pkg-config valgrind
    libnetfilter-queue-dev libnetfilter-log-dev libmnl-dev libnfnetlink-dev libnfnetlink0 libmnl0
    conntrack python3 python3-venv python3-dev
)

say() { echo "setup: $*" >&2; }

# Runs a command quietly; shows its output only if it fails.
quiet() {
    local log rc=0
    log=$(mktemp)
    "$@" >"$log" 2>&1 || rc=$?
    if [ "$rc" -ne 0 ]; then
        say "failed ($rc): $*"
        cat "$log" >&2
    fi
    rm -f "$log"
    return "$rc"
}

need_root() {
    if [ "$(id -u)" -ne 0 ]; then
        say "must run as root to install: $*"
        exit 1
    fi
}

# --- apt packages ------------------------------------------------------------------------
missing=()
for p in "${PACKAGES[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$'; then
        missing+=("$p")
    fi
done
if [ "${#missing[@]}" -gt 0 ]; then
    need_root "${missing[*]}"
    say "installing ${missing[*]}"
    quiet apt-get update
    quiet apt-get install -y --no-install-recommends "${missing[@]}"
fi

# --- AddressSanitizer / UBSan runtime (libasan8 and libubsan1 come with gcc-12) -----------
san_ok() {
    local d
    d=$(mktemp -d)
    echo 'int main(void){return 0;}' >"$d/t.c"
    gcc -fsanitize=address,undefined "$d/t.c" -o "$d/t" >/dev/null 2>&1 && "$d/t" >/dev/null 2>&1
    local rc=$?
    rm -rf "$d"
    return $rc
}
if ! san_ok; then
    need_root "libasan8 libubsan1"
    say "installing the sanitizer runtimes"
    quiet apt-get update
    quiet apt-get install -y --no-install-recommends libasan8 libubsan1
    san_ok || { say "gcc -fsanitize=address,undefined does not work"; exit 1; }
fi

# --- pytest for the Python package's tests ---------------------------------------------------
if ! python3 -c 'import pytest' >/dev/null 2>&1; then
    say "installing pytest"
    quiet python3 -m pip install --quiet pytest ||
        quiet python3 -m pip install --quiet --break-system-packages pytest ||
        quiet apt-get install -y --no-install-recommends python3-pytest
fi

# --- kernel modules (built in on some kernels; best effort) ------------------------------
if [ ! -e /proc/net/netfilter/nfnetlink_queue ] && command -v modprobe >/dev/null; then
    modprobe -q nfnetlink_queue 2>/dev/null || true
    modprobe -q xt_NFQUEUE 2>/dev/null || true
fi
if [ ! -e /proc/net/netfilter/nfnetlink_log ] && command -v modprobe >/dev/null; then
    modprobe -q nfnetlink_log 2>/dev/null || true
    modprobe -q xt_NFLOG 2>/dev/null || true
fi
# Conntrack tests: ctnetlink, and the FTP helper (expectations hang off a connection with a helper).
if command -v modprobe >/dev/null; then
    modprobe -q nf_conntrack_netlink 2>/dev/null || true
    modprobe -q nf_conntrack_ftp 2>/dev/null || true
fi

# --- cbindgen ----------------------------------------------------------------------------
if ! cbindgen --version 2>/dev/null | grep -q '^cbindgen 0\.29\.'; then
    command -v cargo >/dev/null || { say "cargo not found: install Rust with rustup first"; exit 1; }
    say "installing cbindgen $CBINDGEN_VERSION"
    cargo install --quiet cbindgen --version "$CBINDGEN_VERSION" --locked
fi

# --- final sanity -----------------------------------------------------------------------
command -v ip >/dev/null || { say "ip (iproute2) missing"; exit 1; }
command -v iptables >/dev/null || { say "iptables missing"; exit 1; }
exit 0
