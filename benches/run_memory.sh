#!/usr/bin/env bash
# Idle-task memory: one process per runtime, release build, same worker count (BENCH_WORKERS,
# else one per core). Usage: bash benches/run_memory.sh [N]   (N defaults to 1_000_000)
# Prints one line per runtime:
#   runtime=<name> tasks=N rss_before_kib=... rss_after_kib=... bytes_per_task=...
set -euo pipefail
cd "$(dirname "$0")/.."
tasks="${1:-1000000}"
cargo build --release -q -p spindle-benches --bin idle_task_memory
bin="${CARGO_TARGET_DIR:-target}/release/idle_task_memory"
for runtime in spindle tokio smol; do
    "$bin" "$runtime" "$tasks" 2>/dev/null
done
