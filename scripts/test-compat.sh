#!/usr/bin/env bash
# Tests of the libnetfilter_queue drop-in (src/compat), against the real libnetfilter_queue
# installed from Debian and against the INSTALLED compat layout (`make install COMPAT=1`,
# staged into build/stage):
#
#   symbols         every symbol of libnetfilter_queue 1.0.5 and its git tree is exported
#                   (tests/compat/libnetfilter_queue.symbols), nfq_errno as data, unversioned
#   diff-api        tests/compat/diff_api.c: builders, nfq_nlmsg_parse and every getter give
#                   the same bytes and answers through the real library and ours
#   legacy-*        tests/compat/legacy_prog.c, every legacy call on a live queue, compiled
#                   once against the real library and run with it, with LD_PRELOAD=libnfq_rs.so
#                   and with our libnetfilter_queue.so.1 on LD_LIBRARY_PATH: same output, and
#                   the library that served nfq_open is checked; also under valgrind
#   legacy-source   the same program rebuilt unchanged against our compat pkg-config
#   nf-queue        upstream's example nf-queue.c (from libnetfilter-queue-dev's docs, not
#                   copied here) built unchanged against our compat pkg-config, on real traffic
#   dlopen-*        tests/compat/dlopen_prog.c loads the library by name, as ctypes does
#
# and of the libnetfilter_log drop-in, against the real libnetfilter_log 1.0.2:
#
#   nflog-symbols   every symbol of libnetfilter_log 1.0.2 is exported
#                   (tests/compat/libnetfilter_log.symbols), nflog_errno as data, unversioned
#   nflog-diff      tests/compat/diff_nflog.c, in a namespace: nflog_handle_packet on generated
#                   datagrams (callbacks, table, every getter, XML with every flag), the
#                   nflog_nlmsg_* parser/printer and builders, same answers through both
#   nflog-legacy-*  tests/compat/nflog_legacy_prog.c, every legacy call on live NFLOG groups,
#                   compiled once against the real library and run with it, with LD_PRELOAD,
#                   with our libnetfilter_log.so.1 on LD_LIBRARY_PATH, rebuilt against our
#                   compat pkg-config, and under valgrind: same output
#   nflog-mnl-*     tests/compat/nflog_mnl_prog.c, a libmnl consumer (nflog_nlmsg_* builders,
#                   parser and printer on live messages), the same four ways
#
# Needs root. Ends with "compat tests: N passed, M failed"; exits non-zero if any failed.
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

NS_PREFIX=nfqrs-compat
OUT=$ROOT/build/compat-test
mkdir -p "$OUT"
REAL_LIB=$(ls /usr/lib/*/libnetfilter_queue.so.1 2>/dev/null | head -n1)
REAL_LOG_LIB=$(ls /usr/lib/*/libnetfilter_log.so.1 2>/dev/null | head -n1)
COMPAT_LIB=$STAGE/lib/nfq_rs/compat
COMPAT_PC=$COMPAT_LIB/pkgconfig
EXAMPLE=/usr/share/doc/libnetfilter-queue-dev/examples/nf-queue.c
PASSED=0
FAILED=0
FAILED_NAMES=()
trap ns_cleanup EXIT

pass() { PASSED=$((PASSED + 1)); echo "ok   $1"; }
fail() { FAILED=$((FAILED + 1)); FAILED_NAMES+=("$1"); echo "FAIL $1${2:+: $2}"; }

if [ -z "$REAL_LIB" ] || [ ! -f "$EXAMPLE" ]; then
    echo "the real libnetfilter_queue (libnetfilter-queue-dev) is missing: run scripts/setup.sh" >&2
    exit 1
fi
if [ -z "$REAL_LOG_LIB" ] || ! pkg-config --exists libnetfilter_log; then
    echo "the real libnetfilter_log (libnetfilter-log-dev) is missing: run scripts/setup.sh" >&2
    exit 1
fi
if ! make -C "$ROOT" --no-print-directory install COMPAT=1 PREFIX="$STAGE" >"$OUT/install.log" 2>&1; then
    cat "$OUT/install.log" >&2
    echo "staged install with COMPAT=1 failed" >&2
    exit 1
