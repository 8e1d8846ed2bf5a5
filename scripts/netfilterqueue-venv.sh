#!/usr/bin/env bash
# Makes sure build/bench-venv holds the PyPI NetfilterQueue package (the original that
# nfq_rs.compat replaces), built against the system libnetfilter_queue, and prints the path of
# that venv's python. Used by scripts/test-python.sh (differential tests) and
# scripts/bench-python.sh. Needs a C compiler, python3-venv, python3-dev and
# libnetfilter-queue-dev (scripts/setup.sh), and PyPI the first time.
# SPDX-License-Identifier: MIT OR Apache-2.0
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV=${NFQ_ORIG_VENV:-$ROOT/build/bench-venv}
VERSION=1.1.0
PYTHON=${PYTHON:-python3}
VPY=$VENV/bin/python
if ! "$VPY" -c "import netfilterqueue, sys; sys.exit(netfilterqueue.__version__ != '$VERSION')" 2>/dev/null; then
    echo "netfilterqueue-venv: installing NetfilterQueue==$VERSION from PyPI into $VENV (builds its extension)" >&2
    rm -rf "$VENV"
    mkdir -p "$(dirname "$VENV")"
    "$PYTHON" -m venv "$VENV" >&2 || { echo "netfilterqueue-venv: $PYTHON -m venv failed (python3-venv: scripts/setup.sh)" >&2; exit 1; }
    log=$(mktemp)
    if ! "$VPY" -m pip install --quiet --disable-pip-version-check "NetfilterQueue==$VERSION" >"$log" 2>&1; then
        cat "$log" >&2
        rm -f "$log"
        echo "netfilterqueue-venv: pip install NetfilterQueue==$VERSION failed (C compiler, python3-dev, libnetfilter-queue-dev?)" >&2
        exit 1
    fi
    rm -f "$log"
fi
so=$("$VPY" -c 'import netfilterqueue._impl as m; print(m.__file__)')
libs=$(ldd "$so") # into a variable: grep -q and pipefail do not mix
grep -Eq "libnetfilter_queue.so.1 => /(usr/)?lib" <<<"$libs" || {
    echo "netfilterqueue-venv: $so does not load the system libnetfilter_queue" >&2
    exit 1
}
echo "$VPY"
