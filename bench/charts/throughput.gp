# Throughput: req/s per row at each connection count.
# Input: bench/throughput --data (row, connections, req/s, p50_us, p99_us), sorted by connections.
set terminal svg size 900,440 font "sans,12" background rgb "white"
set output out
set termoption noenhanced
set datafile separator "\t"
set title "wrk req/s, 1 worker (row @connections)"
set ylabel "requests per second"
set style fill solid 0.8 border -1
set boxwidth 0.7
set xtics rotate by 30 right noenhanced font ",10"
set yrange [0:*]
set grid ytics
plot data using 0:3:xticlabels(sprintf("%s @%s", strcol(1), strcol(2))) with boxes lc rgb "#4477aa" notitle
