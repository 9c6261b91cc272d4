#!/usr/bin/env bash
# Miri over spindle's unsafe core: the task allocation, raw wakers, JoinHandle, the intrusive
# owned-task registry (and its walk by task dumps) and the LIFO slot (spindle-scheduler: unit,
# integration and doc tests, on real threads, including tests/misuse.rs and
# tests/observability.rs), and the timer's two unsafe sites (spindle-timer:
# tests/allocations.rs arms and drops Sleep and Timeout through the driver, which runs the
# pin projection in timeout.rs; the driver's unit tests run the owner's deferred cancel in
# driver.rs; and the slab's unit tests).
#
# The timing wheel's unit tests are skipped: the wheel is safe code (spindle-timer denies
# unsafe_code outside timeout.rs and driver.rs), and its tests' thousands of entries take Miri
# tens of minutes to interpret.
#
# Nothing here touches a socket: spindle-io and the facade need epoll, which Miri does not
# run; they are covered by the sanitizers (scripts/sanitize.sh). Under Miri the scheduler's
# queues are a lock-based stand-in (see crates/spindle-scheduler/src/queue.rs for why).
#
# Usage: scripts/miri.sh   (needs the nightly toolchain with the miri component)
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

run() {
    echo "::: miri: cargo +nightly miri test $*"
    cargo +nightly miri test --target-dir target/miri "$@"
}

run -p spindle-core
run -p spindle-scheduler
run -p spindle-timer --lib --test allocations -- --skip wheel::tests
