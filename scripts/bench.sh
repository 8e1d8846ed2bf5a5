#!/usr/bin/env bash
# Benchmark of nfq-rs against libnetfilter_queue (make bench; root needed; not a timed test).
#
# Everything runs inside one fresh, uniquely named network namespace (removed on any exit);
# traffic goes only to 127.0.0.x inside it, and the host's firewall is never touched.
#
#   throughput  bench/flood.c floods UDP datagrams of 64 B and 1400 B payload (bounded in count
#               and time) into `-t raw -A OUTPUT -p udp --dport 9000 -j NFQUEUE --queue-num 0`
#               (no --queue-bypass). It sends with UDP GSO (UDP_SEGMENT, BENCH_GSO datagrams
#               per send, BENCH_FLOOD_BATCH sends per sendmmsg): the kernel cuts each send into
#               separate datagrams before the queue, so every consumer sees the same stream of
#               single datagrams with consecutive ids, while the sender, on one CPU, costs far
#               less per datagram than any consumer and so never sets the pace (a plain sendmmsg
#               sender did, at about 350k/s on this machine, hiding the consumers' differences).
#               After the verdict the accepted datagram meets `-t filter -A OUTPUT ... -j DROP`,
#               the next table at the same hook: every consumer pays for the queue path itself
#               and nothing after it (BENCH_PATH=deliver instead queues in filter OUTPUT and
#               drops in raw PREROUTING, after a trip through loopback, as the first version of
#               this benchmark did; every consumer then pays about 1 us more per packet).
#               The sender's socket send buffer admits about BENCH_INFLIGHT packets waiting in
#               the queue (a queued packet stays charged to its socket until its verdict): the
#               sender blocks on its socket instead of overflowing the queue (1024), so the
#               consumer always finds a backlog but does not fight a storm of queue-full drops
#               for the queue's lock. Accept-all consumers, each measuring over a fixed window
#               after a warm-up (bench/common.h) the packets it verdicted, its CPU time and how
#               often the queue was found empty, interleaved round by round, rotating order:
#                 native   (1) bench/native_consumer.c on the nfq-rs C API (nfq_rs_run)
#                 real     (2) bench/lnfq_consumer.c on the real libnetfilter_queue
#                 compat   (3) the same source built against the nfq-rs drop-in
#                 ceiling  (4) bench/ceiling_consumer.c: raw netlink, recvmmsg, one batch
#                              verdict per batch
#               Sender pinned to CPU 0, consumer to CPU 1 (taskset); same receive buffer,
#               copy mode packet/0xffff for all; batch 64 for (1) and (4).
#   parse cost  instructions per packet message under callgrind, on a few hundred messages the
#               ceiling consumer recorded from the kernel: the real nfq_nlmsg_parse, our
#               compat nfq_nlmsg_parse (same C harness, bench/parse_harness.c), and our
#               native Packet::parse (examples/parse_cost.rs); (Ir(N) - Ir(0)) / (N * msgs).
#   pool        nfq_rs_pool_start with 1 queue (--queue-num 1) and 2 queues (--queue-balance
#               2:3), flood from 16 source addresses 127.0.0.1-16 (queue-balance hashes
#               addresses only)
#   ct-events   scripts/bench-ct-events.sh: conntrack event listener under a connection flood
#               with no filter, the library filter and the kernel BPF filter (own namespace)
#   latency     flood --rate 20000 --stamp: send time in the payload; bench/latency_rx.c on
#               127.0.0.1 (same namespace) takes now - send time after the verdict; native vs
#               real libnetfilter_queue
#
# Knobs (environment): BENCH_ROUNDS (5), BENCH_SECONDS (window, 1.5), BENCH_WARMUP (0.25),
# BENCH_SIZES ("64 1400"), BENCH_BATCH (64), BENCH_RCVBUF (4194304), BENCH_POOL_ROUNDS (3),
# BENCH_LAT_ROUNDS (5), BENCH_LAT_RATE (20000), BENCH_LAT_SECONDS (1.5), BENCH_PARSE_ITERS (200),
# BENCH_INFLIGHT (600: packets the sender's socket buffer lets wait in the queue), BENCH_GSO (32),
# BENCH_FLOOD_BATCH (4), BENCH_PATH (queue | deliver).
# Output: a markdown report on stdout and in build/bench/results.md; raw runs in build/bench/.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

