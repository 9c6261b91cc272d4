#!/usr/bin/env bash
# Many workers on few cores: the scheduler rows (criterion) and the I/O rows (paired rounds)
# at each worker count in WORKER_COUNTS (default 1 2 4 8 16), for spindle, tokio and smol, each
# runtime with the same count. Prints, and writes to OUT_DIR/workers.csv, every row's median at
# every count and its ratio to the same runtime's time at 2 workers.
#
# Usage: bash benches/run_workers.sh [OUT_DIR]      (OUT_DIR defaults to target/workers)
# Env: WORKER_COUNTS; IO_ROUNDS (paired rounds of the I/O rows per count, default 5);
#      SCHED_SECONDS (criterion measurement time per scheduler row, default 3);
#      ROUNDS (default 1): sweeps of every count in turn. With more than one, each ratio is
#      the median over the sweeps of that sweep's time over the same sweep's 2-worker time, so
#      a slow phase of the host hits both sides of a ratio; the times printed are medians too.
# About 3 minutes per worker count and sweep on two cores.
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-target/workers}"
mkdir -p "$out"
counts="${WORKER_COUNTS:-1 2 4 8 16}"
io_rounds="${IO_ROUNDS:-5}"
sched_seconds="${SCHED_SECONDS:-3}"
rounds="${ROUNDS:-1}"
target="${CARGO_TARGET_DIR:-target}"
raw="$out/raw.csv"
echo "row,runtime,workers,median_ms,round" >"$raw"
sched_rows=(spawn_many_local spawn_many_worker spawn_many_remote yield_many ping_pong chained_spawn)

for round in $(seq 1 "$rounds"); do
for workers in $counts; do
    echo "== round $round, $workers workers" >&2
    BENCH_WORKERS=$workers cargo bench -q -p spindle-benches --bench scheduler -- \
        --warm-up-time 1 --measurement-time "$sched_seconds" --noplot \
        --save-baseline "w$workers" >/dev/null 2>&1
    for row in "${sched_rows[@]}"; do
        for runtime in spindle tokio smol; do
            ns=$(jq .median.point_estimate "$target/criterion/$row/$runtime/w$workers/estimates.json")
            echo "$row,$runtime,$workers,$(awk -v ns="$ns" 'BEGIN { printf "%.4f", ns / 1e6 }'),$round" >>"$raw"
        done
    done
    # "tcp_echo_rr paired, 5 rounds: median ms spindle 1.23, tokio 4.56, smol 7.89; ..."
    BENCH_WORKERS=$workers IO_PAIRED_ROUNDS=$io_rounds \
        cargo bench -q -p spindle-benches --bench io 2>/dev/null |
        sed -n 's/^\([a-z_]*\) paired.*median ms spindle \([0-9.]*\), tokio \([0-9.]*\), smol \([0-9.]*\);.*/\1 \2 \3 \4/p' |
        while read -r row spindle tokio smol; do
            echo "$row,spindle,$workers,$spindle,$round" >>"$raw"
            echo "$row,tokio,$workers,$tokio,$round" >>"$raw"
            echo "$row,smol,$workers,$smol,$round" >>"$raw"
        done
done
done

# Each row's time relative to the same runtime's at 2 workers in the same sweep, the median
# over the sweeps (and the median time), and the worst count per runtime.
awk -F, -v counts="$counts" -v rounds="$rounds" '
    NR == 1 { next }
    {
        t[$1 "," $2 "," $3 "," $5] = $4
        if (!($1 in seen)) { seen[$1] = 1; rows[++n] = $1 }
    }
    END {
        split(counts, c, " ")
        print "row,runtime," counts_header(c) ",worst_vs_2"
        for (i = 1; i <= n; i++) {
            split("spindle tokio smol", rts, " ")
            for (j = 1; j <= 3; j++) {
                key = rows[i] "," rts[j]
                line = key
                worst = 0
                for (k = 1; k in c; k++) {
                    m = 0
                    for (r = 1; r <= rounds; r++) {
                        base = t[key ",2," r]
                        v = t[key "," c[k] "," r]
                        if (base > 0 && v > 0) { m++; times[m] = v; ratios[m] = v / base }
                    }
                    v = median(times, m)
                    ratio = median(ratios, m)
                    line = line sprintf(",%.3f ms (%.2f)", v, ratio)
                    if (ratio > worst) worst = ratio
                }
                print line sprintf(",%.2f", worst)
            }
        }
    }
    function median(a, m,   x, y, tmp) {
        if (m == 0) return 0
        for (x = 2; x <= m; x++)
            for (y = x; y > 1 && a[y - 1] > a[y]; y--) { tmp = a[y]; a[y] = a[y - 1]; a[y - 1] = tmp }
        return (m % 2) ? a[(m + 1) / 2] : (a[m / 2] + a[m / 2 + 1]) / 2
    }
    function counts_header(c,   k, h) {
        for (k = 1; k in c; k++) h = h (k > 1 ? "," : "") c[k] " workers"
        return h
    }
' "$raw" | tee "$out/workers.csv"
