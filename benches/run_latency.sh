#!/usr/bin/env bash
# Latency under a fixed load, from a client in its own process (benches/src/bin/loadgen.rs)
# against a server in another (benches/src/bin/latency_server.rs), for spindle, tokio and smol,
# each server with BENCH_WORKERS workers (default: one per core).
#
# Usage: bash benches/run_latency.sh [OUT_DIR]      (OUT_DIR defaults to target/latency)
#
# For each workload (http: hyper hello-world over 64 keep-alive connections; echo: 64-byte
# round trips over 50 connections):
#   1. each runtime's peak: closed loop from the separate client (PEAK_SECONDS, default 10);
#   2. open loop at 30%, 60% and 90% of tokio's peak (LOADS), each round WARMUP seconds
#      (default 2) then SECONDS (default 10) recorded, the runtimes interleaved in a rotating
#      order.
# Every run starts a fresh server. Results: OUT_DIR/latency.csv (one row per run) and, if
# gnuplot is installed, OUT_DIR/latency.png (p99 against load, one line per runtime and
# workload; benches/plot_latency.gp).
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-target/latency}"
mkdir -p "$out"
seconds="${SECONDS_PER_RUN:-10}"
warmup="${WARMUP:-2}"
peak_seconds="${PEAK_SECONDS:-10}"
loads="${LOADS:-30 60 90}"
runtimes=(spindle tokio smol)
cargo build --release -q -p spindle-benches --bin loadgen --bin latency_server
bin="${CARGO_TARGET_DIR:-target}/release"
csv="$out/latency.csv"
echo "workload,runtime,load_pct,target_rps,achieved_rps,p50_us,p99_us,p999_us,max_us,server_cpu_us_per_request" >"$csv"

# run WORKLOAD RUNTIME CONNECTIONS RATE WARMUP SECONDS: one fresh server, one loadgen run;
# prints loadgen's line with the server's CPU time per request appended
# (server_cpu_us_per_request: its whole life's CPU time over the requests sent in it).
run() {
    local workload=$1 runtime=$2 connections=$3 rate=$4 warm=$5 secs=$6
    coproc SERVER { "$bin/latency_server" "$runtime" "$workload"; }
    local addr line cpu
    read -r -u "${SERVER[0]}" addr
    line=$("$bin/loadgen" "$workload" "$addr" --connections "$connections" --rate "$rate" \
        --warmup "$warm" --duration "$secs")
    # A copy of the server's stdout: bash closes the coprocess's own when it exits.
    local out
    exec {out}<&"${SERVER[0]}"
    eval "exec ${SERVER[1]}>&-"
    read -r -u "$out" cpu || cpu=cpu_ms=0
    exec {out}<&-
    wait "$SERVER_PID" || true
    # Requests sent: the achieved rate over the recorded seconds, the same rate in the warm-up.
    local achieved
    achieved=$(field achieved_rps "$line")
    echo "$line $(awk -v cpu="${cpu#cpu_ms=}" -v rps="$achieved" -v s="$((warm + secs))" \
        'BEGIN { printf "server_cpu_us_per_request=%.2f", (rps > 0 ? cpu * 1000 / (rps * s) : 0) }')"
}

field() { sed -n "s/.*$1=\([0-9.]*\).*/\1/p" <<<"$2"; }

for workload in http echo; do
    if [[ $workload == http ]]; then connections=64; else connections=50; fi
    declare -A peak=()
    for runtime in "${runtimes[@]}"; do
        line=$(run "$workload" "$runtime" "$connections" 0 1 "$peak_seconds")
        echo "peak $runtime $line"
        peak[$runtime]=$(field achieved_rps "$line")
        echo "$workload,$runtime,peak,0,$(field achieved_rps "$line"),$(field p50_us "$line"),$(field p99_us "$line"),$(field p999_us "$line"),$(field max_us "$line"),$(field server_cpu_us_per_request "$line")" >>"$csv"
    done
    round=0
    for load in $loads; do
        rate=$((peak[tokio] * load / 100))
        for offset in 0 1 2; do
            runtime=${runtimes[$(((round + offset) % 3))]}
            line=$(run "$workload" "$runtime" "$connections" "$rate" "$warmup" "$seconds")
            echo "load ${load}% $runtime $line"
            echo "$workload,$runtime,$load,$rate,$(field achieved_rps "$line"),$(field p50_us "$line"),$(field p99_us "$line"),$(field p999_us "$line"),$(field max_us "$line"),$(field server_cpu_us_per_request "$line")" >>"$csv"
        done
        round=$((round + 1))
    done
done
echo "results: $csv"
if command -v gnuplot >/dev/null; then
    gnuplot -e "csv='$csv'; png='$out/latency.png'" benches/plot_latency.gp
    echo "plot: $out/latency.png"
fi
