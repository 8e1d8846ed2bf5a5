#!/usr/bin/env bash
# Benchmark of the nfq-rs NFLOG subsystem against libnetfilter_log (make bench runs it after the
# NFQUEUE benchmark; make bench-nflog runs it alone; root needed; not a timed test).
#
# One fresh, uniquely named network namespace (removed on any exit); traffic only to 127.0.0.1
# inside it; the host's firewall is never touched.
#
#   bench/flood.c sends UDP datagrams of 64 B and 1400 B payload (plain sendmmsg, no GSO: NFLOG
#   logs a GSO packet as one message, unlike NFQUEUE, which cuts it apart) into
#   `-t raw -A OUTPUT -p udp --dport 9100 -j NFLOG --nflog-group 1`; the datagrams are dropped
#   after the loopback trip (`-t raw -A PREROUTING ... -j DROP`), so the sender's sends succeed.
#   Every consumer binds group 1 with the same settings (copy mode packet, whole packets,
#   group buffer BENCH_NFLOG_NLBUFSIZ, threshold BENCH_NFLOG_QTHRESH, timeout 1 s, receive
#   buffer BENCH_RCVBUF), reads each message's prefix and payload and counts it:
#     native  (1) bench/nflog_native_consumer.c on the nfq-rs C API (nfq_rs_log_run)
#     real    (2) bench/lnflog_consumer.c on the real libnetfilter_log (recv + nflog_handle_packet)
#     compat  (3) the same source built against the nfq-rs libnetfilter_log drop-in
#     ceiling (4) bench/nflog_ceiling_consumer.c: raw netlink, no library (the config messages
#                 sent by hand, recv into one buffer, a walk of the messages and attributes);
#                 the lower bound of the cost per message, i.e. the kernel's share of the work
#                 that no library can remove
#   Interleaved round by round in rotating order; sender pinned to CPU 0, consumer to CPU 1.
#
#   live   the sender floods while the consumer runs; the meter (bench/common.h) reports messages
#          handled per second and per CPU-second of the consumer (its own CPU time plus its
#          CPU's kernel threads). Logging has no verdicts, so the sender is not paced by the
#          consumer, and one sender CPU cannot log faster than a consumer handles: messages per
#          second is the sender's rate for every consumer alike, and a consumer is mostly asleep,
#          so per CPU-second mostly weighs the cost of being woken once per datagram (the same
#          for every consumer on the same traffic).
#   drain  the consumer binds and waits while the sender logs BENCH_NFLOG_DRAIN_MSGS packets (by
#          default 1,000,000, or as many as about 600 MB of log messages hold at larger sizes:
#          387,000 at 1400 B) into its receive buffer (BENCH_NFLOG_DRAIN_RCVBUF, large enough to
#          hold them all), then
#          handles the whole backlog without ever waiting: messages per second and per
#          CPU-second of a consumer that is the bottleneck, which is what decides how much a
#          logging daemon can take.
#
# Knobs: BENCH_ROUNDS (5), BENCH_SECONDS (1.5), BENCH_WARMUP (0.25), BENCH_SIZES ("64 1400"),
# BENCH_RCVBUF (4194304), BENCH_NFLOG_NLBUFSIZ (65536), BENCH_NFLOG_QTHRESH (32),
# BENCH_NFLOG_BATCH (16: datagrams per recvmmsg for native), BENCH_NFLOG_KINDS ("native real compat ceiling"),
# BENCH_NFLOG_DRAIN_MSGS (see drain), BENCH_NFLOG_DRAIN_RCVBUF (1073741824).
# Output: a markdown report on stdout and in build/bench-nflog/results.md; raw runs beside it.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

NS_PREFIX=nfqrs-bnflog
OUT=$ROOT/build/bench-nflog
ROUNDS=${BENCH_ROUNDS:-5}
WINDOW=${BENCH_SECONDS:-1.5}
WARMUP=${BENCH_WARMUP:-0.25}
SIZES=${BENCH_SIZES:-64 1400}
RCVBUF=${BENCH_RCVBUF:-4194304}
NLBUFSIZ=${BENCH_NFLOG_NLBUFSIZ:-65536}
QTHRESH=${BENCH_NFLOG_QTHRESH:-32}
NBATCH=${BENCH_NFLOG_BATCH:-16}
read -r -a KINDS <<<"${BENCH_NFLOG_KINDS:-native real compat ceiling}"
DRAIN_RCVBUF=${BENCH_NFLOG_DRAIN_RCVBUF:-1073741824}
# drain_msgs SIZE: messages drained per run (a few tens of milliseconds of work for every size).
drain_msgs() {
    if [ -n "${BENCH_NFLOG_DRAIN_MSGS:-}" ]; then
        echo "$BENCH_NFLOG_DRAIN_MSGS"
    else
        awk -v s="$1" 'BEGIN { n = int(600000000 / (s + 150) / 1000) * 1000; print (n > 1000000 ? 1000000 : n) }'
    fi
}
PORT=9100 GROUP=1
COMPAT_PC=$STAGE/lib/nfq_rs/compat/pkgconfig
RAW=$OUT/raw.tsv
FAILED_RUNS=()
OVERRIDES=$(env | grep -E '^BENCH_[A-Z_]+=' | sort | tr '\n' ' ' | sed 's/ $//' || true)

