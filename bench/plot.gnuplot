# plot.gnuplot — bar charts of a vls_bench run (bench/results.dat -> bench/results.png).
# vls_bench runs it as:  gnuplot -e "datafile='…/results.dat'; outfile='…/results.png'" plot.gnuplot
# By hand, from the repository root:  gnuplot bench/plot.gnuplot
# Columns of results.dat: 1 engine, 2 write MB/s, 3 ratio, 4 scan MB/s, 5 epoch records/s,
# 6 get p50 us, 7 get p99 us, 8 cold p50 us, 9 size MiB, 10 block epoch records/s (the
# loader's order and batches; vlstore engines through the loader). Column 5 is the random epoch.
# Missing values are NaN.

if (!exists("datafile")) datafile = "bench/results.dat"
if (!exists("outfile")) outfile = "bench/results.png"

set terminal pngcairo size 1500,1000 font "sans,10"
set output outfile
set datafile commentschars "#"
set datafile missing "NaN"

set style fill solid 0.85 border -1
set boxwidth 0.7
set xrange [-0.6:*]
set grid ytics lc rgb "#dddddd"
set xtics rotate by -35 scale 0 nomirror
set ytics nomirror
set key off
set offsets 0, 0.6, graph 0.12, 0

# vlstore variants in blue, peers in orange, limits in grey.
color(name) = (strstrt(name, "vlstore") == 1) ? 0x1f77b4 : \
              ((strstrt(name, "raw-") == 1) ? 0x8c8c8c : 0xff7f0e)

set multiplot layout 2,2 title "vlstore benchmark (settings and machine: results.md)" font "sans,12"

set title "Epoch in batches of 64 (records/s, log scale, higher is better): left random order, right (dark) the loader's block-shuffled order"
set logscale y
set yrange [*:*]
# two bars per engine: the random epoch (left) and the block epoch (right, dark)
plot datafile using ($0-0.18):5:(0.36):(color(strcol(1))):xtic(1) with boxes lc rgb variable, \
     '' using ($0-0.18):5:(sprintf("%.0f", $5)) with labels rotate by 90 left offset 0,0.3 font "sans,7", \
     '' using ($0+0.18):10:(0.36) with boxes lc rgb 0x0b3d62, \
     '' using ($0+0.18):10:(sprintf("%.0f", $10)) with labels rotate by 90 left offset 0,0.3 font "sans,7"

unset logscale y
set yrange [0:*]
set title "Write, durable (MB/s, higher is better)"
plot datafile using 0:2:(color(strcol(1))):xtic(1) with boxes lc rgb variable, \
     '' using 0:2:(sprintf("%.0f", $2)) with labels offset 0,0.7 font "sans,8"

set title "Compression ratio (record bytes / file bytes)"
plot datafile using 0:3:(color(strcol(1))):xtic(1) with boxes lc rgb variable, \
     '' using 0:3:(sprintf("%.2f", $3)) with labels offset 0,0.7 font "sans,8"

set title "Warm sequential scan (MB/s, higher is better)"
plot datafile using 0:4:(color(strcol(1))):xtic(1) with boxes lc rgb variable, \
     '' using 0:4:(sprintf("%.0f", $4)) with labels offset 0,0.7 font "sans,8"

unset multiplot
