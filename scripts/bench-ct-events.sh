#!/usr/bin/env bash
# Conntrack event filtering under a connection flood (a stage of `make bench`; root needed; not
# a timed test): events delivered and listener CPU per second with no filter, with the
# library-side filter and with the kernel-side BPF filter (examples/ct_event_filter.rs says
# exactly what runs). Everything happens in one fresh, uniquely named network namespace
# (removed on any exit); traffic goes only to 127.0.0.x inside it; the host's firewall is never
# touched.
#
# Knobs: BENCH_CT_ROUNDS (5), BENCH_CT_SECONDS (1.5).
# Output: a markdown section on stdout and in build/bench/ct-events.md; raw runs in
# build/bench/ct-events.tsv.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

NS_PREFIX=nfqrs-bench-ct
OUT=$ROOT/build/bench
ROUNDS=${BENCH_CT_ROUNDS:-5}
SECS=${BENCH_CT_SECONDS:-1.5}
RAW=$OUT/ct-events.tsv
REPORT=$OUT/ct-events.md
mkdir -p "$OUT"
trap ns_cleanup EXIT
die() { echo "bench-ct-events: $*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || die "needs root (network namespaces, iptables inside them)"
[ "$(nproc)" -ge 2 ] || die "needs 2 CPUs (the flood on CPU 0, the listener on CPU 1)"

cargo build --quiet --release --manifest-path "$ROOT/Cargo.toml" --example ct_event_filter ||
    die "cargo build --example ct_event_filter"
BIN=${CARGO_TARGET_DIR:-$ROOT/target}/release/examples/ct_event_filter

ns_new NS ctev || die "ip netns add"
# Track the namespace's UDP (the conntrack match registers the hooks); drop the datagrams on
# arrival, after their connection was confirmed (and its NEW event sent) on the way out.
ns_ipt "$NS" -A OUTPUT -m conntrack --ctstate NEW,ESTABLISHED -j ACCEPT || die "iptables"
ns_ipt "$NS" -t raw -A PREROUTING -p udp -j DROP || die "iptables"

timeout $((ROUNDS * 3 * 10 + 30)) "$BIN" "/var/run/netns/$NS" "$ROUNDS" "$SECS" >"$RAW" ||
    die "ct_event_filter failed (raw output: $RAW)"

median() { sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) { print ""; exit } if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
col() { awk -F'\t' -v m="$1" -v c="$2" '$1 == m { print $c }' "$RAW" | median; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else printf "n/a" }'; }
fmt() { printf "%'.0f" "$1"; }

{
    echo "### Conntrack events under a connection flood (UDP to port 53 kept; median of $ROUNDS interleaved rounds of ${SECS}s)"
    echo
    echo "Flood on CPU 0 (a new UDP connection per datagram, table flushed each 50,000), listener on CPU 1;" \
        "filter: \`EventFilter { l4proto: 17, dst_port: 53 }\`. Command: \`scripts/bench-ct-events.sh\` (or \`make bench\`)."
    echo
    echo "| listener | events delivered/s | events reaching the socket/s | listener CPU-s per s | ratio of CPU to no filter | overflows (sum) | flood connections/s |"
    echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"
    base=$(col none 5)
    for m in none lib bpf; do
        case $m in
        none) d="no filter" ;;
        lib) d="library filter (set_filter)" ;;
        bpf) d="kernel BPF filter (set_kernel_filter)" ;;
        esac
        cpu=$(col $m 5)
        ov=$(awk -F'\t' -v m=$m '$1 == m { s += $6 } END { print s + 0 }' "$RAW")
        echo "| $d | $(fmt "$(col $m 3)") | $(fmt "$(col $m 4)") | $cpu | $(ratio "$cpu" "$base") | $ov | $(fmt "$(col $m 7)") |"
    done
    echo
    echo "The kernel runs the BPF program in the context that emits the event (here the flood thread), so its" \
        "cost shows in the flood rate, not in the listener's CPU. Numbers from a shared 2-CPU host are provisional."
} >"$REPORT"
cat "$REPORT"