trap ns_cleanup EXIT
trap 'exit 130' INT TERM

say() { echo "bench-nflog: $*" >&2; }
die() {
    say "FAILED: $*"
    exit 1
}

[ "$(id -u)" -eq 0 ] || die "needs root (network namespaces, iptables inside them)"
for t in taskset ip iptables pkg-config; do
    command -v "$t" >/dev/null || die "$t missing (run scripts/setup.sh)"
done
if [ "$(nproc)" -ge 2 ]; then CPU_SENDER=0 CPU_CONSUMER=1; else CPU_SENDER=0 CPU_CONSUMER=0; fi

rm -rf "$OUT"
mkdir -p "$OUT/bin" "$OUT/runs"
: >"$RAW"

say "building: staged install into $STAGE, the consumers"
stage_install || die "staged install"
B=$OUT/bin
CFLAGS=(-std=c11 -O2 -Wall -Wextra -Werror -g -I"$ROOT/bench")
cc "${CFLAGS[@]}" "$ROOT/bench/flood.c" -o "$B/flood"
wants() { [[ " ${KINDS[*]} " == *" $1 "* ]]; }
if wants native; then
    cc_pc "$B/native" "$ROOT/bench/nflog_native_consumer.c" -O2 -I"$ROOT/bench"
fi
REAL_PC=(libnetfilter_log libnfnetlink)
# shellcheck disable=SC2046
PKG_CONFIG_PATH= cc "${CFLAGS[@]}" $(PKG_CONFIG_PATH= pkg-config --cflags "${REAL_PC[@]}") \
    "$ROOT/bench/lnflog_consumer.c" -o "$B/real" $(PKG_CONFIG_PATH= pkg-config --libs "${REAL_PC[@]}") -lpthread
libs=$(ldd "$B/real")
grep -Eq "libnetfilter_log.so.1 => /(usr/)?lib" <<<"$libs" || die "the real build does not load the system libnetfilter_log"
if wants compat; then
    [ -f "$COMPAT_PC/libnetfilter_log.pc" ] || die "the libnetfilter_log drop-in was not installed ($COMPAT_PC)"
    # shellcheck disable=SC2046
    cc "${CFLAGS[@]}" $(PKG_CONFIG_PATH=$COMPAT_PC pkg-config --cflags libnetfilter_log) \
        "$ROOT/bench/lnflog_consumer.c" -o "$B/compat" $(PKG_CONFIG_PATH=$COMPAT_PC pkg-config --libs libnetfilter_log) \
        -Wl,-rpath,"$STAGE/lib/nfq_rs/compat" -Wl,-rpath,"$STAGE/lib" -lpthread
    libs=$(ldd "$B/compat")
    grep -q "libnetfilter_log.so.1 => $STAGE/lib/nfq_rs/compat/" <<<"$libs" ||
        grep -q "libnfq_rs.so.0 => $STAGE/lib/" <<<"$libs" || die "the compat build does not load the nfq-rs drop-in: $libs"
fi
if wants ceiling; then
    cc "${CFLAGS[@]}" "$ROOT/bench/nflog_ceiling_consumer.c" -o "$B/ceiling" -lpthread
fi
REAL_VERSION=$(PKG_CONFIG_PATH= pkg-config --modversion libnetfilter_log)

ns_new NS run
say "network namespace $NS; sender on CPU $CPU_SENDER, consumers on CPU $CPU_CONSUMER"
ns_ipt "$NS" -t raw -A OUTPUT -p udp --dport $PORT -j NFLOG --nflog-group $GROUP --nflog-prefix bench
ns_ipt "$NS" -t raw -A PREROUTING -p udp --dport $PORT -j DROP

kv() { grep -o "\b$2=[^ ]*" "$1" 2>/dev/null | tail -n1 | cut -d= -f2; }

# consumer_cmd KIND [extra options...]
consumer_cmd() {
    local common=(--group $GROUP --nlbufsiz "$NLBUFSIZ" --qthresh "$QTHRESH" --timeout 100 --warmup "$WARMUP"
        --seconds "$WINDOW" "${@:2}")
    [[ " $* " == *" --rcvbuf "* ]] || common+=(--rcvbuf "$RCVBUF")
    case $1 in
    native) echo "$B/native ${common[*]} --batch $NBATCH" ;;
    real | compat | ceiling) echo "$B/$1 ${common[*]}" ;;
    esac
}

