#!/usr/bin/env bash
# Idle-task memory: one process per runtime and mode, release build, same worker count
# (BENCH_WORKERS, else one per core). Usage: bash benches/run_memory.sh [N]   (N defaults to 1_000_000)
# Modes: pending (each task awaits std::future::pending()) and sleeping (each task awaits the
# runtime's own 1-hour sleep). Prints one line per runtime and mode:
#   runtime=<name> mode=<pending|sleeping> tasks=N rss_before_kib=... rss_after_kib=... bytes_per_task=...
set -euo pipefail
cd "$(dirname "$0")/.."
tasks="${1:-1000000}"
cargo build --release -q -p spindle-benches --bin idle_task_memory
bin="${CARGO_TARGET_DIR:-target}/release/idle_task_memory"
for mode in "" --sleeping; do
    for runtime in spindle tokio smol; do
        # shellcheck disable=SC2086 # $mode is empty or one flag
        "$bin" "$runtime" "$tasks" $mode 2>/dev/null
    done
done
