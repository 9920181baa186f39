# Cold start against the number of functions in the manifest.
# Input: bench/scaling --data (functions, p50_ms, p90_ms, ready_p50_ms, no_schema_p50_ms).
set terminal svg size 700,400 font "sans,12" background rgb "white"
set output out
set termoption noenhanced
set datafile separator "\t"
set title "Cold start with 1 to 1,000 functions"
set xlabel "functions in the manifest"
set ylabel "ms"
set logscale x
set yrange [0:*]
set grid
set key top left
plot data using 1:2 with linespoints lw 2 pt 7 lc rgb "#4477aa" title "exec → first response, p50", \
     '' using 1:4 with linespoints lw 2 pt 5 lc rgb "#228833" title "exec → ready, p50", \
     '' using 1:5 with linespoints lw 2 pt 9 lc rgb "#ee6677" title "exec → first response, no body_schema, p50"