fi
OURS=$STAGE/lib/libnfq_rs.so

# --- symbols ---------------------------------------------------------------------------
missing=$(comm -23 "$ROOT/tests/compat/libnetfilter_queue.symbols" \
    <(nm -D --defined-only "$OURS" | awk '{print $3}' | sort -u))
kind=$(nm -D --defined-only "$OURS" | awk '$3 == "nfq_errno" {print $2}')
versioned=$(nm -D --defined-only "$OURS" | awk '{print $3}' | grep -c '@' || true)
if [ -z "$missing" ] && [[ "$kind" =~ ^[BD]$ ]] && [ "$versioned" = 0 ]; then
    pass "symbols ($(wc -l <"$ROOT/tests/compat/libnetfilter_queue.symbols") upstream symbols exported)"
else
    fail symbols "missing: ${missing//$'\n'/ } nfq_errno kind: $kind versioned: $versioned"
fi

# --- differential ----------------------------------------------------------------------
if cc -O1 -Wall -Wextra -Werror "$ROOT/tests/compat/diff_api.c" -o "$OUT/diff_api" -ldl &&
    "$OUT/diff_api" "$REAL_LIB" "$OURS" 3000 >"$OUT/diff_api.log" 2>&1 &&
    grep -q ' 0 failed' "$OUT/diff_api.log"; then
    pass "diff-api: $(tail -n1 "$OUT/diff_api.log")"
else
    fail diff-api "$(tail -n5 "$OUT/diff_api.log" 2>/dev/null)"
fi

# --- the legacy-API program, three ways ----------------------------------------------------
# shellcheck disable=SC2046
cc -Wall -Wextra -Werror "$ROOT/tests/compat/legacy_prog.c" -o "$OUT/legacy_real" \
    $(pkg-config --cflags --libs libnetfilter_queue libnfnetlink) -ldl || fail legacy-build
# shellcheck disable=SC2046
PKG_CONFIG_PATH=$COMPAT_PC cc -Wall -Wextra -Werror "$ROOT/tests/compat/legacy_prog.c" -o "$OUT/legacy_ours" \
    $(PKG_CONFIG_PATH=$COMPAT_PC pkg-config --cflags --libs libnetfilter_queue) \
    $(pkg-config --libs libnfnetlink) -Wl,-rpath,"$STAGE/lib" -ldl || fail legacy-source-build

# run_legacy NAME OUTFILE CMD...: in a fresh namespace queueing UDP 40000-40009 to queue 7.
run_legacy() {
    local name=$1 out=$2 ns
    shift 2
    ns_new ns legacy || return 1
    ns_ipt "$ns" -A OUTPUT -p udp --dport 40000:40009 -j NFQUEUE --queue-num 7 || return 1
    ns_exec "$ns" "$@" >"$out" 2>"$out.err"
    local rc=$?
    ip netns del "$ns" 2>/dev/null
    return $rc
}

served_by() { sed -n 's/^served-by: //p' "$1.err"; }

if run_legacy real "$OUT/legacy.real" "$OUT/legacy_real" && grep -q '^close-nfnl=0' "$OUT/legacy.real"; then
    pass "legacy-real (reference run, served by $(served_by "$OUT/legacy.real"))"
else
    fail legacy-real "$(tail -n3 "$OUT/legacy.real.err" 2>/dev/null)"
fi

check_same() {
    local name=$1 out=$2 want_lib=$3
    local lib
    lib=$(served_by "$out")
    if ! diff -u "$OUT/legacy.real" "$out" >"$out.diff"; then
        fail "$name" "output differs from the real library: $(head -n 12 "$out.diff")"
    elif [[ "$lib" != *"$want_lib"* ]]; then
        fail "$name" "nfq_open was served by '$lib', not $want_lib"
    else
        pass "$name (same output, served by $lib)"
    fi
}

