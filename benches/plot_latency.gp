# p99 latency against load, one line per runtime, one panel per workload, from the CSV that
# benches/run_latency.sh writes. Usage: gnuplot -e "csv='…'; png='…'" benches/plot_latency.gp
set datafile separator ','
set terminal pngcairo size 1100,450 font ',10'
set output png
set multiplot layout 1,2 title 'p99 latency under a fixed load, client in its own process (2 workers)'
set xlabel 'load (% of tokio''s peak)'
set ylabel 'p99 latency (µs)'
set logscale y
set key top left
set xrange [20:100]
set grid
do for [workload in 'http echo'] {
    set title workload
    plot for [rt in 'spindle tokio smol'] \
        '< awk -F, -v w='.workload.' -v r='.rt.' ''$1==w && $2==r && $3!="peak"'' '.csv \
        using 3:7 with linespoints lw 2 pt 7 title rt
}
unset multiplot
