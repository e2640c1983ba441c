# plot_train.gnuplot — the training suite of bench_py.py (train.dat -> train.png).
# bench_py.py runs it as:  gnuplot -e "datafile='…/train.dat'; outfile='…/train.png'" plot_train.gnuplot
# Columns of train.dat: 1 engine, 2 frames/s (median), 3 peak RSS MiB (0: not measured).

if (!exists("datafile")) datafile = "build/bench-python/train.dat"
if (!exists("outfile")) outfile = "build/bench-python/train.png"

set terminal pngcairo size 1400,600 font "sans,10"
set output outfile
set datafile commentschars "#"
set style fill solid 0.85 border -1
set boxwidth 0.7
set xrange [-0.6:*]
set grid ytics lc rgb "#dddddd"
set xtics rotate by -30 scale 0 nomirror
set ytics nomirror
set key off
set offsets 0, 0.6, graph 0.12, 0
set rmargin 10

# vlstore paths in blue, the C loader in green, the peers in orange.
color(name) = (strstrt(name, "vlstore") > 0 || strstrt(name, "framebatches") > 0) ? 0x1f77b4 : \
              (strstrt(name, "c-loader") == 1) ? 0x2ca02c : 0xff7f0e

set multiplot layout 1,2 title "Training path from Python: one shuffled epoch, batches of 64 (details: train.md)" font "sans,12"
set title "Frames/s, arrays touched (higher is better)"
set yrange [0:*]
plot datafile using 0:2:(color(strcol(1))):xtic(1) with boxes lc rgb variable, \
     '' using 0:2:(sprintf("%.0f", $2)) with labels offset 0,0.7 font "sans,8"
set title "Peak RSS of the process (MiB, lower is better; C loader not measured)"
plot datafile using 0:3:(color(strcol(1))):xtic(1) with boxes lc rgb variable, \
     '' using 0:3:(sprintf("%.0f", $3)) with labels offset 0,0.7 font "sans,8"
unset multiplot