run_legacy preload "$OUT/legacy.preload" env LD_PRELOAD="$OURS" "$OUT/legacy_real"
check_same legacy-ld-preload "$OUT/legacy.preload" libnfq_rs
run_legacy libpath "$OUT/legacy.libpath" env LD_LIBRARY_PATH="$COMPAT_LIB" "$OUT/legacy_real"
check_same legacy-ld-library-path "$OUT/legacy.libpath" "nfq_rs/compat/libnetfilter_queue.so.1"
run_legacy source "$OUT/legacy.source" "$OUT/legacy_ours"
check_same legacy-source "$OUT/legacy.source" libnfq_rs
run_legacy valgrind "$OUT/legacy.valgrind" env LD_PRELOAD="$OURS" \
    valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite "$OUT/legacy_real"
check_same legacy-valgrind "$OUT/legacy.valgrind" libnfq_rs

# --- upstream's nf-queue.c, unchanged, against our compat pkg-config ----------------------
# shellcheck disable=SC2046
if PKG_CONFIG_PATH=$COMPAT_PC cc -Wall -o "$OUT/nf-queue" "$EXAMPLE" \
    $(PKG_CONFIG_PATH=$COMPAT_PC pkg-config --cflags --libs libnetfilter_queue) $(pkg-config --libs libmnl) \
    -Wl,-rpath,"$STAGE/lib" 2>"$OUT/nf-queue.build.log"; then
    ns_new ns nfq
    ns_ipt "$ns" -A OUTPUT -p udp --dport 41000 -j NFQUEUE --queue-num 5
    bg_start pid bash -c "exec timeout 20 ip netns exec '$ns' stdbuf -oL '$OUT/nf-queue' 5 >'$OUT/nf-queue.out' 2>&1"
    sleep 0.5
    got=$(ns_exec "$ns" python3 - <<'PY'
import socket
r = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); r.bind(("127.0.0.1", 41000)); r.settimeout(2)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(5):
    s.sendto(b"nfq-%d" % i, ("127.0.0.1", 41000))
n = 0
try:
    while n < 5:
        r.recv(100); n += 1
except OSError:
    pass
print(n)
PY
    )
    sleep 0.3
    kill -TERM "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    lines=$(grep -c 'packet received' "$OUT/nf-queue.out" 2>/dev/null || true)
    needed=$(readelf -d "$OUT/nf-queue" | grep -o 'libnfq_rs[^]]*' | head -n1)
    if [ "$got" = 5 ] && [ "$lines" = 5 ] && [ "$needed" = libnfq_rs.so.0 ]; then
        pass "nf-queue (built unchanged against the compat .pc, NEEDED $needed; 5 packets seen, 5 delivered)"
    else
        fail nf-queue "delivered $got of 5, printed $lines of 5, NEEDED '$needed'"
    fi
    ip netns del "$ns" 2>/dev/null
else
    fail nf-queue-build "$(head -n 5 "$OUT/nf-queue.build.log")"
fi

# --- dlopen by name ----------------------------------------------------------------------
cc -Wall -Wextra -Werror "$ROOT/tests/compat/dlopen_prog.c" -o "$OUT/dlopen_prog" -ldl || fail dlopen-build
ns_new ns dl
for name in libnfq_rs.so libnfq_rs.so.0; do
    if out=$(LD_LIBRARY_PATH="$STAGE/lib" ns_exec "$ns" "$OUT/dlopen_prog" "$name" 2>&1) && [[ "$out" == *" 0 failed"* ]]; then
        pass "dlopen-$name: ${out##*$'\n'}"
    else
        fail "dlopen-$name" "$out"
    fi
done
ip netns del "$ns" 2>/dev/null

# --- libnetfilter_log: symbols ---------------------------------------------------------------
missing=$(comm -23 "$ROOT/tests/compat/libnetfilter_log.symbols" \
    <(nm -D --defined-only "$OURS" | awk '{print $3}' | sort -u))
kind=$(nm -D --defined-only "$OURS" | awk '$3 == "nflog_errno" {print $2}')
if [ -z "$missing" ] && [[ "$kind" =~ ^[BD]$ ]] && [ "$versioned" = 0 ]; then
    pass "nflog-symbols ($(wc -l <"$ROOT/tests/compat/libnetfilter_log.symbols") upstream symbols exported)"
else
    fail nflog-symbols "missing: ${missing//$'\n'/ } nflog_errno kind: $kind versioned: $versioned"
fi

