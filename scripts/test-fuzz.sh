#!/usr/bin/env bash
# Fuzz smoke test: builds every target of fuzz/ exactly as `cargo fuzz build -O` does (same
# RUSTFLAGS and cargo arguments, so cargo-fuzz reuses the build; cargo-fuzz itself is not
# needed here) and runs each one for FUZZ_SECONDS (default 6) from the committed seed corpus.
# New inputs go to a scratch corpus under build/fuzz, never into fuzz/corpus; a crash leaves
# its input in build/fuzz/artifacts/<target>/ and fails the run.
#
#   scripts/test-fuzz.sh [TARGET-REGEX]        FUZZ_SECONDS=6 by default
#   make fuzz                                  the long run (cargo fuzz, 60 s per target)
#
# cargo-fuzz needs nightly-only flags (-Zsanitizer=address): on a stable toolchain
# RUSTC_BOOTSTRAP=1 enables them; the ASan runtime ships with the stable toolchain.
# Ends with "fuzz: N passed, M failed".
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export PATH="$HOME/.cargo/bin:$PATH"
SECS=${FUZZ_SECONDS:-6}
ONLY=${1:-}
OUT=$ROOT/build/fuzz
TRIPLE=$(rustc -vV | sed -n 's/^host: //p')
BIN=$ROOT/fuzz/target/$TRIPLE/release

export RUSTC_BOOTSTRAP=1
export ASAN_OPTIONS="detect_odr_violation=0${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
# The flags of `cargo fuzz build -O` (cargo-fuzz 0.13, default sanitizer address).
export RUSTFLAGS=" -Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares --cfg fuzzing -Cllvm-args=-simplifycfg-branch-fold-threshold=0 \
-Zsanitizer=address -Cllvm-args=-sanitizer-coverage-stack-depth -Ccodegen-units=1"
RUSTFLAGS=$(echo "$RUSTFLAGS" | tr -s ' ')

targets=$(sed -n 's/^name = "\(.*\)"$/\1/p' "$ROOT/fuzz/Cargo.toml" | grep -v '^nfq-rs-fuzz$')
if [ -n "$ONLY" ]; then targets=$(echo "$targets" | grep -E -- "$ONLY" || true); fi

t0=$(date +%s)
if ! cargo build --quiet --manifest-path "$ROOT/fuzz/Cargo.toml" --target "$TRIPLE" --release \
        --config 'profile.release.debug="line-tables-only"' --bins; then
    echo "fuzz: building the targets failed" >&2
    echo "fuzz: 0 passed, 1 failed"
    exit 1
fi
echo "fuzz: built $(echo "$targets" | wc -w) targets in $(($(date +%s) - t0))s; ${SECS}s each"

passed=0
failed=0
for t in $targets; do
    work=$OUT/corpus/$t
    art=$OUT/artifacts/$t
    rm -rf "$work" "$art"
    mkdir -p "$work" "$art"
    log=$OUT/$t.log
    # -timeout: one input taking more than 10 s is a hang; -rss_limit_mb: a leak or runaway.
    if "$BIN/$t" -max_total_time="$SECS" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
            -artifact_prefix="$art/" "$work" "$ROOT/fuzz/corpus/$t" >"$log" 2>&1; then
        runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
        cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n1)
        printf 'PASS  %-22s %8s runs  %s\n' "$t" "${runs:-?}" "$cov"
        passed=$((passed + 1))
    else
        printf 'FAIL  %-22s log: %s  crash input: %s\n' "$t" "$log" "$(ls "$art" | head -n1)"
        grep -E -A12 'panicked|ERROR: (AddressSanitizer|libFuzzer)' "$log" | head -n 30 | sed 's/^/      | /'
        failed=$((failed + 1))
    fi
done
echo "fuzz: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