NS_PREFIX=nfqrs-bench
OUT=$ROOT/build/bench
ROUNDS=${BENCH_ROUNDS:-5}
WINDOW=${BENCH_SECONDS:-1.5}
WARMUP=${BENCH_WARMUP:-0.25}
SIZES=${BENCH_SIZES:-64 1400}
BATCH=${BENCH_BATCH:-64}
RCVBUF=${BENCH_RCVBUF:-4194304}
POOL_ROUNDS=${BENCH_POOL_ROUNDS:-3}
LAT_ROUNDS=${BENCH_LAT_ROUNDS:-5}
LAT_RATE=${BENCH_LAT_RATE:-20000}
LAT_SECONDS=${BENCH_LAT_SECONDS:-1.5}
PARSE_ITERS=${BENCH_PARSE_ITERS:-200}
INFLIGHT=${BENCH_INFLIGHT:-600}
GSO=${BENCH_GSO:-32}
FLOOD_BATCH=${BENCH_FLOOD_BATCH:-4}
PATH_MODE=${BENCH_PATH:-queue}
case $PATH_MODE in queue | deliver) ;; *) echo "bench: BENCH_PATH must be queue or deliver" >&2; exit 2 ;; esac
DUMP_PER_SIZE=256

PORT_TPUT=9000 PORT_POOL1=9001 PORT_POOL2=9002 PORT_LAT=9003
Q_TPUT=0 Q_POOL1=1 Q_POOL2=2:3 Q_LAT=4

COMPAT_LIB=$STAGE/lib/nfq_rs/compat
COMPAT_PC=$COMPAT_LIB/pkgconfig
RAW=$OUT/raw.tsv
FAILED_RUNS=()
STARTED=$(date +%s)
# The BENCH_* settings given in the environment, for the command that reproduces this run.
OVERRIDES=$(env | grep -E '^BENCH_[A-Z_]+=' | sort | tr '\n' ' ' | sed 's/ $//' || true)

trap ns_cleanup EXIT
trap 'exit 130' INT TERM

say() { echo "bench: $*" >&2; }
die() {
    say "FAILED: $*"
    exit 1
}

[ "$(id -u)" -eq 0 ] || die "needs root (network namespaces, iptables inside them)"
for t in taskset valgrind ip iptables pkg-config; do
    command -v "$t" >/dev/null || die "$t missing (run scripts/setup.sh)"
done

NCPU=$(nproc)
if [ "$NCPU" -ge 2 ]; then
    CPU_SENDER=0 CPU_CONSUMER=1
else
    CPU_SENDER=0 CPU_CONSUMER=0
fi

rm -rf "$OUT"
mkdir -p "$OUT/bin" "$OUT/runs"
: >"$RAW"

