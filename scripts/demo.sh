#!/usr/bin/env bash
# Demo of the C API on real traffic, inside a throwaway network namespace (root needed):
#   1. installs the library into build/stage and builds examples-c/ against it via pkg-config;
#   2. printer on NFQUEUE 0: UDP datagrams to 127.0.0.1:5353, one line per packet, all arrive;
#   3. filter on NFQUEUE 1: drops port 7001 (nothing arrives), marks port 7002 (arrives, and
#      an iptables `-m mark` rule counts it), accepts port 7003.
#   4. nflog_print on NFLOG group 5: UDP datagrams to 127.0.0.1:5514 logged with a prefix at
#      OUTPUT and INPUT, one line per logged packet.
# The namespace and the background processes are removed on any exit. The host's firewall is
# never touched. Every wait is bounded.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

NS_PREFIX=nfqrs-demo
OUT=$ROOT/build/demo
N_PRINT=5
N_EACH=3
MARK=0x2a

trap ns_cleanup EXIT
trap 'exit 130' INT TERM

fail() {
    echo "demo: FAILED: $*" >&2
    exit 1
}

if [ -t 1 ]; then
    step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
else
    step() { printf '\n== %s\n' "$*"; }
fi

step "building and installing into $STAGE"
stage_install
mkdir -p "$OUT"
cc_pc "$OUT/printer" "$ROOT/examples-c/printer.c" -O2
cc_pc "$OUT/filter" "$ROOT/examples-c/filter.c" -O2
cc_pc "$OUT/nflog_print" "$ROOT/examples-c/nflog_print.c" -O2
cc -std=c11 -O2 -Wall -Wextra -Werror "$ROOT/tests/c/udptool.c" -o "$OUT/udptool"
echo "pkg-config libnfq_rs: $(pkg-config --cflags --libs libnfq_rs)"

ns_new NS run
NSPATH=/var/run/netns/$NS
echo "network namespace: $NS"

# ---------------------------------------------------------------------------------------
step "1. printer: accept-all on queue 0, $N_PRINT UDP datagrams to 127.0.0.1:5353"
ns_ipt "$NS" -A OUTPUT -p udp --dport 5353 -j NFQUEUE --queue-num 0
echo "rule: iptables -A OUTPUT -p udp --dport 5353 -j NFQUEUE --queue-num 0"

bg_start PPID_ timeout 20 "$OUT/printer" --netns "$NSPATH" --count "$N_PRINT" 0 >"$OUT/printer.log" 2>&1
wait_for "$OUT/printer.log" 'waiting for packets' 10 || { cat "$OUT/printer.log"; fail "printer did not start"; }
ns_exec "$NS" "$OUT/udptool" --timeout 3000 --tag demo 5353:"$N_PRINT" >"$OUT/recv1.log"
rc=0
wait_pid "$PPID_" 10 || rc=$?
sed 's/^/  | /' "$OUT/printer.log"
echo "  receiver:"
sed 's/^/  > /' "$OUT/recv1.log"
[ "$rc" -eq 0 ] || fail "printer exited with status $rc"
lines=$(grep -c '^packet id=.* verdict=ACCEPT$' "$OUT/printer.log" || true)
[ "$lines" -eq "$N_PRINT" ] || fail "printer printed $lines packet lines, expected $N_PRINT"
grep -q "^port 5353: $N_PRINT/$N_PRINT received" "$OUT/recv1.log" || fail "not every accepted datagram arrived"
echo "OK: $lines packets printed and accepted, $N_PRINT/$N_PRINT arrived"

# ---------------------------------------------------------------------------------------
step "2. filter on queue 1: drop 7001, mark 7002 with $MARK, accept 7003 ($N_EACH datagrams each)"
ns_ipt "$NS" -A OUTPUT -p udp -m multiport --dports 7001:7003 -j NFQUEUE --queue-num 1
ns_ipt "$NS" -t mangle -A POSTROUTING -p udp -m mark --mark "$MARK"
echo "rules: iptables -A OUTPUT -p udp -m multiport --dports 7001:7003 -j NFQUEUE --queue-num 1"
echo "       iptables -t mangle -A POSTROUTING -p udp -m mark --mark $MARK   (counter only)"

