# Process cold start, exec -> first response: p50 bars with p90 as the error bar's top, one per
# command. Input: bench/coldstart/run --data (label, min, p50, p90, p99, max, ready, response).
set terminal svg size 900,420 font "sans,12" background rgb "white"
set output out
set termoption noenhanced
set datafile separator "\t"
set title "Process cold start: exec → first response (p50, bar to p90)"
set ylabel "ms (log scale)"
set style fill solid 0.8 border -1
set boxwidth 0.6
set xtics rotate by 30 right noenhanced
set logscale y
set offsets 0.5, 0.5, 0, 0
set lmargin 14
set yrange [0.5:*]
set grid ytics
# boxerrorbars with 5 columns: x, y, ylow, yhigh, box width.
plot data using 0:3:3:4:(0.6):xticlabels(1) with boxerrorbars lc rgb "#4477aa" notitle
