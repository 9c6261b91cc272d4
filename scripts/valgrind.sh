#!/usr/bin/env bash
# valgrind's memcheck over the shutdown tests: every runtime dropped there (with tasks
# pending, sleeping, blocked on sockets, mid-poll, panicking in Drop, or dropped from inside
# one of its own tasks) must free everything it allocated. Fails on any memcheck error or any
# definitely lost block. ("Possibly lost" blocks are glibc's cached thread stacks and TLS.)
#
# Usage: scripts/valgrind.sh   (needs valgrind; builds the debug test binaries)
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
# The stress test's rounds, at valgrind's 20-50x slowdown.
export SPINDLE_STRESS_SCALE="${SPINDLE_STRESS_SCALE:-0.1}"

# test binary name, then the tests to run in it (each alone, by exact name)
cases=(
    "runtime shutdown_drops_pending_tasks_and_cancels_their_handles"
    "runtime shutdown_timeout_returns_while_a_task_blocks_its_worker"
    "runtime dropping_a_runtime_inside_its_own_task_does_not_deadlock"
    "runtime spawn_on_a_handle_whose_runtime_is_gone_is_cancelled"
    "time shutdown_drops_sleeping_tasks"
    "stress shutdown_while_tasks_poll_sleep_and_wait_on_io"
    "misuse a_future_that_panics_in_drop_becomes_a_join_error"
    "misuse a_waker_used_after_its_runtime_is_gone_is_a_no_op"
)

executable() {
    cargo test -p spindle --test "$1" --no-run 2>&1 |
        sed -n "s/^ *Executable tests\/$1\.rs (\(.*\))$/\1/p"
}

for case in "${cases[@]}"; do
    read -r binary test <<<"${case}"
    path=$(executable "${binary}")
    echo "::: valgrind: ${binary} ${test}"
    # --fair-sched=yes: valgrind runs one thread at a time, and its default lock lets a
    # thread spinning on a flag (a test waiting for tasks to park) starve the others for
    # minutes; a CI run once spent 300 s in a test that takes 4.
    valgrind --quiet --fair-sched=yes --leak-check=full --errors-for-leak-kinds=definite --error-exitcode=99 \
        "${path}" --exact "${test}" --test-threads=1
done
