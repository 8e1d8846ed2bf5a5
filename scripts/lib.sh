# Shared by scripts/demo.sh and scripts/test-c.sh (sourced, not run).
# Staged install, pkg-config builds, throwaway network namespaces and bounded waits.
# SPDX-License-Identifier: MIT OR Apache-2.0

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
STAGE=${NFQ_STAGE:-$ROOT/build/stage}
export PATH="$HOME/.cargo/bin:$PATH"
export PKG_CONFIG_PATH="$STAGE/lib/pkgconfig"

# Builds the library and installs it into $STAGE (the layout users get from `make install`).
stage_install() {
    local log
    log=$(mktemp)
    if ! make -C "$ROOT" --no-print-directory install PREFIX="$STAGE" >"$log" 2>&1; then
        cat "$log" >&2
        rm -f "$log"
        echo "staged install into $STAGE failed" >&2
        return 1
    fi
    rm -f "$log"
}

# cc_pc OUT SRC [extra flags...]: compiles a C source against the staged library via pkg-config.
cc_pc() {
    local out=$1 src=$2
    shift 2
    # shellcheck disable=SC2046
    ${CC:-cc} -std=c11 -Wall -Wextra -Werror -g "$@" $(pkg-config --cflags libnfq_rs) "$src" -o "$out" \
        $(pkg-config --libs libnfq_rs) -Wl,-rpath,"$STAGE/lib" -lpthread
}

# cxx_pc OUT SRC [extra flags...]: the same for C++17.
cxx_pc() {
    local out=$1 src=$2
    shift 2
    # shellcheck disable=SC2046
    ${CXX:-c++} -std=c++17 -Wall -Wextra -Werror -g "$@" $(pkg-config --cflags libnfq_rs) "$src" -o "$out" \
        $(pkg-config --libs libnfq_rs) -Wl,-rpath,"$STAGE/lib" -lpthread
}

# ---------------------------------------------------------------------------------------
# Network namespaces: unique names (prefix, $$, subshell pid, counter), deleted by ns_cleanup.
# Background processes started with bg_start are killed (by pid) by ns_cleanup as well.

NS_PREFIX=${NS_PREFIX:-nfqrs}
NS_COUNTER=0
NS_LIST=()
BG_PIDS=()

# ns_new VAR TAG: creates a namespace with lo up; stores its name in VAR.
ns_new() {
    local var=$1 tag=$2 name
    name="$NS_PREFIX-$tag-$$-${BASHPID}-$NS_COUNTER"
    NS_COUNTER=$((NS_COUNTER + 1))
    ip netns add "$name" || return 1
    NS_LIST+=("$name")
    ip -n "$name" link set lo up || return 1
    printf -v "$var" '%s' "$name"
}

# ns_exec NS CMD...: runs a command inside the namespace, bounded to 30 s.
ns_exec() {
    local ns=$1
    shift
    timeout 30 ip netns exec "$ns" "$@"
}

# ns_ipt NS RULE...: adds an iptables rule inside the namespace (never in the host's).
ns_ipt() {
    local ns=$1
    shift
    ns_exec "$ns" iptables -w 5 "$@"
}

# ns_rule_packets NS TABLE CHAIN POS: packet counter of rule POS (1-based).
ns_rule_packets() {
    ns_exec "$1" iptables -w 5 -t "$2" -L "$3" -v -n -x --line-numbers |
        awk -v pos="$4" '$1 == pos { print $2; found = 1 } END { if (!found) print -1 }'
}

# bg_start VAR CMD...: starts CMD in the background; stores its pid in VAR.
bg_start() {
    local var=$1
    shift
    "$@" &
    BG_PIDS+=($!)
    printf -v "$var" '%s' "$!"
}

# wait_for FILE PATTERN SECONDS: waits until FILE contains PATTERN (grep -E).
wait_for() {
    local file=$1 pat=$2 secs=$3 i
    for ((i = 0; i < secs * 20; i++)); do
        grep -Eq -- "$pat" "$file" 2>/dev/null && return 0
        sleep 0.05
    done
    echo "timed out after ${secs}s waiting for '$pat' in $file" >&2
    return 1
}

# wait_pid PID SECONDS: waits for a background process (started under `timeout`); its status.
wait_pid() {
    local pid=$1 secs=$2 i
    for ((i = 0; i < secs * 20; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.05
    done
    if kill -0 "$pid" 2>/dev/null; then
        echo "process $pid still running after ${secs}s; killing it" >&2
        kill -TERM "$pid" 2>/dev/null
        sleep 0.5
        kill -KILL "$pid" 2>/dev/null
    fi
    wait "$pid"
}

ns_cleanup() {
    local pid ns
    for pid in "${BG_PIDS[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "${BG_PIDS[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    BG_PIDS=()
    for ns in "${NS_LIST[@]}"; do
        ip netns del "$ns" 2>/dev/null || true
    done
    NS_LIST=()
}