# run_one MODE KIND SIZE ROUND: appends "mode:kind size round pps pps_per_cpu cpu enobufs" to $RAW.
run_one() {
    local mode=$1
    shift
    [ "$mode" = live ] || {
        run_drain "$@"
        return 0
    }
    local kind=$1 size=$2 round=$3
    local log=$OUT/runs/$kind-$size-r$round.log flog=$OUT/runs/$kind-$size-r$round.flood cpid fpid rc=0
    # shellcheck disable=SC2046
    bg_start cpid ip netns exec "$NS" timeout 30 taskset -c "$CPU_CONSUMER" $(consumer_cmd "$kind") >"$log" 2>&1
    if ! wait_for "$log" '^ready' 10; then
        FAILED_RUNS+=("$kind/$size/r$round: consumer did not start: $(tr '\n' ' ' <"$log")")
        kill -TERM "$cpid" 2>/dev/null || true
        wait "$cpid" 2>/dev/null || true
        return 0
    fi
    local fsecs
    fsecs=$(awk -v w="$WARMUP" -v s="$WINDOW" 'BEGIN { print w + s + 5 }')
    bg_start fpid ip netns exec "$NS" timeout 30 taskset -c "$CPU_SENDER" \
        "$B/flood" --port $PORT --size "$size" --seconds "$fsecs" --batch 64 >"$flog" 2>&1
    wait_pid "$cpid" 20 || rc=$?
    kill -TERM "$fpid" 2>/dev/null || true
    wait_pid "$fpid" 5 || true
    local pps
    pps=$(kv "$log" pps)
    if [ "$rc" -ne 0 ] || [ -z "$pps" ] || [ "$(kv "$log" packets)" = 0 ]; then
        sed 's/^/    | /' "$log" >&2
        FAILED_RUNS+=("$kind/$size/r$round: status $rc")
        return 0
    fi
    local cpu
    cpu=$(awk -v a="$(kv "$log" cpu)" -v b="$(kv "$log" kcpu)" -v s="$(kv "$log" seconds)" 'BEGIN { print (a + b) / s }')
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "live:$kind" "$size" "$round" "$pps" "$(kv "$log" pps_per_cpu)" "$cpu" \
        "$(kv "$log" enobufs)" >>"$RAW"
    printf '  live  %-7s %5s B  round %s: %9.0f msgs/s  %9.0f per CPU-second  (consumer CPU busy %.2f, ENOBUFS %s)\n' \
        "$kind" "$size" "$round" "$pps" "$(kv "$log" pps_per_cpu)" "$cpu" "$(kv "$log" enobufs)" >&2
}

# run_drain KIND SIZE ROUND: the consumer waits while the sender logs $DRAIN_MSGS packets into its
# receive buffer, then drains them.
run_drain() {
    local kind=$1 size=$2 round=$3
    local log=$OUT/runs/drain-$kind-$size-r$round.log go=$OUT/runs/drain-$kind-$size-r$round.go cpid rc=0
    rm -f "$go"
    # shellcheck disable=SC2046
    bg_start cpid ip netns exec "$NS" timeout 60 taskset -c "$CPU_CONSUMER" \
        $(consumer_cmd "$kind" --rcvbuf "$DRAIN_RCVBUF" --go "$go") >"$log" 2>&1
    if ! wait_for "$log" '^ready' 10; then
        FAILED_RUNS+=("drain/$kind/$size/r$round: consumer did not start: $(tr '\n' ' ' <"$log")")
        kill -TERM "$cpid" 2>/dev/null || true
        wait "$cpid" 2>/dev/null || true
        return 0
    fi
    ns_exec "$NS" taskset -c "$CPU_SENDER" "$B/flood" --port $PORT --size "$size" --max "$(drain_msgs "$size")" --seconds 30 \
        --batch 64 >"$log.flood" 2>&1 || true
    sleep 0.2 # the last datagram: the group's 1 s timeout does not matter, the threshold flushed it
    touch "$go"
    wait_pid "$cpid" 40 || rc=$?
    local pps
    pps=$(kv "$log" pps)
    if [ "$rc" -ne 0 ] || [ -z "$pps" ] || [ "$(kv "$log" packets)" = 0 ]; then
        sed 's/^/    | /' "$log" >&2
        FAILED_RUNS+=("drain/$kind/$size/r$round: status $rc")
        return 0
    fi
    local cpu
    cpu=$(awk -v a="$(kv "$log" cpu)" -v s="$(kv "$log" seconds)" 'BEGIN { print (s > 0 ? a / s : 0) }')
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "drain:$kind" "$size" "$round" "$pps" "$(kv "$log" pps_per_cpu)" "$cpu" \
        "$(kv "$log" enobufs)" >>"$RAW"
    printf '  drain %-7s %5s B  round %s: %9.0f msgs/s  %9.0f per CPU-second  (%s messages, CPU busy %.2f, ENOBUFS %s)\n' \
        "$kind" "$size" "$round" "$pps" "$(kv "$log" pps_per_cpu)" "$(kv "$log" packets)" "$cpu" "$(kv "$log" enobufs)" >&2
}

