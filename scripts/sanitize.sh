#!/usr/bin/env bash
# AddressSanitizer (with LeakSanitizer) and ThreadSanitizer over spindle's tests, on the
# nightly toolchain: `-Zsanitizer=address`, and `-Zsanitizer=thread` with `-Zbuild-std` (a std
# built with TSan, so that its atomics and locks are seen; without it TSan reports races
# inside std's own synchronization).
#
# Usage:
#   scripts/sanitize.sh               the engine crates' unit tests, and the scheduler's
#                                     integration tests (no sockets: tasks, wakers, JoinHandle,
#                                     shutdown and misuse on real worker threads); what CI runs
#   scripts/sanitize.sh --workspace   every workspace crate's unit and integration tests
#
# Each sanitizer has its own target directory (target/asan, target/tsan). Any report fails
# the run. The one TSan suppression (crossbeam-deque's deliberate racy read of a slot it then
# validates) is in scripts/tsan-suppressions.txt, with its reason; ASan has none.
set -euo pipefail
cd "$(dirname "$0")/.."

TARGET=x86_64-unknown-linux-gnu
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
# Stress tests shrink to a tenth of their size under the sanitizers' 2-20x slowdown.
export SPINDLE_STRESS_SCALE="${SPINDLE_STRESS_SCALE:-0.1}"

# Each entry is one cargo test invocation's target selection.
tsan_extra=""
case "${1:-}" in
    "") scopes=(
        "-p spindle-scheduler -p spindle-timer -p spindle-io --lib"
        "-p spindle-scheduler --tests"
    ) ;;
    --workspace)
        scopes=("--workspace --lib --tests --no-fail-fast")
        # The process-wide default runtime is never dropped (it lives in a static), so the
        # worker and blocking-pool threads of the tests that use it are never joined, and TSan
        # reports them as leaked at exit. Thread leaks of runtimes that are dropped are checked
        # by crates/spindle/tests/stress.rs (a_thousand_runtimes_leak_no_thread_or_fd).
        tsan_extra=":report_thread_leaks=0"
        ;;
    *)
        echo "usage: $0 [--workspace]" >&2
        exit 2
        ;;
esac

step() {
    local name=$1
    shift
    echo "::: ${name}: $*"
    local start=$SECONDS
    "$@"
    echo "::: ${name} took $((SECONDS - start)) s"
}

# detect_leaks: LeakSanitizer at exit. halt_on_error: the first report fails the test binary.
asan() {
    for scope in "${scopes[@]}"; do
        echo "::: asan: cargo +nightly test ${scope}"
        # shellcheck disable=SC2086 # a scope is several words
        RUSTFLAGS="-Zsanitizer=address" ASAN_OPTIONS="detect_leaks=1:halt_on_error=1" \
            cargo +nightly test --target "${TARGET}" --target-dir target/asan ${scope}
    done
}

tsan() {
    for scope in "${scopes[@]}"; do
        echo "::: tsan: cargo +nightly test -Zbuild-std ${scope}"
        # shellcheck disable=SC2086 # a scope is several words
        RUSTFLAGS="-Zsanitizer=thread" \
            TSAN_OPTIONS="halt_on_error=1:suppressions=${PWD}/scripts/tsan-suppressions.txt${tsan_extra}" \
            cargo +nightly test -Zbuild-std --target "${TARGET}" --target-dir target/tsan ${scope}
    done
}

step asan asan
# CI sets this: its disk may not hold both sanitizers' targets (each with its own std) at once.
if [[ -n "${SPINDLE_SANITIZE_PRUNE:-}" ]]; then
    rm -rf target/asan
fi
step tsan tsan
