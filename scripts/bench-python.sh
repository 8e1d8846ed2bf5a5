#!/usr/bin/env bash
# Python benchmark (a `make bench` stage; also `make bench-python`; root needed; not a timed test):
# the PyPI netfilterqueue package against nfq_rs.compat and nfq_rs.Queue, side by side.
#
# The original, NetfilterQueue 1.1.0 (Cython over the system libnetfilter_queue), is installed
# from PyPI into a venv this script makes (build/bench-venv, kept between runs; it needs a C
# compiler, python3-venv, python3-dev and libnetfilter-queue-dev: scripts/setup.sh). All three
# consumers run bench/py_consumer.py under that venv's interpreter, so they share the Python
# version. Same traffic as scripts/bench.sh's throughput stage: one fresh network namespace,
# bench/flood.c floods 64 B UDP datagrams (GSO) into `-t raw -A OUTPUT ... -j NFQUEUE
# --queue-num 0`, accepted datagrams are dropped by the next table; sender pinned to CPU 0,
# consumer to CPU 1; accept-all callbacks; interleaved rounds with rotating order; medians,
# reported as ratios to the original, with each ratio's spread over the rounds.
#
# Knobs: BENCH_PY_ROUNDS (7), BENCH_SECONDS (1.5), BENCH_WARMUP (0.5), BENCH_RCVBUF (4194304),
# BENCH_INFLIGHT (600), BENCH_GSO (32), BENCH_FLOOD_BATCH (4), BENCH_PY_SIZE (64), PYTHON (python3),
# BENCH_PY_BATCH (unset: nfq_rs.Queue's default; else its batch=, datagrams per receive).
# Output: a markdown report on stdout and in build/bench-python/results.md; raw runs beside it.
set -euo pipefail
NS_PREFIX=nfqrs-benchpy
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

OUT=$ROOT/build/bench-python
VENV=$ROOT/build/bench-venv
ORIG_VERSION=1.1.0
ROUNDS=${BENCH_PY_ROUNDS:-7}
WINDOW=${BENCH_SECONDS:-1.5}
WARMUP=${BENCH_WARMUP:-0.5}
RCVBUF=${BENCH_RCVBUF:-4194304}
INFLIGHT=${BENCH_INFLIGHT:-600}
GSO=${BENCH_GSO:-32}
FLOOD_BATCH=${BENCH_FLOOD_BATCH:-4}
SIZE=${BENCH_PY_SIZE:-64}
PY_BATCH=${BENCH_PY_BATCH:-}
PYTHON=${PYTHON:-python3}
PORT=9000 QNUM=0
RAW=$OUT/raw.tsv
FAILED_RUNS=()
STARTED=$(date +%s)
OVERRIDES=$(env | grep -E '^(BENCH_[A-Z_]+|PYTHON)=' | sort | tr '\n' ' ' | sed 's/ $//' || true)

trap ns_cleanup EXIT
trap 'exit 130' INT TERM

say() { echo "bench-python: $*" >&2; }
die() {
    say "FAILED: $*"
    exit 1
}

[ "$(id -u)" -eq 0 ] || die "needs root (network namespaces, iptables inside them)"
for t in taskset ip iptables cc; do
    command -v "$t" >/dev/null || die "$t missing (run scripts/setup.sh)"
done
if [ "$(nproc)" -ge 2 ]; then CPU_SENDER=0 CPU_CONSUMER=1; else CPU_SENDER=0 CPU_CONSUMER=0; fi

rm -rf "$OUT"
mkdir -p "$OUT/bin" "$OUT/runs"
: >"$RAW"

