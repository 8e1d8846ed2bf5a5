#!/usr/bin/env bash
# Runs the Python package's tests (python/tests, pytest) against target/release/libnfq_rs.so.
# Needs root (network namespaces, iptables, CAP_NET_ADMIN). Builds nothing: run
# `cargo build --release` first. Installs pytest with pip if it is missing, and the PyPI
# netfilterqueue package into build/bench-venv (scripts/netfilterqueue-venv.sh) for the
# differential tests of nfq_rs.compat.
# Exits non-zero on any failure, including when pytest collects no tests (its exit code 5).
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)
PYTHON=${PYTHON:-python3}
LIB="$ROOT/${CARGO_TARGET_DIR:-target}/release/libnfq_rs.so"

say() { echo "test-python: $*" >&2; }

if [ "$(id -u)" -ne 0 ]; then
    say "must run as root (the tests make network namespaces and iptables rules)"
    exit 1
fi
if [ ! -f "$LIB" ]; then
    say "$LIB is missing: run 'cargo build --release' first"
    exit 1
fi
if ! "$PYTHON" -c 'import pytest' 2>/dev/null; then
    say "installing pytest"
    pip=("$PYTHON" -m pip install --quiet --disable-pip-version-check --root-user-action=ignore)
    # A Debian system Python refuses pip installs (PEP 668): then allow it, or take Debian's.
    "${pip[@]}" pytest || "${pip[@]}" --break-system-packages pytest || apt-get install -y -qq python3-pytest
    "$PYTHON" -c 'import pytest' || { say "cannot install pytest"; exit 1; }
fi

# The PyPI netfilterqueue package, for the differential tests of the shim.
NFQ_ORIG_PYTHON=$(PYTHON=$PYTHON "$ROOT/scripts/netfilterqueue-venv.sh") || { say "cannot build the netfilterqueue venv"; exit 1; }
export NFQ_ORIG_PYTHON
export NFQ_RS_LIBRARY="$LIB"
rc=0
"$PYTHON" -m pytest -q -p no:cacheprovider python/tests "$@" || rc=$?
if [ "$rc" -eq 5 ]; then
    say "pytest collected no tests"
    exit 1
fi
exit "$rc"
