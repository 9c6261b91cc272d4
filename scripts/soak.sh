#!/usr/bin/env bash
# Soak: runs the I/O, time and stress test binaries RUNS times each, in rotating order, each
# run under a watchdog, with one worker count per round drawn from 1, 2, 3 and 8
# (oversubscribed on a 2-core machine). A hang is captured (every thread's stack, the
# process's sockets, the kernel's TCP counters) before the process is killed.
#
#   scripts/soak.sh [RUNS]          # RUNS rounds (default 20)
#
# Environment: SOAK_ONLY (a regular expression: only the binaries whose name matches, e.g.
# '^net' for the long run of docs/reliability.md), SOAK_TIMEOUT (seconds one test binary may run, default 180), SOAK_DIR (where
# failures and hang captures go, default target/soak), SPINDLE_STRESS_SCALE (default 0.1 here:
# the stress tests stay real but short; CI's full-size run is the test step).
#
# Prints one line at the end: `soak: R runs, F failures, H hangs` and, if any, where the
# first failing run's output is kept. Exits non-zero on any failure or hang.
set -uo pipefail
cd "$(dirname "$0")/.."

rounds=${1:-20}
limit=${SOAK_TIMEOUT:-180}
dir=${SOAK_DIR:-target/soak}
export SPINDLE_STRESS_SCALE=${SPINDLE_STRESS_SCALE:-0.1}
worker_counts=(1 2 3 8)

rm -rf "$dir"
mkdir -p "$dir"

echo "soak: building the test binaries"
binaries=()
while IFS= read -r path; do
    binaries+=("$path")
done < <(
    cargo test --no-run --message-format=json \
        -p spindle --test net --test net_many --test time --test stress --test coop \
        -p spindle-io --test tcp --test udp --test reactor 2>/dev/null |
        grep -o '"executable":"[^"]*"' | sed 's/^"executable":"//; s/"$//' | sort
)
if [[ ${#binaries[@]} -ne 8 ]]; then
    echo "soak: expected 8 test binaries, found ${#binaries[@]}: ${binaries[*]}" >&2
    exit 2
fi
if [[ -n ${SOAK_ONLY:-} ]]; then
    chosen=()
    for binary in "${binaries[@]}"; do
        if [[ $(basename "$binary" | sed 's/-[0-9a-f]*$//') =~ ${SOAK_ONLY} ]]; then
            chosen+=("$binary")
        fi
    done
    binaries=("${chosen[@]}")
    if [[ ${#binaries[@]} -eq 0 ]]; then
        echo "soak: SOAK_ONLY=${SOAK_ONLY} matches no test binary" >&2
        exit 2
    fi
fi

# Saves what a hung process is doing, then kills it.
capture_hang() {
    local pid=$1 out=$2
    mkdir -p "$out"
    if command -v gdb >/dev/null 2>&1; then
        timeout 60 gdb -p "$pid" -batch -ex "thread apply all bt" >"$out/stacks.txt" 2>&1
    else
        echo "gdb is not installed: no stacks" >"$out/stacks.txt"
    fi
    ss -tanpoi >"$out/sockets.txt" 2>&1
    nstat -az >"$out/nstat.txt" 2>&1
    kill -KILL "$pid" 2>/dev/null
}

runs=0 failures=0 hangs=0 first_failure=""
start=$SECONDS
for ((round = 0; round < rounds; round++)); do
    workers=${worker_counts[round % ${#worker_counts[@]}]}
    count=${#binaries[@]}
    for ((i = 0; i < count; i++)); do
        binary=${binaries[(i + round) % count]}
        name=$(basename "$binary" | sed 's/-[0-9a-f]*$//')
        log="$dir/run-${round}-${name}-w${workers}.log"
        SPINDLE_WORKER_THREADS=$workers "$binary" >"$log" 2>&1 &
        pid=$!
        waited=0
        while kill -0 "$pid" 2>/dev/null && ((waited < limit * 10)); do
            sleep 0.1
            ((waited++))
        done
        runs=$((runs + 1))
        if kill -0 "$pid" 2>/dev/null; then
            hangs=$((hangs + 1))
            capture_hang "$pid" "$dir/hang-${round}-${name}-w${workers}"
            wait "$pid" 2>/dev/null
            echo "soak: HANG round ${round} ${name} at ${workers} workers (capture in $dir/hang-${round}-${name}-w${workers})"
            [[ -n $first_failure ]] || first_failure=$log
            continue
        fi
        if wait "$pid"; then
            rm -f "$log"
        else
            failures=$((failures + 1))
            echo "soak: FAILED round ${round} ${name} at ${workers} workers (output in $log)"
            [[ -n $first_failure ]] || first_failure=$log
        fi
    done
done

summary="soak: ${runs} runs, ${failures} failures, ${hangs} hangs in $((SECONDS - start)) s"
if [[ -n $first_failure ]]; then
    echo "${summary}; first failing output: ${first_failure}"
    exit 1
fi
echo "${summary}"
