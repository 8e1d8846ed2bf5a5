#!/usr/bin/env bash
# Tests of the libnetfilter_queue drop-in (src/compat), against the real libnetfilter_queue
# installed from Debian and against the INSTALLED compat layout (`make install COMPAT=1`,
# staged into build/stage):
#
#   symbols         every symbol of libnetfilter_queue 1.0.5 and its git tree is exported
#                   (tests/compat/libnetfilter_queue.symbols), nfq_errno as data, unversioned
#   dropin-elf      our installed libnetfilter_queue.so.1 is a real ELF with upstream's soname,
#                   every NEEDED of upstream's (libnfnetlink.so.0, libmnl.so.0), exactly the
#                   listed symbols (a superset of upstream's, same function/data kinds,
#                   unversioned) and none of libnfnetlink's or libmnl's; it loads
#   diff-api-dropin the differential test again, against that .so.1
#   diff-api        tests/compat/diff_api.c: builders, nfq_nlmsg_parse and every getter give
#                   the same bytes and answers through the real library and ours
#   legacy-*        tests/compat/legacy_prog.c, every legacy call on a live queue, compiled
#                   once against the real library and run with it, with LD_PRELOAD=libnfq_rs.so
#                   and with our libnetfilter_queue.so.1 on LD_LIBRARY_PATH: same output, and
#                   the library that served nfq_open is checked; also under valgrind, and
#                   with LD_PRELOAD=<our libnetfilter_queue.so.1>
#   legacy-source   the same program rebuilt unchanged against our compat pkg-config
#   nf-queue        upstream's example nf-queue.c (from libnetfilter-queue-dev's docs, not
#                   copied here) built unchanged against our compat pkg-config, on real traffic
#   dlopen-*        tests/compat/dlopen_prog.c loads the library by name, as ctypes does
#   plugin-*        tests/compat/nfnl_plugin.c, a shared object linked with ONLY -lnetfilter_queue
#                   that calls nfnl_open, nfq_open_nfnl, nfnl_rcvbufsiz, nfnl_fd, nfnl_close,
#                   dlopened (RTLD_NOW|RTLD_LOCAL, as CPython loads extension modules) by
#                   tests/compat/plugin_host.c and run on a live queue: with the real library,
#                   our .so.1 on LD_LIBRARY_PATH, LD_PRELOAD of our .so.1, LD_PRELOAD of
#                   libnfq_rs.so (same output, checked which library served each call), under
#                   valgrind (.so.1 and libnfq_rs.so); plugin-control: with the old layout (.so.1 a symlink to
#                   libnfq_rs.so.0) it fails to load with "undefined symbol: nfnl_*"
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
DROPIN=$COMPAT_LIB/libnetfilter_queue.so.1

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

