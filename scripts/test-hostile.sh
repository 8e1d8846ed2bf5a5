#!/usr/bin/env bash
# Hostile input through every C entry point (tests/c/hostile_test.c) under ASan+UBSan against
# the staged install, inside a throwaway network namespace (it opens queues, a pool and
# conntrack handles there). Also checks that the test calls every nfq_rs_* function the header
# declares, so a new export cannot be forgotten. Needs root. Ends with "hostile: N passed, M failed".
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

NS_PREFIX=nfqrs-hostile
OUT=$ROOT/build/hostile
mkdir -p "$OUT"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:halt_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
trap ns_cleanup EXIT
passed=0
failed=0
result() { # result NAME STATUS LOG
    if [ "$2" -eq 0 ]; then
        passed=$((passed + 1))
        printf 'PASS  %s\n' "$1"
    else
        failed=$((failed + 1))
        printf 'FAIL  %s (status %d) log: %s\n' "$1" "$2" "$3"
        tail -n 40 "$3" | sed 's/^/      | /'
    fi
}

missing=$(comm -23 <(grep -o 'nfq_rs_[a-z0-9_]*(' "$ROOT/include/nfq_rs.h" | tr -d '(' | sort -u) \
    <(grep -o 'nfq_rs_[a-z0-9_]*(' "$ROOT/tests/c/hostile_test.c" | tr -d '(' | sort -u))
echo "${missing:-}" >"$OUT/coverage.log"
result "every-export-called" "$([ -z "$missing" ] && echo 0 || echo 1)" "$OUT/coverage.log"
# Every libnetfilter_log export of the drop-in, too.
missing=$(comm -23 "$ROOT/tests/compat/libnetfilter_log.symbols" \
    <(grep -o 'nflog_[a-z0-9_]*' "$ROOT/tests/c/hostile_test.c" | sort -u))
echo "${missing:-}" >"$OUT/coverage-nflog.log"
result "every-nflog-export-called" "$([ -z "$missing" ] && echo 0 || echo 1)" "$OUT/coverage-nflog.log"

if ! stage_install; then
    echo "hostile: $passed passed, $((failed + 1)) failed"
    exit 1
fi
cc_pc "$OUT/hostile" "$ROOT/tests/c/hostile_test.c" -O1 -fsanitize=address,undefined -fno-omit-frame-pointer \
    -I"$ROOT/tests/c" -I"$STAGE/include/nfq_rs/compat" >"$OUT/build.log" 2>&1
rc=$?
result "build" "$rc" "$OUT/build.log"
if [ "$rc" -eq 0 ]; then
    ns_new ns hostile
    ns_ipt "$ns" -A OUTPUT -p udp --dport 9960 -j NFQUEUE --queue-num 95
    ns_ipt "$ns" -A OUTPUT -p udp --dport 9961 -j NFLOG --nflog-group 95
    rc=0
    timeout 120 ip netns exec "$ns" "$OUT/hostile" 95 9960 >"$OUT/hostile.log" 2>&1 || rc=$?
    grep '^hostile:' "$OUT/hostile.log" || true
    result "hostile-asan" "$rc" "$OUT/hostile.log"
fi
echo "hostile: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
