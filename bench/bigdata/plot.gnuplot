# plot.gnuplot — records/s per engine and order (bars, log scale), with each profile's limit
# (min(read bandwidth x ratio / mean record, decode ceiling)) as a line. run.sh passes
# datafile (rows: "profile/engine-order records_per_s limit") and outfile.
set terminal pngcairo size 1100,520 noenhanced
set output outfile
set title "vlstore bigger than memory: records/s per engine (cgroup memory limit, throttled reads)"
set style data histogram
set style fill solid 0.8 border -1
set boxwidth 0.8
set logscale y
set ylabel "records/s (log)"
set xtics rotate by -40 font ",9"
set grid ytics
set key top right
plot datafile using 2:xtic(1) title "records/s" lc rgb "#3a78b5", \
     '' using 0:3 with linespoints lw 2 pt 7 lc rgb "#c0392b" title "limit (loader order)"