# --- the drop-in ELF -----------------------------------------------------------------------
# check_dropin NAME REAL OURS SYMBOLS: OURS is what REAL is to the dynamic linker and to ld:
# a regular file with REAL's soname; every NEEDED of REAL's; exactly the names in SYMBOLS,
# unversioned, covering REAL's defined dynamic symbols with the same kind (function or data);
# no symbol of REAL's NEEDED libraries (which would shadow theirs); ldd finds all it needs.
# (The nflog drop-in is checked the same way: check_dropin dropin-elf-log REAL OURS SYMBOLS.)
needed_of() { readelf -dW "$1" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | sort -u; }
soname_of() { readelf -dW "$1" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p'; }
exports_of() { nm -D --defined-only "$1" | awk '{ sub(/@.*/, "", $3); print $3 }' | sort -u; }
# NAME KIND per export, KIND f (T/t/W/i) or d (B/D/R/V/...)
kinds_of() { nm -D --defined-only "$1" | awk '{ sub(/@.*/, "", $3); print $3, ($2 ~ /^[TtWi]$/ ? "f" : "d") }' | sort -u; }
check_dropin() {
    local name=$1 real=$2 ours=$3 symbols=$4 problems=() lib path dup
    if [ ! -f "$ours" ] || [ -L "$ours" ]; then
        fail "$name" "$ours is missing or a symlink, not the drop-in ELF"
        return
    fi
    [ "$(soname_of "$ours")" = "$(soname_of "$real")" ] ||
        problems+=("soname '$(soname_of "$ours")', upstream '$(soname_of "$real")'")
    local missing_needed
    missing_needed=$(comm -23 <(needed_of "$real") <(needed_of "$ours") | tr '\n' ' ')
    [ -z "$missing_needed" ] || problems+=("NEEDED missing: $missing_needed")
    local listed missing extra kinds versioned
    listed=$(grep -v -e '^[[:space:]]*$' -e '^#' "$symbols" | sort -u)
    missing=$(comm -23 <(exports_of "$real") <(exports_of "$ours") | tr '\n' ' ')
    [ -z "$missing" ] || problems+=("upstream exports missing: $missing")
    extra=$(comm -3 <(echo "$listed") <(exports_of "$ours") | tr -d '\t' | tr '\n' ' ')
    [ -z "$extra" ] || problems+=("exports differ from $(basename "$symbols"): $extra")
    kinds=$(comm -23 <(kinds_of "$real") <(kinds_of "$ours") | tr '\n' ' ')
    [ -z "$kinds" ] || problems+=("function/data kind differs: $kinds")
    versioned=$(nm -D --defined-only "$ours" | awk '{print $3}' | grep -c '@' || true)
    [ "$versioned" = 0 ] || problems+=("$versioned versioned exports")
    for lib in $(needed_of "$real"); do
        path=$(ldd "$real" | awk -v l="$lib" '$1 == l { print $3 }')
        case "$lib" in libc.so.*|ld-linux*) continue ;; esac
        if [ -z "$path" ]; then
            problems+=("upstream's NEEDED $lib not found")
            continue
        fi
        dup=$(comm -12 <(exports_of "$path") <(exports_of "$ours") | tr '\n' ' ')
        [ -z "$dup" ] || problems+=("exports $lib's symbols: $dup")
    done
    ! ldd "$ours" | grep -q 'not found' || problems+=("ldd: $(ldd "$ours" | grep 'not found' | tr '\n' ' ')")
    if [ "${#problems[@]}" = 0 ]; then
        pass "$name (soname $(soname_of "$ours"), NEEDED $(needed_of "$ours" | tr '\n' ' '); $(exports_of "$ours" | wc -l) exports)"
    else
        fail "$name" "${problems[*]}"
    fi
}
check_dropin dropin-elf "$REAL_LIB" "$DROPIN" "$ROOT/tests/compat/libnetfilter_queue.symbols"

# --- differential ----------------------------------------------------------------------
if cc -O1 -Wall -Wextra -Werror "$ROOT/tests/compat/diff_api.c" -o "$OUT/diff_api" -ldl &&
    "$OUT/diff_api" "$REAL_LIB" "$OURS" 3000 >"$OUT/diff_api.log" 2>&1 &&
    grep -q ' 0 failed' "$OUT/diff_api.log"; then
    pass "diff-api: $(tail -n1 "$OUT/diff_api.log")"
else
    fail diff-api "$(tail -n5 "$OUT/diff_api.log" 2>/dev/null)"
fi
if [ -x "$OUT/diff_api" ] && "$OUT/diff_api" "$REAL_LIB" "$DROPIN" 3000 >"$OUT/diff_api_dropin.log" 2>&1 &&
    grep -q ' 0 failed' "$OUT/diff_api_dropin.log"; then
    pass "diff-api-dropin: $(tail -n1 "$OUT/diff_api_dropin.log")"
else
    fail diff-api-dropin "$(tail -n5 "$OUT/diff_api_dropin.log" 2>/dev/null)"
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
run_legacy preload-dropin "$OUT/legacy.preload-dropin" env LD_PRELOAD="$DROPIN" "$OUT/legacy_real"
check_same legacy-ld-preload-dropin "$OUT/legacy.preload-dropin" "nfq_rs/compat/libnetfilter_queue.so.1"
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