TARGET_DIR=${CARGO_TARGET_DIR:-target}
[[ "$TARGET_DIR" = /* ]] || TARGET_DIR=$ROOT/$TARGET_DIR
say "building the library and bench/flood.c"
cargo build --quiet --release --manifest-path "$ROOT/Cargo.toml" || die "cargo build --release"
LIB=$TARGET_DIR/release/libnfq_rs.so
[ -f "$LIB" ] || die "$LIB missing"
cc -std=c11 -O2 -Wall -Wextra -Werror -I"$ROOT/bench" "$ROOT/bench/flood.c" -o "$OUT/bin/flood"

# The original from PyPI, built against the system libnetfilter_queue.
VPY=$(NFQ_ORIG_VENV=$VENV PYTHON=$PYTHON "$ROOT/scripts/netfilterqueue-venv.sh") || die "the netfilterqueue venv"
PYVER=$("$VPY" -c 'import sys; print(sys.version.split()[0])')
export PYTHONPATH=$ROOT/python NFQ_RS_LIBRARY=$LIB

ns_new NS run
say "network namespace $NS; sender on CPU $CPU_SENDER, consumers on CPU $CPU_CONSUMER; Python $PYVER"
ns_ipt "$NS" -t filter -A OUTPUT -p udp --dport $PORT -j DROP
ns_ipt "$NS" -t raw -A OUTPUT -p udp --dport $PORT -j NFQUEUE --queue-num $QNUM

kv() { grep -o "\b$2=[^ ]*" "$1" 2>/dev/null | tail -n1 | cut -d= -f2; }

# run_one KIND ROUND: one measured run; appends "kind round pps packets seconds cpu pps_per_cpu
# kq_empty kq_samples kq_dropped user_share" to $RAW (user_share: user CPU time / all CPU time).
run_one() {
    local kind=$1 round=$2 cpid fpid rc=0 extra=()
    [ "$kind" = queue ] && [ -n "$PY_BATCH" ] && extra=(--batch "$PY_BATCH")
    local log=$OUT/runs/$kind-r$round.log flog=$OUT/runs/$kind-r$round.flood
    bg_start cpid ip netns exec "$NS" timeout 30 taskset -c "$CPU_CONSUMER" "$VPY" "$ROOT/bench/py_consumer.py" \
        --impl "$kind" --queue $QNUM --seconds "$WINDOW" --warmup "$WARMUP" --rcvbuf "$RCVBUF" "${extra[@]}" >"$log" 2>&1
    if ! wait_for "$log" '^ready' 15; then
        cat "$log" >&2
        FAILED_RUNS+=("$kind/r$round: consumer did not start")
        kill -TERM "$cpid" 2>/dev/null || true
        wait "$cpid" 2>/dev/null || true
        return 0
    fi
    local fsecs
    fsecs=$(awk -v w="$WARMUP" -v s="$WINDOW" 'BEGIN { print w + s + 5 }')
    bg_start fpid ip netns exec "$NS" timeout 30 taskset -c "$CPU_SENDER" "$OUT/bin/flood" --port $PORT --size "$SIZE" \
        --seconds "$fsecs" --sndbuf $((INFLIGHT * (SIZE + 800) / 2)) --gso "$GSO" --batch "$FLOOD_BATCH" >"$flog" 2>&1
    wait_pid "$cpid" 25 || rc=$?
    kill -TERM "$fpid" 2>/dev/null || true
    wait_pid "$fpid" 5 || true
    local pps
    pps=$(kv "$log" pps)
    if [ "$rc" -ne 0 ] || [ -z "$pps" ] || [ "$(kv "$log" packets)" = 0 ]; then
        sed 's/^/    | /' "$log" >&2
        FAILED_RUNS+=("$kind/r$round: status $rc")
        return 0
    fi
    local ushare
    ushare=$(awk -v u="$(kv "$log" user)" -v c="$(kv "$log" cpu)" 'BEGIN { if (c > 0) printf "%.3f", u / c; else print 0 }')
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$kind" "$round" "$pps" "$(kv "$log" packets)" "$(kv "$log" seconds)" \
        "$(kv "$log" cpu)" "$(kv "$log" pps_per_cpu)" "$(kv "$log" kq_empty)" "$(kv "$log" kq_samples)" \
        "$(kv "$log" kq_dropped)" "$ushare" >>"$RAW"
    printf '  %-7s round %s: %9.0f pps  %9.0f per CPU-second  (CPU busy %.2f, user %.0f%%, queue empty %s/%s, drops %s)\n' \
        "$kind" "$round" "$pps" "$(kv "$log" pps_per_cpu)" \
        "$(awk -v c="$(kv "$log" cpu)" -v s="$(kv "$log" seconds)" 'BEGIN { print c / s }')" "$(awk -v u="$ushare" 'BEGIN { print 100 * u }')" \
        "$(kv "$log" kq_empty)" "$(kv "$log" kq_samples)" "$(kv "$log" kq_dropped)" >&2
}

KINDS=(orig compat queue)
say "throughput: $ROUNDS rounds x ${#KINDS[@]} consumers, $SIZE B, ${WINDOW}s windows after ${WARMUP}s warm-up"
for ((r = 1; r <= ROUNDS; r++)); do
    for ((k = 0; k < ${#KINDS[@]}; k++)); do
        run_one "${KINDS[$(((k + r - 1) % ${#KINDS[@]}))]}" "$r"
    done
done

# ---------------------------------------------------------------------------------------
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) { print ""; exit } if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
col() { awk -F'\t' -v k="$1" -v c="$2" '$1 == k { print $c }' "$RAW"; }
fmt_int() { [ -n "$1" ] && printf "%'.0f" "$1" || printf 'n/a'; }
ratio() { [ -n "$1" ] && [ -n "$2" ] && awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else printf "n/a" }' || printf 'n/a'; }
# per_round KIND COLUMN: the ratio KIND / orig of each round that has both, sorted.
per_round() {
    awk -F'\t' -v k="$1" -v c="$2" '$1 == "orig" { o[$2] = $c } $1 == k { x[$2] = $c }
        END { for (r in x) if (r in o && o[r] > 0) printf "%.2f\n", x[r] / o[r] }' "$RAW" | sort -g
}
spread() { # KIND COLUMN: "min-max" of the per-round ratios
    per_round "$1" "$2" | awk 'NR == 1 { lo = $1 } { hi = $1 } END { if (NR) printf "%s-%s", lo, hi; else printf "n/a" }'
}
ge() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a != "n/a" && a + 0 >= b + 0) }'; }
yesno() { if "$@"; then echo "**met**"; else echo "**not met**"; fi; }

declare -A PPS PPC BUSY EMPTY USER
for kind in "${KINDS[@]}"; do
    PPS[$kind]=$(col "$kind" 3 | median)
    PPC[$kind]=$(col "$kind" 7 | median)
    BUSY[$kind]=$(awk -F'\t' -v k="$kind" '$1 == k { print $6 / $5 }' "$RAW" | median | awk '{ if ($1 != "") printf "%.2f", $1 }')
    USER[$kind]=$(col "$kind" 11 | median | awk '{ if ($1 != "") printf "%.0f%%", 100 * $1 }')
    EMPTY[$kind]=$(awk -F'\t' -v k="$kind" '$1 == k && $9 > 0 { print $8 / $9 }' "$RAW" | median | awk '{ if ($1 != "") printf "%.0f%%", 100 * $1 }')
done

REPORT=$OUT/results.md
{
    echo "## Python: netfilterqueue vs nfq_rs"
    echo
    echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC'); took $(($(date +%s) - STARTED))s; load average at the end $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "- machine: $(nproc) CPUs, $(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), kernel $(uname -r); Python $PYVER"
    echo "- nfq-rs commit $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C "$ROOT" diff --quiet HEAD -- src python 2>/dev/null || echo ' (modified)');" \
        "NetfilterQueue $ORIG_VERSION from PyPI, built in $VENV against libnetfilter_queue $(pkg-config --modversion libnetfilter_queue 2>/dev/null || echo '?')"
    echo "- reproduce: as root in the checkout, \`${OVERRIDES:+$OVERRIDES }make bench-python\` (BENCH_PY_ROUNDS=$ROUNDS BENCH_SECONDS=$WINDOW" \
        "BENCH_WARMUP=$WARMUP BENCH_RCVBUF=$RCVBUF BENCH_INFLIGHT=$INFLIGHT BENCH_GSO=$GSO in effect); also part of \`make bench\`"
    echo "- $SIZE B UDP flood (GSO) pinned to CPU $CPU_SENDER into \`-t raw -A OUTPUT -j NFQUEUE --queue-num $QNUM\`, accepted" \
        "datagrams dropped by the next table; consumer (bench/py_consumer.py: count + accept) pinned to CPU $CPU_CONSUMER;" \
        "receive buffer $RCVBUF B for all; $ROUNDS interleaved rounds (rotating order) of ${WINDOW}s after ${WARMUP}s warm-up; medians"
    echo
    echo "| consumer | pps | ratio to (1) | per-round ratios | CPU busy | user share | pps per CPU-second | ratio to (1) | per-round ratios | queue empty |"
    echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    for kind in "${KINDS[@]}"; do
        case $kind in
        orig) name="(1) netfilterqueue $ORIG_VERSION (Cython, libnetfilter_queue)" ;;
        compat) name="(2) nfq_rs.compat.NetfilterQueue (same script, one import changed)" ;;
        queue) name="(3) nfq_rs.Queue${PY_BATCH:+ (batch=$PY_BATCH)}" ;;
        esac
        echo "| $name | $(fmt_int "${PPS[$kind]}") | $(ratio "${PPS[$kind]}" "${PPS[orig]}") | $(spread "$kind" 3) |" \
            "${BUSY[$kind]:-n/a} | ${USER[$kind]:-n/a} | $(fmt_int "${PPC[$kind]}") | $(ratio "${PPC[$kind]}" "${PPC[orig]}") | $(spread "$kind" 7) |" \
            "${EMPTY[$kind]:-n/a} |"
    done
    echo
    echo "CPU busy: the consumer's CPU time / window (1.00: it never waited for packets nor for its CPU)." \
        "User share: its user-mode part (the interpreter and the libraries; the rest is the kernel's work in its system calls)." \
        "pps per CPU-second: packets / that CPU time. Queue empty: share of the 10 ms backlog samples that found the queue empty."
    echo
    echo "| target (issue 12) | measured (pps; per CPU-second) | |"
    echo "| --- | --- | --- |"
    a=$(ratio "${PPS[compat]}" "${PPS[orig]}") c=$(ratio "${PPC[compat]}" "${PPC[orig]}")
    echo "| shim >= 1.0x netfilterqueue | ${a}x; ${c}x | pps: $(yesno ge "$a" 1.0); per CPU-second: $(yesno ge "$c" 1.0) |"
    a=$(ratio "${PPS[queue]}" "${PPS[orig]}") c=$(ratio "${PPC[queue]}" "${PPC[orig]}")
    echo "| nfq_rs.Queue >= 1.5x netfilterqueue | ${a}x; ${c}x | pps: $(yesno ge "$a" 1.5); per CPU-second: $(yesno ge "$c" 1.5) |"
    if [ "${#FAILED_RUNS[@]}" -gt 0 ]; then
        echo
        echo "Failed runs (left out of the medians): ${FAILED_RUNS[*]}"
    fi
} >"$REPORT"

echo
cat "$REPORT"
echo
echo "(written to $REPORT; raw runs in $RAW and $OUT/runs/)"
[ "${#FAILED_RUNS[@]}" -eq 0 ] || die "${#FAILED_RUNS[@]} run(s) failed"
