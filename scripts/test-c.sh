#!/usr/bin/env bash
# C and C++ tests against the INSTALLED layout of the library (staged into build/stage and
# found through pkg-config), on real traffic, each in its own network namespace:
#
#   header-*         nfq_rs.h compiles alone as C99/C11/C++17 with -pedantic -Werror
#   install-layout   soname, symlinks, pkg-config metadata, NEEDED entry of a linked program
#   printer          examples-c/printer.c under ASan+UBSan: one line per packet, all arrive
#   printer-signal   printer stopped by SIGTERM (nfq_rs_stop from a signal handler)
#   filter           examples-c/filter.c under ASan+UBSan: drop/mark/accept checked at UDP and
#                    TCP receivers and with an iptables -m mark counter
#   api              tests/c/api_test.c under ASan+UBSan
#   cxx              tests/c/cxx_test.cpp (C++17) under ASan+UBSan
#   api-valgrind     api_test under valgrind --leak-check=full --error-exitcode=1
#   printer-valgrind printer under valgrind on real traffic
#   api-static       api_test linked against libnfq_rs.a (pkg-config --static)
#   ct-api           tests/c/ct_test.c (nfq_rs_ct_*) under ASan+UBSan
#   ct-api-valgrind  ct_test under valgrind
#   ct-events        examples-c/ct_events.c under ASan+UBSan prints the same lines as
#                    `conntrack -E` (conntrack-tools) for the same UDP and TCP traffic
#   log-api          tests/c/log_test.c (nfq_rs_log_*, NFLOG) under ASan+UBSan
#   log-api-valgrind log_test under valgrind
#   nflog-print      examples-c/nflog_print.c under ASan+UBSan: one line per logged packet with
#                    prefix, interfaces, addresses, ports, mark and uid; stopped by SIGTERM
#
# Needs root. Never touches the host namespace's firewall; every namespace has a unique name
# and is deleted even on failure; every wait is bounded. Ends with "C tests: N passed, M failed"
# and exits non-zero if any failed.
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

NS_PREFIX=nfqrs-c
OUT=$ROOT/build/ctest
LOGS=$OUT/logs
SAN_FLAGS=(-fsanitize=address,undefined -fno-omit-frame-pointer -O1)
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:halt_on_error=1:strict_string_checks=1:detect_stack_use_after_return=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
VALGRIND=(valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,possible
    --show-leak-kinds=definite,possible --suppressions="$ROOT/tests/c/valgrind.supp")
ONLY=${1:-}   # optional: run only the tests whose name matches this regex

PASSED=0
FAILED=0
FAILED_NAMES=()

# Safety net: namespaces of this run that a crashed subshell left behind (names contain $$).
final_cleanup() {
    local ns
    for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep -E -- "^$NS_PREFIX-[a-z0-9]+-$$-" || true); do
        ip netns del "$ns" 2>/dev/null || true
    done
}
trap final_cleanup EXIT
trap 'exit 130' INT TERM

# run_test NAME FUNCTION: runs FUNCTION in a subshell (set -e, own namespace cleanup),
# output to $LOGS/NAME.log; prints PASS/FAIL with the time taken.
run_test() {
    local name=$1 fn=$2 t0 t1 rc
    if [ -n "$ONLY" ] && ! [[ $name =~ $ONLY ]]; then return 0; fi
    t0=$(date +%s.%N)
    (
        set -euo pipefail
        trap ns_cleanup EXIT
        "$fn"
    ) >"$LOGS/$name.log" 2>&1
    rc=$?
    t1=$(date +%s.%N)
    local secs
    secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
    if [ "$rc" -eq 0 ]; then
        PASSED=$((PASSED + 1))
        printf 'PASS  %-18s (%ss)\n' "$name" "$secs"
    else
        FAILED=$((FAILED + 1))
        FAILED_NAMES+=("$name")
        printf 'FAIL  %-18s (%ss, status %d) log: %s\n' "$name" "$secs" "$rc" "$LOGS/$name.log"
        tail -n 40 "$LOGS/$name.log" | sed 's/^/      | /'
    fi
}

