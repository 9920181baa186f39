# Memory: RSS of each row and server.
# Input: bench/memory --data (row, server, rss_kib, pss_kib, extra).
set terminal svg size 800,420 font "sans,12" background rgb "white"
set output out
set termoption noenhanced
set datafile separator "\t"
set title "Resident memory (RSS)"
set ylabel "MiB"
set style fill solid 0.8 border -1
set boxwidth 0.6
set xtics rotate by 30 right noenhanced font ",10"
set yrange [0:*]
set grid ytics
plot data using 0:($3/1024):xticlabels(sprintf("%s, %s", strcol(2), strcol(1))) with boxes lc rgb "#4477aa" notitle
