#!/usr/bin/env bash
# Timer lateness on an idle runtime: one process per runtime, release build, same worker count
# (BENCH_WORKERS, else one per core). Usage: bash benches/run_lateness.sh [N]   (N defaults to 200)
# Each runtime sleeps 10 ms N times in a row on a worker; prints one line per runtime:
#   runtime=<name> samples=N p50_us=... p99_us=... max_us=...
set -euo pipefail
cd "$(dirname "$0")/.."
samples="${1:-200}"
cargo build --release -q -p spindle-benches --bin timer_lateness
bin="${CARGO_TARGET_DIR:-target}/release/timer_lateness"
for runtime in spindle tokio smol; do
    "$bin" "$runtime" "$samples"
done