expect() { # expect DESCRIPTION COMMAND...: fails the test with a message unless COMMAND succeeds
    local what=$1
    shift
    if ! "$@"; then
        echo "EXPECTATION FAILED: $what" >&2
        return 1
    fi
    echo "ok: $what"
}

count_lines() { grep -cE -- "$2" "$1" || true; }

# ---------------------------------------------------------------------------------------
# Build

build_all() {
    stage_install
    local ver static_libs pid rc=0 pids=()
    ver=$(pkg-config --modversion libnfq_rs)
    static_libs=$(pkg-config --static --libs libnfq_rs | sed 's/-lnfq_rs\b/-l:libnfq_rs.a/')
    # The compilations are independent: run them in parallel.
    cc -std=c11 -O2 -Wall -Wextra -Werror "$ROOT/tests/c/udptool.c" -o "$OUT/udptool" & pids+=($!)
    # Sanitized builds
    cc_pc "$OUT/printer-asan" "$ROOT/examples-c/printer.c" "${SAN_FLAGS[@]}" & pids+=($!)
    cc_pc "$OUT/filter-asan" "$ROOT/examples-c/filter.c" "${SAN_FLAGS[@]}" & pids+=($!)
    cc_pc "$OUT/api_test-asan" "$ROOT/tests/c/api_test.c" "${SAN_FLAGS[@]}" \
        -DNFQ_RS_EXPECTED_VERSION="\"$ver\"" -I"$ROOT/tests/c" & pids+=($!)
    cxx_pc "$OUT/cxx_test-asan" "$ROOT/tests/c/cxx_test.cpp" "${SAN_FLAGS[@]}" -I"$ROOT/tests/c" & pids+=($!)
    cc_pc "$OUT/ct_test-asan" "$ROOT/tests/c/ct_test.c" "${SAN_FLAGS[@]}" -I"$ROOT/tests/c" & pids+=($!)
    cc_pc "$OUT/ct_test" "$ROOT/tests/c/ct_test.c" -O1 -I"$ROOT/tests/c" & pids+=($!)
    cc_pc "$OUT/ct_events-asan" "$ROOT/examples-c/ct_events.c" "${SAN_FLAGS[@]}" & pids+=($!)
    cc_pc "$OUT/log_test-asan" "$ROOT/tests/c/log_test.c" "${SAN_FLAGS[@]}" -I"$ROOT/tests/c" & pids+=($!)
    cc_pc "$OUT/log_test" "$ROOT/tests/c/log_test.c" -O1 -I"$ROOT/tests/c" & pids+=($!)
    cc_pc "$OUT/nflog_print-asan" "$ROOT/examples-c/nflog_print.c" "${SAN_FLAGS[@]}" & pids+=($!)
    # Plain builds for valgrind
    cc_pc "$OUT/printer" "$ROOT/examples-c/printer.c" -O2 & pids+=($!)
    cc_pc "$OUT/api_test" "$ROOT/tests/c/api_test.c" -O1 -DNFQ_RS_EXPECTED_VERSION="\"$ver\"" \
        -I"$ROOT/tests/c" & pids+=($!)
    # Static: libnfq_rs.a plus the Libs.private of the .pc file
    # shellcheck disable=SC2046,SC2086
    cc -std=c11 -Wall -Wextra -Werror -O1 -DNFQ_RS_EXPECTED_VERSION="\"$ver\"" -I"$ROOT/tests/c" \
        $(pkg-config --cflags libnfq_rs) "$ROOT/tests/c/api_test.c" -o "$OUT/api_test-static" \
        $static_libs -lpthread & pids+=($!)
    for pid in "${pids[@]}"; do
        wait "$pid" || rc=1
    done
    return "$rc"
}

# ---------------------------------------------------------------------------------------
# Tests

