# plot.gnuplot — bar charts of a bench_py.py run (results.dat -> results.png).
# bench_py.py runs it as:  gnuplot -e "datafile='…/results.dat'; outfile='…/results.png'" plot.gnuplot
# By hand, from the repository root:  gnuplot bench/python/plot.gnuplot
# Columns of results.dat: 1 engine, 2 write MB/s, 3 ratio, 4 get p50 us, 5 get p99 us,
# 6 epoch records/s, 7 size MiB.

if (!exists("datafile")) datafile = "bench/python/results.dat"
if (!exists("outfile")) outfile = "bench/python/results.png"

set terminal pngcairo size 1400,950 font "sans,10"
set output outfile
set datafile commentschars "#"
set datafile missing "NaN"

set style fill solid 0.85 border -1
set boxwidth 0.7
set xrange [-0.6:*]
set grid ytics lc rgb "#dddddd"
set xtics rotate by -30 scale 0 nomirror
set ytics nomirror
set key off
set offsets 0, 0.6, graph 0.12, 0

# vlstore variants in blue, the other tools in orange.
color(name) = (strstrt(name, "vlstore") == 1) ? 0x1f77b4 : 0xff7f0e

set multiplot layout 2,2 title "vlstore from Python vs h5py, msgpack, lmdb (details: results.md)" font "sans,12"

set title "Shuffled epoch, batches of 64, decoded (records/s, log scale, higher is better)"
set logscale y
set yrange [*:*]
plot datafile using 0:6:(color(strcol(1))):xtic(1) with boxes lc rgb variable, \
     '' using 0:6:(sprintf("%.0f", $6)) with labels offset 0,0.7 font "sans,8"

set title "Random get p50, decoded (microseconds, log scale, lower is better)"
plot datafile using 0:4:(color(strcol(1))):xtic(1) with boxes lc rgb variable, \
     '' using 0:4:(sprintf("%.1f", $4)) with labels offset 0,0.7 font "sans,8"

unset logscale y
set yrange [0:*]
set title "Write from numpy arrays, durable (MB/s, higher is better)"
plot datafile using 0:2:(color(strcol(1))):xtic(1) with boxes lc rgb variable, \
     '' using 0:2:(sprintf("%.0f", $2)) with labels offset 0,0.7 font "sans,8"

set title "Compression ratio (record bytes / disk bytes, higher is better)"
plot datafile using 0:3:(color(strcol(1))):xtic(1) with boxes lc rgb variable, \
     '' using 0:3:(sprintf("%.2f", $3)) with labels offset 0,0.7 font "sans,8"

unset multiplot