# ---------------------------------------------------------------------------------------
say "building: staged install into $STAGE, the parse_cost example, the C programs"
stage_install || die "staged install"
cargo build --quiet --release --manifest-path "$ROOT/Cargo.toml" --example parse_cost 2>"$OUT/cargo-example.log" || {
    cat "$OUT/cargo-example.log" >&2
    die "cargo build --example parse_cost"
}
TARGET_DIR=${CARGO_TARGET_DIR:-target}
[[ "$TARGET_DIR" = /* ]] || TARGET_DIR=$ROOT/$TARGET_DIR
PARSE_COST=$TARGET_DIR/release/examples/parse_cost
[ -x "$PARSE_COST" ] || die "parse_cost example not found at $PARSE_COST"

B=$OUT/bin
CFLAGS=(-std=c11 -O2 -Wall -Wextra -Werror -g -I"$ROOT/bench")
cc "${CFLAGS[@]}" "$ROOT/bench/flood.c" -o "$B/flood"
cc "${CFLAGS[@]}" "$ROOT/bench/latency_rx.c" -o "$B/latency_rx"
cc "${CFLAGS[@]}" "$ROOT/bench/ceiling_consumer.c" -o "$B/ceiling" -lpthread
cc_pc "$B/native" "$ROOT/bench/native_consumer.c" -O2 -I"$ROOT/bench"
# (2) and the real parse harness: the system's libnetfilter_queue (+ libnfnetlink for nfnl_rcvbufsiz).
REAL_PC=(libnetfilter_queue libnfnetlink)
# shellcheck disable=SC2046
PKG_CONFIG_PATH= cc "${CFLAGS[@]}" $(PKG_CONFIG_PATH= pkg-config --cflags "${REAL_PC[@]}") \
    "$ROOT/bench/lnfq_consumer.c" -o "$B/lnfq_real" $(PKG_CONFIG_PATH= pkg-config --libs "${REAL_PC[@]}") -lpthread
# shellcheck disable=SC2046
cc "${CFLAGS[@]}" $(PKG_CONFIG_PATH= pkg-config --cflags "${REAL_PC[@]}") \
    "$ROOT/bench/parse_harness.c" -o "$B/parse_real" $(PKG_CONFIG_PATH= pkg-config --libs "${REAL_PC[@]}")
# (3) and our parse harness: the same sources, only PKG_CONFIG_PATH differs.
# shellcheck disable=SC2046
cc "${CFLAGS[@]}" $(PKG_CONFIG_PATH=$COMPAT_PC pkg-config --cflags libnetfilter_queue) \
    "$ROOT/bench/lnfq_consumer.c" -o "$B/lnfq_compat" $(PKG_CONFIG_PATH=$COMPAT_PC pkg-config --libs libnetfilter_queue) \
    -Wl,-rpath,"$STAGE/lib" -lpthread
# shellcheck disable=SC2046
cc "${CFLAGS[@]}" $(PKG_CONFIG_PATH=$COMPAT_PC pkg-config --cflags libnetfilter_queue) \
    "$ROOT/bench/parse_harness.c" -o "$B/parse_compat" $(PKG_CONFIG_PATH=$COMPAT_PC pkg-config --libs libnetfilter_queue) \
    -Wl,-rpath,"$STAGE/lib"
# Which library each build really loads (ldd into a variable: grep -q and pipefail do not mix).
for p in lnfq_real parse_real; do
    libs=$(ldd "$B/$p")
    grep -Eq "libnetfilter_queue.so.1 => /(usr/)?lib" <<<"$libs" || die "$p does not load the system libnetfilter_queue"
done
for p in lnfq_compat parse_compat; do
    libs=$(ldd "$B/$p")
    # The drop-in's libnetfilter_queue.so links to libnfq_rs.so.0, whose soname is what gets loaded.
    grep -q "libnfq_rs.so.0 => $STAGE/lib/" <<<"$libs" || die "$p does not load the nfq-rs drop-in"
    ! grep -Eq "libnetfilter_queue|libnfnetlink|libmnl" <<<"$libs" || die "$p pulls in a real netfilter library"
done
REAL_VERSION=$(PKG_CONFIG_PATH= pkg-config --modversion libnetfilter_queue)

# ---------------------------------------------------------------------------------------
ns_new NS run
say "network namespace $NS; sender on CPU $CPU_SENDER, consumers on CPU $CPU_CONSUMER"
if [ "$PATH_MODE" = queue ]; then
    # Queue in the first table of OUTPUT, drop accepted datagrams in the next one.
    QT=raw
    ns_ipt "$NS" -t filter -A OUTPUT -p udp --dport $PORT_TPUT:$PORT_POOL2 -j DROP
else
    QT=filter
    ns_ipt "$NS" -t raw -A PREROUTING -p udp --dport $PORT_TPUT:$PORT_POOL2 -j DROP
fi
ns_ipt "$NS" -t $QT -A OUTPUT -p udp --dport $PORT_TPUT -j NFQUEUE --queue-num $Q_TPUT
ns_ipt "$NS" -t $QT -A OUTPUT -p udp --dport $PORT_POOL1 -j NFQUEUE --queue-num $Q_POOL1
ns_ipt "$NS" -t $QT -A OUTPUT -p udp --dport $PORT_POOL2 -j NFQUEUE --queue-balance $Q_POOL2
# Latency: the datagrams must reach bench/latency_rx, so they are queued and nothing drops them.
ns_ipt "$NS" -A OUTPUT -p udp --dport $PORT_LAT -j NFQUEUE --queue-num $Q_LAT

# kv FILE KEY: the value of KEY=... on the last line of FILE that has it.
kv() { grep -o "\b$2=[^ ]*" "$1" 2>/dev/null | tail -n1 | cut -d= -f2; }

# consumer_cmd KIND QUEUE: the command line of a consumer.
consumer_cmd() {
    local common=(--rcvbuf "$RCVBUF" --warmup "$WARMUP" --seconds "$WINDOW")
    case $1 in
    native) echo "$B/native --queue $2 --batch $BATCH ${common[*]}" ;;
    real) echo "$B/lnfq_real --queue $2 ${common[*]}" ;;
    compat) echo "$B/lnfq_compat --queue $2 ${common[*]}" ;;
    ceiling) echo "$B/ceiling --queue $2 --batch $BATCH ${common[*]}" ;;
    pool1) echo "$B/native --pool $Q_POOL1 --batch $BATCH ${common[*]}" ;;
    pool2 | pool2x) echo "$B/native --pool $Q_POOL2 --batch $BATCH ${common[*]}" ;;
    esac
}

# sndbuf_for SIZE SOURCES: the send buffer per socket that admits about $INFLIGHT packets of SIZE in
# flight in all (the kernel doubles the value; a queued packet costs roughly SIZE + 800 bytes of it).
sndbuf_for() { echo $((INFLIGHT * ($1 + 800) / 2 / $2)); }

# run_tput LABEL KIND SIZE ROUND PORT CPUS (SRCS=n: sources): one measured run; appends to $RAW:
#   label kind size round pps packets seconds kq_enqueued kq_dropped offered_pps extra cpu+kcpu
#   pps_per_cpu kq_empty kq_samples kcpu
run_tput() {
    local label=$1 kind=$2 size=$3 round=$4 port=$5 cpus=$6
    local log=$OUT/runs/$label-$size-r$round.log flog=$OUT/runs/$label-$size-r$round.flood
    local cpid fpid rc=0 q=$Q_TPUT
    # shellcheck disable=SC2046
    bg_start cpid ip netns exec "$NS" timeout 30 taskset -c "$cpus" $(consumer_cmd "$kind" "$q") >"$log" 2>&1
    if ! wait_for "$log" '^ready' 10; then
        cat "$log" >&2
        FAILED_RUNS+=("$label/$size/r$round: consumer did not start")
        kill -TERM "$cpid" 2>/dev/null || true
        wait "$cpid" 2>/dev/null || true
        return 0
    fi
    local fsecs
    fsecs=$(awk -v w="$WARMUP" -v s="$WINDOW" 'BEGIN { print w + s + 5 }')
    bg_start fpid ip netns exec "$NS" timeout 30 taskset -c "$CPU_SENDER" \
        "$B/flood" --port "$port" --size "$size" --seconds "$fsecs" --sndbuf "$(sndbuf_for "$size" "${SRCS:-1}")" \
        --srcs "${SRCS:-1}" --gso "$GSO" --batch "$FLOOD_BATCH" >"$flog" 2>&1
    wait_pid "$cpid" 20 || rc=$?
    kill -TERM "$fpid" 2>/dev/null || true
    wait_pid "$fpid" 5 || true
    local pps
    pps=$(kv "$log" pps)
    if [ "$rc" -ne 0 ] || [ -z "$pps" ] || [ "$(kv "$log" packets)" = 0 ]; then
        sed 's/^/    | /' "$log" >&2
        FAILED_RUNS+=("$label/$size/r$round: status $rc")
        return 0
    fi
    local extra=""
    if grep -q '^queue ' "$log"; then
        extra=$(awk '/^queue / { sub("packets=", "", $3); printf "%s%s", sep, $3; sep = "/" }' "$log")
    fi
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$label" "$kind" "$size" "$round" "$pps" \
        "$(kv "$log" packets)" "$(kv "$log" seconds)" "$(kv "$log" kq_enqueued)" "$(kv "$log" kq_dropped)" \
        "$(kv "$flog" offered_pps)" "${extra:--}" "$(awk -v a="$(kv "$log" cpu)" -v b="$(kv "$log" kcpu)" 'BEGIN { print a + b }')" \
        "$(kv "$log" pps_per_cpu)" "$(kv "$log" kq_empty)" "$(kv "$log" kq_samples)" "$(kv "$log" kcpu)" >>"$RAW"
    printf '  %-8s %5s B  round %s: %9.0f pps  %9.0f per CPU-second  (CPU busy %.2f + kernel threads %.2f, queue empty %s/%s, drops %s)\n' \
        "$label" "$size" "$round" "$pps" "$(kv "$log" pps_per_cpu)" \
        "$(awk -v c="$(kv "$log" cpu)" -v s="$(kv "$log" seconds)" 'BEGIN { print c / s }')" \
        "$(awk -v c="$(kv "$log" kcpu)" -v s="$(kv "$log" seconds)" 'BEGIN { print c / s }')" "$(kv "$log" kq_empty)" \
        "$(kv "$log" kq_samples)" "$(kv "$log" kq_dropped)" >&2
}

# ---------------------------------------------------------------------------------------
say "recording packet messages for the parse-cost benchmark ($DUMP_PER_SIZE per size)"
MSGS=$OUT/messages.bin
: >"$MSGS"
for size in $SIZES; do
    log=$OUT/runs/record-$size.log
    bg_start cpid ip netns exec "$NS" timeout 20 taskset -c "$CPU_CONSUMER" "$B/ceiling" --queue $Q_TPUT \
        --rcvbuf "$RCVBUF" --warmup 0 --seconds 0.3 --dump "$MSGS" --dump-count $DUMP_PER_SIZE >"$log" 2>&1
    wait_for "$log" '^ready' 10 || die "recorder did not start: $(cat "$log")"
    ns_exec "$NS" "$B/flood" --port $PORT_TPUT --size "$size" --seconds 5 --max 20000 --batch 16 >/dev/null
    wait_pid "$cpid" 10 || die "recorder failed: $(cat "$log")"
    grep -q "dumped=$DUMP_PER_SIZE" "$log" || die "recorder kept fewer than $DUMP_PER_SIZE messages: $(cat "$log")"
done

# ---------------------------------------------------------------------------------------
KINDS=(native real compat ceiling)
say "throughput: $ROUNDS rounds x sizes ($SIZES) x ${#KINDS[@]} consumers, ${WINDOW}s windows after ${WARMUP}s warm-up"
for ((r = 1; r <= ROUNDS; r++)); do
    for size in $SIZES; do
        for ((k = 0; k < ${#KINDS[@]}; k++)); do
            kind=${KINDS[$(((k + r - 1) % ${#KINDS[@]}))]}
            run_tput "$kind" "$kind" "$size" "$r" $PORT_TPUT "$CPU_CONSUMER"
        done
    done
done

# ---------------------------------------------------------------------------------------
say "pool: 1 queue vs 2 queues (--queue-balance $Q_POOL2), 64 B from 16 source addresses, $POOL_ROUNDS rounds"
ALL_CPUS=0-$((NCPU - 1))
for ((r = 1; r <= POOL_ROUNDS; r++)); do
    SRCS=16 run_tput pool1 pool1 64 "$r" $PORT_POOL1 "$CPU_CONSUMER"
    SRCS=16 run_tput pool2 pool2 64 "$r" $PORT_POOL2 "$CPU_CONSUMER"
    if [ "$NCPU" -ge 2 ]; then
        SRCS=16 run_tput pool2x pool2x 64 "$r" $PORT_POOL2 "$ALL_CPUS"
    fi
done

# ---------------------------------------------------------------------------------------
say "latency: ${LAT_RATE} pps of 64 B for ${LAT_SECONDS}s, $LAT_ROUNDS rounds, native vs real"
LAT=$OUT/latency.tsv
: >"$LAT"
for ((r = 1; r <= LAT_ROUNDS; r++)); do
    for kind in native real; do
        log=$OUT/runs/lat-$kind-r$r.log rlog=$OUT/runs/lat-$kind-r$r.rx
        lsecs=$(awk -v s="$LAT_SECONDS" 'BEGIN { print s + 5 }')
        bg_start rpid ip netns exec "$NS" timeout 30 taskset -c "$CPU_SENDER" "$B/latency_rx" --port $PORT_LAT \
            --seconds "$lsecs" --skip 0.3 >"$rlog" 2>&1
        # shellcheck disable=SC2046
        bg_start cpid ip netns exec "$NS" timeout 30 taskset -c "$CPU_CONSUMER" $(consumer_cmd "$kind" $Q_LAT) \
            --warmup 0 --seconds "$lsecs" >"$log" 2>&1
        if ! wait_for "$rlog" '^ready' 10 || ! wait_for "$log" '^ready' 10; then
            FAILED_RUNS+=("latency/$kind/r$r: did not start")
            kill -TERM "$cpid" "$rpid" 2>/dev/null || true
            wait "$cpid" "$rpid" 2>/dev/null || true
            continue
        fi
        ns_exec "$NS" taskset -c "$CPU_SENDER" "$B/flood" --port $PORT_LAT --size 64 --rate "$LAT_RATE" --stamp \
            --seconds "$LAT_SECONDS" >"$OUT/runs/lat-$kind-r$r.flood" 2>&1 || true
        wait_pid "$rpid" 10 || true
        kill -TERM "$cpid" 2>/dev/null || true
        wait "$cpid" 2>/dev/null || true
        med=$(kv "$rlog" median_us)
        if [ -z "$med" ]; then
            FAILED_RUNS+=("latency/$kind/r$r: $(cat "$rlog")")
            continue
        fi
        printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$kind" "$r" "$med" "$(kv "$rlog" p99_us)" "$(kv "$rlog" samples)" \
            "$(kv "$OUT/runs/lat-$kind-r$r.flood" sent_pps)" >>"$LAT"
        printf '  latency %-7s round %s: median %s us, p99 %s us (%s samples)\n' "$kind" "$r" "$med" \
            "$(kv "$rlog" p99_us)" "$(kv "$rlog" samples)" >&2
    done
done

# ---------------------------------------------------------------------------------------
say "parse cost under callgrind ($PARSE_ITERS passes over the recorded messages)"
# ir PROG...: total instructions (Ir) callgrind counted for one run.
ir() {
    local f
    f=$(mktemp "$OUT/cg.XXXXXX")
    valgrind --tool=callgrind --callgrind-out-file="$f" "$@" >"$f.log" 2>&1 || {
        cat "$f.log" >&2
        return 1
    }
    awk '/^(summary|totals):/ { v = $2 } END { print v }' "$f"
}
NMSGS=$(grep -o 'messages=[0-9]*' <("$B/parse_real" "$MSGS" 1) | cut -d= -f2)
[ -n "$NMSGS" ] && [ "$NMSGS" -gt 0 ] || die "no recorded messages"
PARSE=$OUT/parse.tsv
: >"$PARSE"
for p in real compat native; do
    case $p in
    real) cmd=("$B/parse_real" "$MSGS") ;;
    compat) cmd=("$B/parse_compat" "$MSGS") ;;
    native) cmd=("$PARSE_COST" "$MSGS") ;;
    esac
    "${cmd[@]}" 1 >"$OUT/parse-$p.check" || die "parse harness ($p) failed: $(cat "$OUT/parse-$p.check")"
    ir0=$(ir "${cmd[@]}" 0) || die "callgrind ($p, 0)"
    irn=$(ir "${cmd[@]}" "$PARSE_ITERS") || die "callgrind ($p, $PARSE_ITERS)"
    per=$(awk -v a="$ir0" -v b="$irn" -v n="$PARSE_ITERS" -v m="$NMSGS" 'BEGIN { printf "%.1f", (b - a) / (n * m) }')
    printf '%s\t%s\t%s\t%s\n' "$p" "$ir0" "$irn" "$per" >>"$PARSE"
    say "  $p: Ir(0)=$ir0 Ir($PARSE_ITERS)=$irn -> $per instructions/message"
done

# ---------------------------------------------------------------------------------------
# Report
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) { print ""; exit } if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
col_median() { # LABEL SIZE COLUMN (of $RAW)
    awk -F'\t' -v l="$1" -v s="$2" -v c="$3" '$1 == l && $3 == s { print $c }' "$RAW" | median
}
fmt_int() { [ -n "$1" ] && printf "%'.0f" "$1" || printf 'n/a'; }
ratio() { [ -n "$1" ] && [ -n "$2" ] && awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else printf "n/a" }' || printf 'n/a'; }
ge() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a != "n/a" && a + 0 >= b + 0) }'; }
le() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a != "n/a" && a + 0 <= b + 0) }'; }
yesno() { if "$@"; then echo "**met**"; else echo "**not met**"; fi; }
nruns() { awk -F'\t' -v l="$1" -v s="$2" '$1 == l && $3 == s' "$RAW" | wc -l; }

declare -A PPS DROPS PPC BUSY KBUSY EMPTY
for size in $SIZES; do
    for kind in "${KINDS[@]}"; do
        PPS[$kind,$size]=$(col_median "$kind" "$size" 5)
        PPC[$kind,$size]=$(col_median "$kind" "$size" 13)
        BUSY[$kind,$size]=$(awk -F'\t' -v l="$kind" -v s="$size" '$1 == l && $3 == s { print $12 / $7 }' "$RAW" |
            median | awk '{ if ($1 != "") printf "%.2f", $1 }')
        DROPS[$kind,$size]=$(col_median "$kind" "$size" 9)
        KBUSY[$kind,$size]=$(awk -F'\t' -v l="$kind" -v s="$size" '$1 == l && $3 == s { print $16 / $7 }' "$RAW" |
            median | awk '{ if ($1 != "") printf "%.2f", $1 }')
        EMPTY[$kind,$size]=$(awk -F'\t' -v l="$kind" -v s="$size" '$1 == l && $3 == s && $15 > 0 { print $14 / $15 }' "$RAW" |
            median | awk '{ if ($1 != "") printf "%.0f%%", 100 * $1 }')
    done
done
P_REAL=$(awk -F'\t' '$1 == "real" { print $4 }' "$PARSE")
P_COMPAT=$(awk -F'\t' '$1 == "compat" { print $4 }' "$PARSE")
P_NATIVE=$(awk -F'\t' '$1 == "native" { print $4 }' "$PARSE")
LAT_N_MED=$(awk -F'\t' '$1 == "native" { print $3 }' "$LAT" | median)
LAT_N_P99=$(awk -F'\t' '$1 == "native" { print $4 }' "$LAT" | median)
LAT_R_MED=$(awk -F'\t' '$1 == "real" { print $3 }' "$LAT" | median)
LAT_R_P99=$(awk -F'\t' '$1 == "real" { print $4 }' "$LAT" | median)
LAT_RATE_REAL=$(awk -F'\t' '{ print $6 }' "$LAT" | median)

CPU_MODEL=$(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
ELAPSED=$(($(date +%s) - STARTED))
REPORT=$OUT/results.md
{
    echo "## nfq-rs benchmark"
    echo
    echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC'); took ${ELAPSED}s"
    echo "- machine: $NCPU CPUs, ${CPU_MODEL:-unknown CPU}, kernel $(uname -r); libnetfilter_queue $REAL_VERSION (Debian)"
    echo "- nfq-rs $(sed -n 's/^version *= *"\([^"]*\)".*/\1/p' "$ROOT/Cargo.toml" | head -n1)," \
        "commit $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C "$ROOT" diff --quiet HEAD -- src 2>/dev/null || echo ' (src/ modified)')"
    echo "- reproduce: as root in the checkout, \`${OVERRIDES:+$OVERRIDES }make bench\`" \
        "(BENCH_ROUNDS=$ROUNDS BENCH_SECONDS=$WINDOW BENCH_WARMUP=$WARMUP BENCH_BATCH=$BATCH BENCH_RCVBUF=$RCVBUF" \
        "BENCH_INFLIGHT=$INFLIGHT BENCH_GSO=$GSO BENCH_FLOOD_BATCH=$FLOOD_BATCH BENCH_PATH=$PATH_MODE in effect)"
    if [ "$PATH_MODE" = queue ]; then
        after="accepted datagrams dropped by the next table (\`-t filter -A OUTPUT ... -j DROP\`): the queue path alone"
    else
        after="accepted datagrams sent through loopback and dropped in raw PREROUTING (BENCH_PATH=deliver)"
    fi
    echo "- setup: one network namespace; sender (bench/flood.c, UDP GSO: $GSO datagrams per send, $FLOOD_BATCH sends per" \
        "sendmmsg) pinned to CPU $CPU_SENDER, consumer to CPU $CPU_CONSUMER;" \
        "\`-t $QT -A OUTPUT -p udp --dport $PORT_TPUT -j NFQUEUE --queue-num $Q_TPUT\`, $after;" \
        "the sender's send buffer holds about $INFLIGHT packets in the queue;" \
        "copy mode packet (0xffff), receive buffer $RCVBUF B for every consumer;" \
        "$ROUNDS interleaved rounds (rotating order), each a ${WINDOW}s window after ${WARMUP}s warm-up; medians"
    echo
    echo "### Throughput (accept-all; medians of $ROUNDS interleaved rounds)"
    echo
    echo "pps: packets verdicted per second of the window. CPU busy: (the consumer's CPU time + the time the" \
        "per-CPU kernel threads of its CPU ran, i.e. work its system calls deferred to a kworker or ksoftirqd)" \
        "/ window; 1.00 = it never waited for packets nor for its CPU. pps per CPU-second: packets / that" \
        "CPU time, the cost per packet including all the kernel work it causes; it holds when the" \
        "sender cannot keep the consumer busy or other load shares its CPU. Kernel threads: their part of" \
        "CPU busy. Queue empty: share of the" \
        "10 ms samples of the queue's backlog that found it empty (0 = the consumer always had work: it" \
        "set the pace, not the sender). Drops: packets refused by a full queue inside the window."
    for size in $SIZES; do
        echo
        echo "#### $size B payload"
        echo
        echo "| consumer | pps | ratio to (2) | CPU busy | kernel threads | pps per CPU-second | ratio to (2) | queue empty | drops |"
        echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
        for kind in "${KINDS[@]}"; do
            case $kind in
            native) name="(1) nfq-rs native C API (nfq_rs_run, batch $BATCH)" ;;
            real) name="(2) libnetfilter_queue $REAL_VERSION: recv + nfq_handle_packet + nfq_set_verdict" ;;
            compat) name="(3) the same source built against the nfq-rs drop-in" ;;
            ceiling) name="(4) ceiling: raw netlink, recvmmsg (batch $BATCH) + one batch verdict" ;;
            esac
            echo "| $name | $(fmt_int "${PPS[$kind,$size]}") | $(ratio "${PPS[$kind,$size]}" "${PPS[real,$size]}") |" \
                "${BUSY[$kind,$size]:-n/a} | ${KBUSY[$kind,$size]:-n/a} | $(fmt_int "${PPC[$kind,$size]}") |" \
                "$(ratio "${PPC[$kind,$size]}" "${PPC[real,$size]}") | ${EMPTY[$kind,$size]:-n/a} |" \
                "$(fmt_int "${DROPS[$kind,$size]}") |"
        done
        echo "| (1) / (4): native vs the ceiling | | $(ratio "${PPS[native,$size]}" "${PPS[ceiling,$size]}") | | | |" \
            "$(ratio "${PPC[native,$size]}" "${PPC[ceiling,$size]}") | | |"
    done
    echo
    # What limited the runs, from the runs themselves.
    sender_bound=$(awk -F'\t' '$1 ~ /^(native|real|compat|ceiling)$/ && $15 > 0 && $14 / $15 > 0.05 { n[$1 " " $3 " B"]++ }
        END { for (k in n) { printf "%s%s (%d of its runs)", sep, k, n[k]; sep = ", " } }' "$RAW")
    starved=$(awk -F'\t' '$1 ~ /^(native|real|compat|ceiling)$/ && $14 == 0 { print $12 / $7 }' "$RAW" | median)
    if [ -n "$sender_bound" ]; then
        echo "Sender-bound runs (queue found empty in more than 5% of the samples: the sender, not the consumer," \
            "set the pace; their pps understates the consumer, their pps per CPU-second does not): $sender_bound."
    else
        echo "In every run the queue was found empty in at most 5% of the samples: the consumers, not the sender, set the pace."
    fi
    if [ -n "$starved" ] && awk -v b="$starved" 'BEGIN { exit !(b < 0.9) }'; then
        echo "In the runs whose queue was never found empty, the consumer was on its CPU only $(printf '%.2f' "$starved")" \
            "of the time (median): other processes shared CPU $CPU_CONSUMER (load average $(cut -d' ' -f1-3 /proc/loadavg)" \
            "at the end), so pps measures the scheduler as much as the library; pps per CPU-second is the reliable comparison."
    fi
    echo
    echo "### Parse cost (instructions per packet message, callgrind, $NMSGS recorded messages x $PARSE_ITERS)"
    echo
    echo "| parser | instructions/message | ratio to libnetfilter_queue |"
    echo "| --- | ---: | ---: |"
    echo "| libnetfilter_queue $REAL_VERSION nfq_nlmsg_parse (+ zeroing the attr table) | $P_REAL | 1.00 |"
    echo "| nfq-rs compat nfq_nlmsg_parse, same harness | $P_COMPAT | $(ratio "$P_COMPAT" "$P_REAL") |"
    echo "| nfq-rs native Msg::split + Packet::parse (every attribute decoded) | $P_NATIVE | $(ratio "$P_NATIVE" "$P_REAL") |"
    echo
    echo "### Pool (nfq_rs_pool_start, 64 B, flood from 16 source addresses, median of $POOL_ROUNDS)"
    echo
    echo "| pool | consumer CPUs | pps | ratio to 1 queue | CPU-seconds per second | queue empty | packets per queue (last round) |"
    echo "| --- | --- | ---: | ---: | ---: | ---: | --- |"
    P1=$(col_median pool1 64 5)
    for l in pool1 pool2 pool2x; do
        [ "$(nruns $l 64)" -gt 0 ] || continue
        case $l in
        pool1) d="1 queue (--queue-num $Q_POOL1)"; c="CPU $CPU_CONSUMER" ;;
        pool2) d="2 queues (--queue-balance $Q_POOL2)"; c="CPU $CPU_CONSUMER (both threads)" ;;
        pool2x) d="2 queues (--queue-balance $Q_POOL2)"; c="CPUs $ALL_CPUS (sender pinned to CPU $CPU_SENDER)" ;;
        esac
        v=$(col_median $l 64 5)
        u=$(awk -F'\t' -v l=$l '$1 == l { print $12 / $7 }' "$RAW" | median | awk '{ if ($1 != "") printf "%.2f", $1 }')
        e=$(awk -F'\t' -v l=$l '$1 == l && $15 > 0 { print $14 / $15 }' "$RAW" | median | awk '{ if ($1 != "") printf "%.0f%%", 100 * $1 }')
        echo "| $d | $c | $(fmt_int "$v") | $(ratio "$v" "$P1") | ${u:-n/a} | ${e:-n/a} |" \
            "$(awk -F'\t' -v l=$l '$1 == l { s = $11 } END { print s }' "$RAW") |"
    done
    echo
    echo "### Latency (send -> delivery to a UDP socket through the queue; 64 B at ${LAT_RATE} pps, achieved $(fmt_int "$LAT_RATE_REAL") pps; median of $LAT_ROUNDS runs)"
    echo
    echo "| consumer | median µs | p99 µs |"
    echo "| --- | ---: | ---: |"
    echo "| (1) nfq-rs native | ${LAT_N_MED:-n/a} | ${LAT_N_P99:-n/a} |"
    echo "| (2) libnetfilter_queue $REAL_VERSION | ${LAT_R_MED:-n/a} | ${LAT_R_P99:-n/a} |"
    echo
    echo "### Targets (issue 4)"
    echo
    echo "Judged on both throughput figures; where the sender set the pace (see above), pps is capped by the" \
        "sender and pps per CPU-second is the one that compares the consumers."
    echo
    echo "| target | measured | |"
    echo "| --- | --- | --- |"
    for pair in "native real 1.8 native >= 1.8x libnetfilter_queue" "native ceiling 0.9 native >= 0.9x the ceiling" \
        "compat real 1.0 compat >= 1.0x libnetfilter_queue"; do
        read -r x y want what <<<"$pair"
        for size in $SIZES; do
            a=$(ratio "${PPS[$x,$size]}" "${PPS[$y,$size]}")
            c=$(ratio "${PPC[$x,$size]}" "${PPC[$y,$size]}")
            echo "| $what, $size B | ${a}x pps; ${c}x per CPU-second | pps: $(yesno ge "$a" "$want"); per CPU-second: $(yesno ge "$c" "$want") |"
        done
    done
    a=$(ratio "$P_NATIVE" "$P_REAL")
    echo "| parse <= 0.5x libnetfilter_queue's instructions (native) | ${a}x | $(yesno le "$a" 0.5) |"
    a=$(ratio "$P_COMPAT" "$P_REAL")
    echo "| parse <= 0.5x libnetfilter_queue's instructions (compat nfq_nlmsg_parse) | ${a}x | $(yesno le "$a" 0.5) |"
    echo "| zero allocations per packet | see \`cargo test --release --test alloc\` | (not measured here) |"
    if [ "${#FAILED_RUNS[@]}" -gt 0 ]; then
        echo
        echo "Failed runs (left out of the medians): ${FAILED_RUNS[*]}"
    fi
} >"$REPORT"

echo
cat "$REPORT"
echo
echo "(written to $REPORT; raw runs in $RAW, $LAT, $PARSE and $OUT/runs/)"

# Stage: conntrack event filtering under a connection flood (its own script and namespace;
# its section is appended to the report).
say "conntrack events: no filter vs library filter vs kernel BPF filter (scripts/bench-ct-events.sh)"
if "$ROOT/scripts/bench-ct-events.sh" >"$OUT/ct-events.log" 2>&1; then
    { echo; cat "$OUT/ct-events.md"; } >>"$REPORT"
    echo
    cat "$OUT/ct-events.md"
else
    FAILED_RUNS+=("ct-events (log: $OUT/ct-events.log)")
    tail -n 20 "$OUT/ct-events.log" >&2
fi
[ "${#FAILED_RUNS[@]}" -eq 0 ] || die "${#FAILED_RUNS[@]} run(s) failed"