t_header() {
    local std
    for std in c99 c11 c17; do
        echo '#include <nfq_rs.h>
int main(void) { return NFQ_RS_QUEUE(1) == 0 || NFQ_RS_LATER == NFQ_RS_ACCEPT; }' >"$OUT/hdr.c"
        ${CC:-cc} -std=$std -pedantic -Wall -Wextra -Werror $(pkg-config --cflags libnfq_rs) -c "$OUT/hdr.c" \
            -o "$OUT/hdr.o"
        echo "ok: nfq_rs.h alone compiles as $std -pedantic"
    done
    echo '#include <nfq_rs.h>
#include <nfq_rs.h>
int main() { return nfq_rs_version() == nullptr; }' >"$OUT/hdr.cpp"
    ${CXX:-c++} -std=c++17 -pedantic -Wall -Wextra -Werror $(pkg-config --cflags libnfq_rs) -c "$OUT/hdr.cpp" \
        -o "$OUT/hdr.o"
    echo "ok: nfq_rs.h compiles twice in one C++17 unit"
}

t_install_layout() {
    local lib=$STAGE/lib ver soname
    ver=$(pkg-config --modversion libnfq_rs)
    expect "pkg-config version $ver matches Cargo.toml" \
        grep -q "^version = \"$ver\"" "$ROOT/Cargo.toml"
    expect "libnfq_rs.so.$ver is a real file" test -f "$lib/libnfq_rs.so.$ver" -a ! -L "$lib/libnfq_rs.so.$ver"
    expect "libnfq_rs.so.0 -> libnfq_rs.so.$ver" test "$(readlink "$lib/libnfq_rs.so.0")" = "libnfq_rs.so.$ver"
    expect "libnfq_rs.so -> libnfq_rs.so.0" test "$(readlink "$lib/libnfq_rs.so")" = "libnfq_rs.so.0"
    expect "libnfq_rs.a installed" test -f "$lib/libnfq_rs.a"
    expect "header installed and identical" cmp -s "$STAGE/include/nfq_rs.h" "$ROOT/include/nfq_rs.h"
    soname=$(readelf -d "$lib/libnfq_rs.so.$ver" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
    expect "SONAME is libnfq_rs.so.0 (got $soname)" test "$soname" = "libnfq_rs.so.0"
    expect "printer NEEDS libnfq_rs.so.0" bash -c "readelf -d '$OUT/printer' | grep -q 'NEEDED.*\\[libnfq_rs.so.0\\]'"
    expect "static api_test does not need libnfq_rs.so" \
        bash -c "! readelf -d '$OUT/api_test-static' | grep -q 'NEEDED.*libnfq_rs'"
    local cflags
    cflags=$(pkg-config --cflags libnfq_rs)
    expect "pkg-config --cflags points at the stage" test "${cflags% }" = "-I$STAGE/include"
    local n
    n=$(nm -D --defined-only "$lib/libnfq_rs.so.$ver" | awk '$3 ~ /^nfq_rs_/' | wc -l)
    local h
    h=$(grep -cE '^[a-z_0-9 *]+\bnfq_rs_[a-z_0-9]+\(' "$ROOT/include/nfq_rs.h")
    echo "exported nfq_rs_* symbols: $n; functions declared in nfq_rs.h: $h"
    expect "every declared function is exported" test "$n" -ge "$h"
}

# printer on N datagrams; asserts N packet lines, N arrivals, clean exit with counters.
printer_on_traffic() {
    local bin=$1 n=$2 secs=$3 ns pid rc=0
    ns_new ns printer
    ns_ipt "$ns" -A OUTPUT -p udp --dport 5353 -j NFQUEUE --queue-num 0
    bg_start pid timeout "$secs" "${@:4}" "$bin" --netns "/var/run/netns/$ns" --count "$n" 0 >"$OUT/$ns.printer" 2>&1
    wait_for "$OUT/$ns.printer" 'waiting for packets' "$secs" || { cat "$OUT/$ns.printer"; return 1; }
    ns_exec "$ns" "$OUT/udptool" --timeout 5000 5353:"$n" >"$OUT/$ns.recv"
    wait_pid "$pid" "$secs" || rc=$?
    cat "$OUT/$ns.printer" "$OUT/$ns.recv"
    expect "printer exited 0 (got $rc)" test "$rc" -eq 0
    expect "printer printed $n packet lines" \
        test "$(count_lines "$OUT/$ns.printer" '^packet id=[0-9]+ queue=0 hook=OUTPUT hw=0x0800 .* verdict=ACCEPT$')" -eq "$n"
    expect "printer shows uid" grep -q ' uid=0 ' "$OUT/$ns.printer"
    expect "counters show $n packets received" grep -q "packets_received=$n " "$OUT/$ns.printer"
    expect "all $n datagrams arrived" grep -q "^port 5353: $n/$n received" "$OUT/$ns.recv"
}

t_printer() { printer_on_traffic "$OUT/printer-asan" 8 20; }

t_printer_valgrind() { printer_on_traffic "$OUT/printer" 4 60 "${VALGRIND[@]}"; }

t_printer_signal() {
    local ns pid rc=0
    ns_new ns sig
    ns_ipt "$ns" -A OUTPUT -p udp --dport 5353 -j NFQUEUE --queue-num 0
    # exec: $! is the printer itself, so the signal reaches its handler directly.
    bg_start pid bash -c 'exec "$@"' _ "$OUT/printer-asan" --netns "/var/run/netns/$ns" 0 >"$OUT/$ns.printer" 2>&1
    wait_for "$OUT/$ns.printer" 'waiting for packets' 10 || { cat "$OUT/$ns.printer"; return 1; }
    ns_exec "$ns" "$OUT/udptool" --timeout 3000 5353:2 >"$OUT/$ns.recv"
    kill -TERM "$pid"
    wait_pid "$pid" 10 || rc=$?
    cat "$OUT/$ns.printer" "$OUT/$ns.recv"
    expect "printer exited 0 after SIGTERM (got $rc)" test "$rc" -eq 0
    expect "printer reported 2 packets" grep -q '^printer: 2 packets$' "$OUT/$ns.printer"
    expect "printer printed its counters" grep -q '^counters: packets_received=2 ' "$OUT/$ns.printer"
    expect "both datagrams arrived" grep -q '^port 5353: 2/2 received' "$OUT/$ns.recv"
}

t_filter() {
    local ns pid rc=0 marked
    ns_new ns filter
    ns_ipt "$ns" -A OUTPUT -p udp -m multiport --dports 7001:7003 -j NFQUEUE --queue-num 1
    ns_ipt "$ns" -A OUTPUT -p tcp --syn -m multiport --dports 7001:7003 -j NFQUEUE --queue-num 1
    ns_ipt "$ns" -t mangle -A POSTROUTING -p udp -m mark --mark 0x2a
    bg_start pid bash -c 'exec "$@"' _ timeout 30 "$OUT/filter-asan" --netns "/var/run/netns/$ns" 1 7001 7002 \
        >"$OUT/$ns.filter" 2>&1
    wait_for "$OUT/$ns.filter" 'accept the rest' 10 || { cat "$OUT/$ns.filter"; return 1; }
    ns_exec "$ns" "$OUT/udptool" --timeout 1500 7001:4 7002:4 7003:4 tcp:7001 tcp:7003 >"$OUT/$ns.recv"
    kill -TERM "$pid"
    wait_pid "$pid" 10 || rc=$?
    marked=$(ns_rule_packets "$ns" mangle POSTROUTING 1)
    cat "$OUT/$ns.filter" "$OUT/$ns.recv"
    echo "mark rule counter: $marked"
    expect "filter exited 0 (got $rc)" test "$rc" -eq 0
    expect "no UDP datagram to the drop port arrived" grep -q '^port 7001: 0/4 received' "$OUT/$ns.recv"
    expect "all marked datagrams arrived" grep -q '^port 7002: 4/4 received' "$OUT/$ns.recv"
    expect "all other datagrams arrived" grep -q '^port 7003: 4/4 received' "$OUT/$ns.recv"
    expect "TCP to the drop port did not connect" grep -q '^tcp port 7001: not connected' "$OUT/$ns.recv"
    expect "TCP to another port connected" grep -q '^tcp port 7003: connected' "$OUT/$ns.recv"
    expect "4 UDP DROP lines" test "$(count_lines "$OUT/$ns.filter" '^packet id=.* udp .*:7001 .*verdict=DROP$')" -eq 4
    expect "TCP SYN to 7001 dropped" grep -qE '^packet id=.* tcp .*:7001 .*verdict=DROP$' "$OUT/$ns.filter"
    expect "4 MARK lines" test "$(count_lines "$OUT/$ns.filter" '^packet id=.* udp .*:7002 .*verdict=ACCEPT\+MARK mark=0x2a$')" -eq 4
    expect "the -m mark rule counted 4 packets (got $marked)" test "$marked" -eq 4
    expect "no callback or verdict errors" grep -q 'callback errors 0, verdict errors 0' "$OUT/$ns.filter"
}

api_in_ns() {
    local ns
    ns_new ns api
    timeout 120 "$@" "$ns"
}

t_api() { api_in_ns "$OUT/api_test-asan"; }
t_api_valgrind() { api_in_ns "${VALGRIND[@]}" "$OUT/api_test"; }
t_api_static() { api_in_ns "$OUT/api_test-static"; }

t_cxx() {
    local ns
    ns_new ns cxx
    ns_ipt "$ns" -A OUTPUT -p udp --dport 9030 -j NFQUEUE --queue-num 30
    timeout 60 "$OUT/cxx_test-asan" "$ns"
}

t_ct_api() {
    local ns
    ns_new ns ctapi
    timeout 60 "$OUT/ct_test-asan" "$ns"
}

t_ct_api_valgrind() {
    local ns
    ns_new ns ctvg
    timeout 120 "${VALGRIND[@]}" "$OUT/ct_test" "$ns"
}

# ct_events and `conntrack -E` listen in the same namespace to the same traffic; every line
# must be the same (a [DESTROY] caused by a userspace request gets a "[USERSPACE] portid=..."
# suffix from the tool only, so the test makes none).
t_ct_events() {
    local ns ours tool rc=0
    command -v conntrack >/dev/null || { echo "conntrack (conntrack-tools) is not installed" >&2; return 1; }
    ns_new ns ctev
    ns_ipt "$ns" -A OUTPUT -m conntrack --ctstate NEW,ESTABLISHED,RELATED -j ACCEPT
    bg_start ours bash -c 'exec "$@"' _ timeout 20 "$OUT/ct_events-asan" --netns "/var/run/netns/$ns" \
        >"$OUT/$ns.ours" 2>"$OUT/$ns.ours.err"
    bg_start tool timeout 20 ip netns exec "$ns" conntrack -E >"$OUT/$ns.tool" 2>/dev/null
    wait_for "$OUT/$ns.ours.err" 'listening' 10 || { cat "$OUT/$ns.ours.err"; return 1; }
    sleep 0.5 # the tool has no ready message
    ns_exec "$ns" "$OUT/udptool" --timeout 1000 6101:3 6102:1 tcp:6103 >/dev/null
    wait_for "$OUT/$ns.tool" 'CLOSE src=' 10 || true
    wait_for "$OUT/$ns.ours" 'CLOSE src=' 10 || true
    kill -TERM "$ours"
    wait_pid "$ours" 10 || rc=$?
    cat "$OUT/$ns.ours" "$OUT/$ns.ours.err"
    echo "--- conntrack -E:"
    cat "$OUT/$ns.tool"
    expect "ct_events exited 0 after SIGTERM (got $rc)" test "$rc" -eq 0
    expect "3 NEW lines (2 UDP flows, 1 TCP)" test "$(count_lines "$OUT/$ns.ours" '^ +\[NEW\] ')" -eq 3
    expect "TCP reached ESTABLISHED" grep -Eq '\[UPDATE\] tcp +6 [0-9]+ ESTABLISHED src=127.0.0.1' "$OUT/$ns.ours"
    expect "the same lines as conntrack -E" diff <(sort "$OUT/$ns.tool") <(sort "$OUT/$ns.ours")
    expect "no overflow or malformed event" grep -q 'overflows 0, malformed 0' "$OUT/$ns.ours.err"
}

t_log_api() {
    local ns
    ns_new ns logapi
    timeout 60 "$OUT/log_test-asan" "$ns"
}

t_log_api_valgrind() {
    local ns
    ns_new ns logvg
    timeout 120 "${VALGRIND[@]}" "$OUT/log_test" "$ns"
}

# nflog_print inside the namespace (interface names resolve there) on UDP traffic logged at
# OUTPUT (marked) and INPUT; stopped by SIGTERM after the lines appeared.
t_nflog_print() {
    local ns pid rc=0 f
    ns_new ns nflog
    ns_ipt "$ns" -t mangle -A OUTPUT -p udp --dport 5454 -j MARK --set-mark 0x2a
    ns_ipt "$ns" -A OUTPUT -p udp --dport 5454 -j NFLOG --nflog-group 9 --nflog-prefix np-out
    ns_ipt "$ns" -A INPUT -p udp --dport 5454 -j NFLOG --nflog-group 9 --nflog-prefix np-in
    f=$OUT/$ns.nflog
    bg_start pid bash -c 'exec "$@"' _ timeout 30 ip netns exec "$ns" "$OUT/nflog_print-asan" 9 >"$f" 2>&1
    wait_for "$f" 'listening on NFLOG group 9' 10 || { cat "$f"; return 1; }
    ns_exec "$ns" "$OUT/udptool" --timeout 2000 5454:3 >"$OUT/$ns.recv"
    for _ in $(seq 1 40); do [ "$(count_lines "$f" '^np-in: ')" -ge 3 ] && break; sleep 0.05; done
    kill -TERM "$pid"
    wait_pid "$pid" 10 || rc=$?
    cat "$f" "$OUT/$ns.recv"
    expect "nflog_print exited 0 after SIGTERM (got $rc)" test "$rc" -eq 0
    expect "3 OUTPUT lines with prefix, interfaces, addresses, ports, mark, uid" test "$(count_lines "$f" \
        '^np-out: in=- out=lo 127\.0\.0\.1:[0-9]+ -> 127\.0\.0\.1:5454 udp mark=0x2a uid=0 len=[0-9]+$')" -eq 3
    expect "3 INPUT lines" test "$(count_lines "$f" '^np-in: in=lo out=- 127\.0\.0\.1:[0-9]+ -> 127\.0\.0\.1:5454 udp ')" -eq 3
    expect "counters: 6 messages, no errors" \
        grep -qE '^nflog_print: 6 messages in [0-9]+ datagrams, callback errors 0, overflows 0, kernel drops 0$' "$f"
    expect "all 3 datagrams arrived" grep -q '^port 5454: 3/3 received' "$OUT/$ns.recv"
}

# ---------------------------------------------------------------------------------------

if [ "$(id -u)" -ne 0 ]; then
    echo "test-c.sh: needs root (network namespaces, iptables inside them, NFQUEUE)" >&2
    echo "C tests: 0 passed, 1 failed"
    exit 1
fi

rm -rf "$OUT"
mkdir -p "$OUT" "$LOGS"
echo "building the library, staging it into $STAGE and building the C tests..."
build_t0=$(date +%s.%N)
if ! (set -euo pipefail; build_all) >"$LOGS/build.log" 2>&1; then
    echo "FAIL  build (log: $LOGS/build.log)"
    tail -n 40 "$LOGS/build.log" | sed 's/^/      | /'
    echo "C tests: 0 passed, 1 failed"
    exit 1
fi
echo "built in $(awk -v a="$build_t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')s"

run_test header t_header
run_test install-layout t_install_layout
run_test printer t_printer
run_test printer-signal t_printer_signal
run_test filter t_filter
run_test api t_api
run_test cxx t_cxx
run_test api-valgrind t_api_valgrind
run_test printer-valgrind t_printer_valgrind
run_test api-static t_api_static
run_test ct-api t_ct_api
run_test ct-events t_ct_events
run_test ct-api-valgrind t_ct_api_valgrind
run_test log-api t_log_api
run_test nflog-print t_nflog_print
run_test log-api-valgrind t_log_api_valgrind

echo "C tests: $PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