# --- libnetfilter_log: differential (binds groups, so in its own namespace) ------------------
if cc -O1 -Wall -Wextra -Werror "$ROOT/tests/compat/diff_nflog.c" -o "$OUT/diff_nflog" -ldl; then
    ns_new ns nflogdiff
    if ns_exec "$ns" "$OUT/diff_nflog" "$REAL_LOG_LIB" "$OURS" 1500 >"$OUT/diff_nflog.log" 2>&1 &&
        grep -q ' 0 failed' "$OUT/diff_nflog.log"; then
        pass "nflog-diff: $(tail -n1 "$OUT/diff_nflog.log")"
    else
        fail nflog-diff "$(tail -n12 "$OUT/diff_nflog.log" 2>/dev/null | cut -c1-300)"
    fi
    ip netns del "$ns" 2>/dev/null
else
    fail nflog-diff-build
fi

# --- libnetfilter_log: the legacy-API program, every way -------------------------------------
# shellcheck disable=SC2046
cc -Wall -Wextra -Werror "$ROOT/tests/compat/nflog_legacy_prog.c" -o "$OUT/nflog_legacy_real" \
    $(pkg-config --cflags --libs libnetfilter_log libnfnetlink) -ldl || fail nflog-legacy-build
# shellcheck disable=SC2046
PKG_CONFIG_PATH=$COMPAT_PC cc -Wall -Wextra -Werror "$ROOT/tests/compat/nflog_legacy_prog.c" \
    -o "$OUT/nflog_legacy_ours" $(PKG_CONFIG_PATH=$COMPAT_PC pkg-config --cflags --libs libnetfilter_log) \
    $(pkg-config --libs libnfnetlink) -Wl,-rpath,"$STAGE/lib" -ldl || fail nflog-legacy-source-build

# run_nflog OUTFILE CMD...: in a fresh namespace logging UDP 40100-40102 and pings (see the
# program's header comment for the rules).
run_nflog() {
    local out=$1 ns t
    shift
    ns_new ns nflog || return 1
    ns_ipt "$ns" -A OUTPUT -p udp --dport 40100 -j NFLOG --nflog-group 31 --nflog-prefix lc-one \
        --nflog-threshold 1 || return 1
    ns_ipt "$ns" -A OUTPUT -p udp --dport 40101 -j NFLOG --nflog-group 31 --nflog-prefix lc-batch \
        --nflog-threshold 4 || return 1
    ns_ipt "$ns" -A OUTPUT -p udp --dport 40102 -j MARK --set-mark 42 || return 1
    ns_ipt "$ns" -A OUTPUT -p udp --dport 40102 -j NFLOG --nflog-group 32 --nflog-prefix lc-mark \
        --nflog-threshold 1 || return 1
    for t in echo-request echo-reply; do
        ns_ipt "$ns" -A OUTPUT -p icmp --icmp-type $t -j NFLOG --nflog-group 33 --nflog-prefix ping-out \
            --nflog-threshold 1 || return 1
        ns_ipt "$ns" -A INPUT -p icmp --icmp-type $t -j NFLOG --nflog-group 33 --nflog-prefix ping-in \
            --nflog-threshold 1 || return 1
    done
    ns_exec "$ns" ip6tables -w 5 -A OUTPUT -p udp --dport 40103 -j NFLOG --nflog-group 31 \
        --nflog-prefix lc-v6 --nflog-threshold 1 || return 1
    ns_exec "$ns" "$@" >"$out" 2>"$out.err"
    local rc=$?
    ip netns del "$ns" 2>/dev/null
    return $rc
}

if run_nflog "$OUT/nflog.real" "$OUT/nflog_legacy_real" && grep -q '^done: 17 callbacks' "$OUT/nflog.real" &&
    grep -q '^served-by: .*/libnetfilter_log.so.1' "$OUT/nflog.real.err"; then
    pass "nflog-legacy-real (reference run, served by $(served_by "$OUT/nflog.real"))"
else
    fail nflog-legacy-real "$(tail -n3 "$OUT/nflog.real" "$OUT/nflog.real.err" 2>/dev/null)"
fi

