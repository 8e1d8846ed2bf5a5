#!/usr/bin/env bash
# C-path soak of the native API (tests/c/soak_test.c) against the staged install, each run in
# its own network namespace with an NFQUEUE rule and a mark counter:
#
#   soak-plain     SOAK_C_PACKETS (default 200000) packets, -O2: one verdict per packet, RSS
#                  and descriptors flat after the warm-up, iptables mark counter exact
#   soak-asan      100000 packets under ASan+UBSan with LeakSanitizer (a leak fails the run)
#   soak-valgrind  20000 packets under valgrind --leak-check=full
#
# Needs root. Ends with "soak-c: N passed, M failed".
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

NS_PREFIX=nfqrs-soakc
OUT=$ROOT/build/soakc
mkdir -p "$OUT"
PLAIN_N=${SOAK_C_PACKETS:-200000}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:halt_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
trap ns_cleanup EXIT

PASSED=0
FAILED=0

# soak NAME N CHECK_RSS CMD...: runs CMD (the soak binary with its runner) in a fresh namespace.
soak() {
    local name=$1 n=$2 rss=$3 ns marked want t0 rc=0
    shift 3
    ns_new ns "$name" || { FAILED=$((FAILED + 1)); return; }
    ns_ipt "$ns" -A OUTPUT -p udp --dport 9950 -j NFQUEUE --queue-num 90
    ns_ipt "$ns" -t mangle -A POSTROUTING -p udp --dport 9950 -m mark --mark 7
    t0=$(date +%s.%N)
    timeout 600 ip netns exec "$ns" "$@" 90 9950 "$n" $rss >"$OUT/$name.log" 2>&1 || rc=$?
    marked=$(ns_rule_packets "$ns" mangle POSTROUTING 1)
    want=$(( (n + 2) / 3 ))
    [ "$marked" = "$want" ] || { echo "mark counter $marked, want $want" >>"$OUT/$name.log"; rc=1; }
    local secs
    secs=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
    if [ "$rc" -eq 0 ]; then
        PASSED=$((PASSED + 1))
        printf 'PASS  %-14s (%ss) %s\n' "$name" "$secs" "$(grep '^soak-c:' "$OUT/$name.log" | cut -c9-)"
    else
        FAILED=$((FAILED + 1))
        printf 'FAIL  %-14s (%ss, status %d) log: %s\n' "$name" "$secs" "$rc" "$OUT/$name.log"
        tail -n 30 "$OUT/$name.log" | sed 's/^/      | /'
    fi
    ip netns del "$ns" 2>/dev/null || true
}

if ! stage_install; then
    echo "soak-c: 0 passed, 1 failed"
    exit 1
fi
src=$ROOT/tests/c/soak_test.c
cc_pc "$OUT/soak" "$src" -O2 -I"$ROOT/tests/c" &
cc_pc "$OUT/soak-asan" "$src" -O1 -fsanitize=address,undefined -fno-omit-frame-pointer -I"$ROOT/tests/c" &
wait %1 && wait %2 || { echo "soak-c: building failed"; echo "soak-c: 0 passed, 1 failed"; exit 1; }

soak soak-plain "$PLAIN_N" --check-rss "$OUT/soak"
soak soak-asan 100000 "" "$OUT/soak-asan"
soak soak-valgrind 20000 "" valgrind -q --error-exitcode=99 --leak-check=full \
    --errors-for-leak-kinds=definite,possible --show-leak-kinds=definite,possible \
    --suppressions="$ROOT/tests/c/valgrind.supp" "$OUT/soak"
echo "soak-c: $PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