say "$ROUNDS rounds x sizes ($SIZES) x ${#KINDS[@]} consumers x (live: ${WINDOW}s windows after ${WARMUP}s warm-up;" \
    "drain: $(for z in $SIZES; do printf '%s messages at %s B; ' "$(drain_msgs "$z")" "$z"; done | sed 's/; $//'))"
for ((r = 1; r <= ROUNDS; r++)); do
    for size in $SIZES; do
        for mode in live drain; do
            for ((k = 0; k < ${#KINDS[@]}; k++)); do
                run_one "$mode" "${KINDS[$(((k + r - 1) % ${#KINDS[@]}))]}" "$size" "$r"
            done
        done
    done
done

# median KIND SIZE COLUMN (4 pps, 5 per CPU-second, 6 cpu busy) over the rounds.
median() {
    awk -F'\t' -v k="$1" -v s="$2" -v c="$3" '$1 == k && $2 == s { print $c }' "$RAW" | sort -g |
        awk '{ v[NR] = $1 } END { if (NR == 0) print ""; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
# ratio_median MODE:KIND SIZE COLUMN: the median over rounds of KIND / real (same mode, same round).
ratio_median() {
    awk -F'\t' -v k="$1" -v s="$2" -v c="$3" 'BEGIN { ref = k; sub(/:.*/, ":real", ref) }
        $2 == s && ($1 == k || $1 == ref) { v[$1, $3] = $c; r[$3] = 1 }
        END { for (x in r) if (v[k, x] != "" && v[ref, x] > 0) print v[k, x] / v[ref, x] }' "$RAW" | sort -g |
        awk '{ v[NR] = $1 } END { if (NR == 0) print "-"; else if (NR % 2) printf "%.2f", v[(NR + 1) / 2]; else printf "%.2f", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

{
    echo "## NFLOG: nfq-rs against libnetfilter_log $REAL_VERSION"
    echo
    echo "- command: \`make bench\` (or \`make bench-nflog\`)${OVERRIDES:+ with $OVERRIDES}; $ROUNDS interleaved rounds, medians"
    echo "- group settings for every consumer: copy packet (whole), nlbufsiz $NLBUFSIZ, threshold $QTHRESH, timeout 1 s," \
        "rcvbuf $RCVBUF; native receives $NBATCH datagrams per recvmmsg"
    echo "- sender: bench/flood.c, plain sendmmsg (64 per call) on CPU $CPU_SENDER; consumer on CPU $CPU_CONSUMER"
    echo
    echo "- drain: $(for z in $SIZES; do printf '%s messages at %s B, ' "$(drain_msgs "$z")" "$z"; done)logged into a receive buffer of $DRAIN_RCVBUF bytes before the consumer starts"
    echo
    echo "| mode | size | consumer | msgs/s | msgs per CPU-second | consumer CPU busy | msgs/s vs libnetfilter_log | per CPU-second vs libnetfilter_log |"
    echo "|---|---|---|---|---|---|---|---|"
    for mode in drain live; do
        for size in $SIZES; do
            for kind in "${KINDS[@]}"; do
                printf '| %s | %s B | %s | %.0f | %.0f | %.2f | %s | %s |\n' "$mode" "$size" "$kind" \
                    "$(median "$mode:$kind" "$size" 4)" "$(median "$mode:$kind" "$size" 5)" "$(median "$mode:$kind" "$size" 6)" \
                    "$(ratio_median "$mode:$kind" "$size" 4)" "$(ratio_median "$mode:$kind" "$size" 5)"
            done
        done
    done
    echo
    echo "Ratios are medians of the per-round ratios (each round runs every consumer back to back)."
    if wants ceiling; then
        echo
        echo "ceiling: hand-written raw-netlink consumer, the lower bound of the per-message cost"
    fi
    if [ "${#FAILED_RUNS[@]}" -gt 0 ]; then
        echo
        echo "Failed runs: ${FAILED_RUNS[*]}"
    fi
} | tee "$OUT/results.md"
[ "${#FAILED_RUNS[@]}" -eq 0 ] || exit 1