# --- a plugin linked with only -lnetfilter_queue, dlopened ------------------------------------
# Built against the real library with nothing but -lnetfilter_queue: its nfnl_* references
# must be served through libnetfilter_queue.so.1's own NEEDED libnfnetlink.so.0.
PLUGIN=$OUT/nfnl_plugin.so
# shellcheck disable=SC2046
if cc -Wall -Wextra -Werror -shared -fPIC $(pkg-config --cflags libnetfilter_queue) \
    "$ROOT/tests/compat/nfnl_plugin.c" -o "$PLUGIN" -lnetfilter_queue 2>"$OUT/plugin.build.log" &&
    cc -Wall -Wextra -Werror "$ROOT/tests/compat/plugin_host.c" -o "$OUT/plugin_host" -ldl 2>>"$OUT/plugin.build.log"; then
    plugin_needed=$(needed_of "$PLUGIN" | tr '\n' ' ')
    if [[ "$plugin_needed" == *libnfnetlink* ]] || ! nm -D --undefined-only "$PLUGIN" | grep -q ' nfnl_close$'; then
        fail plugin-build "the plugin must NEED only libnetfilter_queue and leave nfnl_close undefined (NEEDED: $plugin_needed)"
    fi

    # run_plugin NAME ENV...: the host loads the plugin in a fresh namespace queueing UDP 42000
    # to queue 9; output in $OUT/plugin.NAME(.err); the host's status.
    run_plugin() {
        local name=$1 ns rc
        shift
        ns_new ns plugin || return 1
        ns_ipt "$ns" -A OUTPUT -p udp --dport 42000 -j NFQUEUE --queue-num 9 || return 1
        ns_exec "$ns" env "$@" "$OUT/plugin_host" "$PLUGIN" 9 42000 5 >"$OUT/plugin.$name" 2>"$OUT/plugin.$name.err"
        rc=$?
        ip netns del "$ns" 2>/dev/null
        return $rc
    }
    plugin_served() { awk -v f="$2" '$1 == "served-by:" && $2 == f { print $3 }' "$OUT/plugin.$1.err"; }
    # check_plugin NAME RC NFQ_LIB NFNL_FD_LIB: same stdout as the real run, the plugin's status 0,
    # nfq_open_nfnl served by a path containing NFQ_LIB, nfnl_fd by NFNL_FD_LIB, and nfnl_open
    # and nfnl_close always by the real libnfnetlink.
    check_plugin() {
        local name=$1 rc=$2 want_nfq=$3 want_fd=$4 got_nfq got_fd got_open got_close
        got_nfq=$(plugin_served "$name" nfq_open_nfnl)
        got_fd=$(plugin_served "$name" nfnl_fd)
        got_open=$(plugin_served "$name" nfnl_open)
        got_close=$(plugin_served "$name" nfnl_close)
        if [ "$rc" != 0 ]; then
            fail "plugin-$name" "exit $rc: $(tail -n3 "$OUT/plugin.$name.err" 2>/dev/null | tr '\n' ' ')"
        elif ! diff -u "$OUT/plugin.real" "$OUT/plugin.$name" >"$OUT/plugin.$name.diff"; then
            fail "plugin-$name" "output differs from the real library: $(head -n 12 "$OUT/plugin.$name.diff")"
        elif [[ "$got_nfq" != *"$want_nfq"* || "$got_fd" != *"$want_fd"* ||
                "$got_open" != *libnfnetlink.so.0 || "$got_close" != *libnfnetlink.so.0 ]]; then
            fail "plugin-$name" "served by: nfq_open_nfnl $got_nfq, nfnl_fd $got_fd, nfnl_open $got_open, nfnl_close $got_close"
        else
            pass "plugin-$name (same output; nfq_* from $got_nfq, nfnl_fd from $got_fd, nfnl_open/close from $got_open)"
        fi
    }

    run_plugin real
    rc=$?
    if [ "$rc" = 0 ] && grep -q '^seen=5$' "$OUT/plugin.real" && grep -q '^close=0$' "$OUT/plugin.real" &&
        [ "$(readlink -f "$(plugin_served real nfq_open_nfnl)")" = "$(readlink -f "$REAL_LIB")" ]; then
        pass "plugin-real (reference run, nfq_* from $(plugin_served real nfq_open_nfnl))"
    else
        fail plugin-real "exit $rc: $(tail -n3 "$OUT/plugin.real.err" 2>/dev/null | tr '\n' ' ')"
    fi
    run_plugin libpath LD_LIBRARY_PATH="$COMPAT_LIB"
    check_plugin libpath $? nfq_rs/compat/libnetfilter_queue.so.1 libnfnetlink.so.0
    run_plugin preload-dropin LD_PRELOAD="$DROPIN"
    check_plugin preload-dropin $? nfq_rs/compat/libnetfilter_queue.so.1 libnfnetlink.so.0
    # libnfq_rs.so's own nfnl_fd/nfnl_rcvbufsiz/nfnl_portid (for programs built against our .pc
    # without libnfnetlink) come first in a preload; they read the same fields as libnfnetlink's.
    run_plugin preload-rs LD_PRELOAD="$OURS"
    check_plugin preload-rs $? libnfq_rs.so libnfq_rs.so
    run_plugin valgrind LD_LIBRARY_PATH="$COMPAT_LIB" \
        valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite
    check_plugin valgrind $? nfq_rs/compat/libnetfilter_queue.so.1 libnfnetlink.so.0
    # nfq_close must release the adopted handle with libnfnetlink's nfnl_close even though that
    # sits only in the plugin's local scope (else the conntrack subsystem's memory leaks)
    run_plugin valgrind-preload-rs LD_PRELOAD="$OURS" \
        valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite
    check_plugin valgrind-preload-rs $? libnfq_rs.so libnfq_rs.so

    # The control: the layout this replaced (libnetfilter_queue.so.1 a symlink to libnfq_rs.so.0,
    # which NEEDs no libnfnetlink) cannot load the plugin. Proves the runs above would catch it.
    old=$OUT/old-layout
    mkdir -p "$old"
    ln -sfn "$STAGE/lib/libnfq_rs.so.0" "$old/libnetfilter_queue.so.1"
    ns_new ns plugin-control
    out=$(ns_exec "$ns" env LD_LIBRARY_PATH="$old" "$OUT/plugin_host" "$PLUGIN" 9 42000 0 2>&1)
    ip netns del "$ns" 2>/dev/null
    if [[ "$out" == *"undefined symbol: nfnl_"* ]]; then
        pass "plugin-control (old symlink layout: ${out%%$'\n'*})"
    else
        fail plugin-control "the old layout loaded the plugin: $out"
    fi
else
    fail plugin-build "$(head -n 5 "$OUT/plugin.build.log")"
fi

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

# --- libnetfilter_log: the drop-in ELF (soname, NEEDED and exports against upstream's) -------
check_dropin dropin-elf-log "$REAL_LOG_LIB" "$COMPAT_LIB/libnetfilter_log.so.1" "$ROOT/tests/compat/libnetfilter_log.symbols"
if ns_new ns nflogdiffso && ns_exec "$ns" "$OUT/diff_nflog" "$REAL_LOG_LIB" "$COMPAT_LIB/libnetfilter_log.so.1" 300 \
    >"$OUT/diff_nflog_dropin.log" 2>&1 && grep -q ' 0 failed' "$OUT/diff_nflog_dropin.log"; then
    pass "nflog-diff-dropin (the differential test against our libnetfilter_log.so.1): $(tail -n1 "$OUT/diff_nflog_dropin.log")"
else
    fail nflog-diff-dropin "$(tail -n12 "$OUT/diff_nflog_dropin.log" 2>/dev/null | cut -c1-300)"
fi
ip netns del "$ns" 2>/dev/null

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
