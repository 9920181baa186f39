# Function cold start: a function's first request after start vs its 100th, p50 in µs.
# Input: bench/function-coldstart --data (function, first_p50_us, hundredth_p50_us, ratio).
set terminal svg size 700,400 font "sans,12" background rgb "white"
set output out
set termoption noenhanced
set datafile separator "\t"
set title "First request to a function vs its 100th (p50)"
set ylabel "µs"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set yrange [0:*]
set grid ytics
set key top left
plot data using 2:xticlabels(1) title "first" lc rgb "#cc6677", \
     '' using 3 title "100th" lc rgb "#4477aa"