total=$((3 * N_EACH))
bg_start FPID timeout 20 "$OUT/filter" --netns "$NSPATH" --count "$total" --mark "$MARK" 1 7001 7002 \
    >"$OUT/filter.log" 2>&1
wait_for "$OUT/filter.log" 'accept the rest' 10 || { cat "$OUT/filter.log"; fail "filter did not start"; }
ns_exec "$NS" "$OUT/udptool" --timeout 1500 --tag demo 7001:"$N_EACH" 7002:"$N_EACH" 7003:"$N_EACH" \
    >"$OUT/recv2.log"
rc=0
wait_pid "$FPID" 10 || rc=$?
sed 's/^/  | /' "$OUT/filter.log"
echo "  receivers:"
sed 's/^/  > /' "$OUT/recv2.log"
[ "$rc" -eq 0 ] || fail "filter exited with status $rc"

marked=$(ns_rule_packets "$NS" mangle POSTROUTING 1)
echo "  mark rule counter (mangle POSTROUTING -m mark --mark $MARK): $marked packets"
grep -q "^port 7001: 0/$N_EACH received" "$OUT/recv2.log" || fail "dropped datagrams arrived"
grep -q "^port 7002: $N_EACH/$N_EACH received" "$OUT/recv2.log" || fail "marked datagrams did not all arrive"
grep -q "^port 7003: $N_EACH/$N_EACH received" "$OUT/recv2.log" || fail "accepted datagrams did not all arrive"
[ "$(grep -c 'verdict=DROP$' "$OUT/filter.log")" -eq "$N_EACH" ] || fail "filter did not drop $N_EACH packets"
[ "$marked" -eq "$N_EACH" ] || fail "mark rule counted $marked packets, expected $N_EACH"
echo "OK: port 7001 dropped (0 arrived), port 7002 marked ($marked counted by -m mark), port 7003 accepted"

# ---------------------------------------------------------------------------------------
step "3. nflog_print on NFLOG group 5: $N_PRINT UDP datagrams to 127.0.0.1:5514, logged at OUTPUT and INPUT"
ns_ipt "$NS" -A OUTPUT -p udp --dport 5514 -j NFLOG --nflog-group 5 --nflog-prefix demo-out
ns_ipt "$NS" -A INPUT -p udp --dport 5514 -j NFLOG --nflog-group 5 --nflog-prefix demo-in
echo "rules: iptables -A OUTPUT -p udp --dport 5514 -j NFLOG --nflog-group 5 --nflog-prefix demo-out"
echo "       iptables -A INPUT  -p udp --dport 5514 -j NFLOG --nflog-group 5 --nflog-prefix demo-in"

# Run inside the namespace, so that interface names resolve there.
bg_start LPID timeout 20 ip netns exec "$NS" "$OUT/nflog_print" --count $((2 * N_PRINT)) 5 >"$OUT/nflog.log" 2>&1
wait_for "$OUT/nflog.log" 'listening on NFLOG group 5' 10 || { cat "$OUT/nflog.log"; fail "nflog_print did not start"; }
ns_exec "$NS" "$OUT/udptool" --timeout 3000 --tag demo 5514:"$N_PRINT" >"$OUT/recv3.log"
rc=0
wait_pid "$LPID" 10 || rc=$?
sed 's/^/  | /' "$OUT/nflog.log"
[ "$rc" -eq 0 ] || fail "nflog_print exited with status $rc"
outs=$(grep -cE '^demo-out: in=- out=lo 127\.0\.0\.1:[0-9]+ -> 127\.0\.0\.1:5514 udp ' "$OUT/nflog.log" || true)
ins=$(grep -cE '^demo-in: in=lo out=- 127\.0\.0\.1:[0-9]+ -> 127\.0\.0\.1:5514 udp ' "$OUT/nflog.log" || true)
[ "$outs" -eq "$N_PRINT" ] || fail "nflog_print printed $outs demo-out lines, expected $N_PRINT"
[ "$ins" -eq "$N_PRINT" ] || fail "nflog_print printed $ins demo-in lines, expected $N_PRINT"
grep -q "^port 5514: $N_PRINT/$N_PRINT received" "$OUT/recv3.log" || fail "not every logged datagram arrived"
echo "OK: $outs OUTPUT and $ins INPUT log lines with prefix, interfaces, addresses and ports"

step "demo passed (namespace $NS is removed on exit)"