check_same_nflog() {
    local name=$1 out=$2 want_lib=$3
    local lib
    lib=$(served_by "$out")
    if ! diff -u "$OUT/nflog.real" "$out" >"$out.diff"; then
        fail "$name" "output differs from the real library: $(head -n 12 "$out.diff")"
    elif [[ "$lib" != *"$want_lib"* ]]; then
        fail "$name" "nflog_open was served by '$lib', not $want_lib"
    else
        pass "$name (same output, served by $lib)"
    fi
}

run_nflog "$OUT/nflog.preload" env LD_PRELOAD="$OURS" "$OUT/nflog_legacy_real"
check_same_nflog nflog-legacy-ld-preload "$OUT/nflog.preload" libnfq_rs
run_nflog "$OUT/nflog.libpath" env LD_LIBRARY_PATH="$COMPAT_LIB" "$OUT/nflog_legacy_real"
check_same_nflog nflog-legacy-ld-library-path "$OUT/nflog.libpath" "nfq_rs/compat/libnetfilter_log.so.1"
run_nflog "$OUT/nflog.source" "$OUT/nflog_legacy_ours"
check_same_nflog nflog-legacy-source "$OUT/nflog.source" libnfq_rs
run_nflog "$OUT/nflog.valgrind" env LD_PRELOAD="$OURS" \
    valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite "$OUT/nflog_legacy_real"
check_same_nflog nflog-legacy-valgrind "$OUT/nflog.valgrind" libnfq_rs

# --- libnetfilter_log: a libmnl-based consumer (nflog_nlmsg_* on live messages) ---------------
# shellcheck disable=SC2046
cc -Wall -Wextra -Werror "$ROOT/tests/compat/nflog_mnl_prog.c" -o "$OUT/nflog_mnl_real" \
    $(pkg-config --cflags --libs libnetfilter_log libmnl) -ldl || fail nflog-mnl-build
# shellcheck disable=SC2046
PKG_CONFIG_PATH=$COMPAT_PC cc -Wall -Wextra -Werror "$ROOT/tests/compat/nflog_mnl_prog.c" \
    -o "$OUT/nflog_mnl_ours" $(PKG_CONFIG_PATH=$COMPAT_PC pkg-config --cflags --libs libnetfilter_log) \
    $(pkg-config --libs libmnl) -Wl,-rpath,"$STAGE/lib" -ldl || fail nflog-mnl-source-build
if run_nflog "$OUT/nflog-mnl.real" "$OUT/nflog_mnl_real" && grep -q '^done: 6 log messages' "$OUT/nflog-mnl.real"; then
    pass "nflog-mnl-real (reference run, served by $(served_by "$OUT/nflog-mnl.real"))"
else
    fail nflog-mnl-real "$(tail -n3 "$OUT/nflog-mnl.real" "$OUT/nflog-mnl.real.err" 2>/dev/null)"
fi
check_same_mnl() {
    local name=$1 out=$2 want_lib=$3 lib
    lib=$(served_by "$out")
    if ! diff -u "$OUT/nflog-mnl.real" "$out" >"$out.diff"; then
        fail "$name" "output differs from the real library: $(head -n 12 "$out.diff")"
    elif [[ "$lib" != *"$want_lib"* ]]; then
        fail "$name" "nflog_nlmsg_parse was served by '$lib', not $want_lib"
    else
        pass "$name (same output, served by $lib)"
    fi
}
run_nflog "$OUT/nflog-mnl.preload" env LD_PRELOAD="$OURS" "$OUT/nflog_mnl_real"
check_same_mnl nflog-mnl-ld-preload "$OUT/nflog-mnl.preload" libnfq_rs
run_nflog "$OUT/nflog-mnl.libpath" env LD_LIBRARY_PATH="$COMPAT_LIB" "$OUT/nflog_mnl_real"
check_same_mnl nflog-mnl-ld-library-path "$OUT/nflog-mnl.libpath" "nfq_rs/compat/libnetfilter_log.so.1"
run_nflog "$OUT/nflog-mnl.source" "$OUT/nflog_mnl_ours"
check_same_mnl nflog-mnl-source "$OUT/nflog-mnl.source" libnfq_rs

echo "compat tests: $PASSED passed, $FAILED failed"
[ "$FAILED" = 0 ] || { echo "failed: ${FAILED_NAMES[*]}" >&2; exit 1; }
