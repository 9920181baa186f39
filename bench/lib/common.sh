# bench/lib/common.sh: shared helpers of bench/load, bench/rss and bench/coldstart/run (sourced).
# shellcheck shell=bash
#
# Everything a script starts is registered with bench_track and stopped by PID from the EXIT
# trap (bench_cleanup): TERM, a grace period, then KILL, for the tracked process and the children
# it had. Temp dirs made with bench_tmpdir are removed there too.

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
REPO_DIR="$(cd "$BENCH_DIR/.." && pwd)"
BUILD_DIR="${EDGEFN_BUILD_DIR:-$REPO_DIR/build/release}"
EDGEFN="$BUILD_DIR/runtime/edgefn"
NGINX="${NGINX:-/usr/sbin/nginx}"
BENCH_PIDS=()
BENCH_TMPDIRS=()

bench_log() { printf '%s\n' "$*" >&2; }
bench_die() {
  printf 'error: %s\n' "$*" >&2
  exit 1
}

# Configures $BUILD_DIR as a Release build when it is not one yet, then builds the targets
# (a no-op when they are up to date, so a stale binary is never measured).
bench_build() {
  if [[ ! -f "$BUILD_DIR/CMakeCache.txt" ]]; then
    bench_log "configuring a Release build in $BUILD_DIR"
    cmake -S "$REPO_DIR" -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release -DEDGEFN_TESTS=OFF >&2 ||
      bench_die "configure failed (run scripts/install-deps if mimalloc's source is missing)"
  fi
  local type
  type="$(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$BUILD_DIR/CMakeCache.txt")"
  [[ "$type" == Release ]] ||
    bench_log "warning: $BUILD_DIR is a '$type' build; figures are meant for Release"
  cmake --build "$BUILD_DIR" --target "$@" -j2 >&2 || bench_die "build failed: $*"
}

# Makes a temp dir removed at exit; its path is left in REPLY (no subshell, so the EXIT trap
# knows about it).
bench_tmpdir() {
  REPLY="$(mktemp -d "${TMPDIR:-/tmp}/edgefn-bench.XXXXXX")"
  BENCH_TMPDIRS+=("$REPLY")
}

# Processes must be started from the main shell (not inside $(...)): a subshell's list and
# trap are its own.
bench_track() { BENCH_PIDS+=("$@"); }

# Runs a command in the background and waits for it: unlike a foreground command, `wait` lets
# the INT/TERM trap run at once, and the cleanup then stops the command too. Returns its status.
bench_run() {
  local pid status=0 kept=() i
  "$@" &
  pid=$!
  bench_track "$pid"
  wait "$pid" || status=$?
  for i in "${BENCH_PIDS[@]}"; do [[ $i == "$pid" ]] || kept+=("$i"); done
  BENCH_PIDS=("${kept[@]}")
  return "$status"
}

# Direct children of a process (nginx's workers).
bench_children() { pgrep -P "$1" 2>/dev/null || true; }

# Stops one tracked process and the children it has now: TERM, up to 3 s, then KILL. The PID
# leaves the tracked list, so a later cleanup never signals a recycled PID.
bench_stop() {
  local pid="$1" kids i kept=()
  for i in "${BENCH_PIDS[@]}"; do [[ $i == "$pid" ]] || kept+=("$i"); done
  BENCH_PIDS=("${kept[@]}")
  kill -0 "$pid" 2>/dev/null || return 0
  kids="$(bench_children "$pid")"
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 300; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.01
  done
  if kill -0 "$pid" 2>/dev/null; then
    kill -KILL "$pid" 2>/dev/null || true
  fi
  for i in $kids; do kill -KILL "$i" 2>/dev/null || true; done
  wait "$pid" 2>/dev/null || true
}

bench_cleanup() {
  local pid dir
  for pid in "${BENCH_PIDS[@]}"; do bench_stop "$pid"; done
  for dir in "${BENCH_TMPDIRS[@]}"; do rm -rf -- "$dir"; done
  BENCH_TMPDIRS=()
}
trap bench_cleanup EXIT
trap 'exit 130' INT TERM

# A free loopback port below the ephemeral range (so wrk's and curl's own sockets never take
# it), never 8080.
bench_free_port() {
  local port i
  for ((i = 0; i < 200; i++)); do
    port=$((20000 + RANDOM % 12000))
    [[ $port == 8080 ]] && continue
    if [[ -z "$(ss -Htan "sport = :$port" 2>/dev/null)" ]]; then
      printf '%s\n' "$port"
      return 0
    fi
  done
  bench_die "no free port found"
}

# Waits until 127.0.0.1:$1 accepts a TCP connection (timeout $2 seconds, default 5).
bench_wait_port() {
  local port="$1" limit=$((${2:-5} * 100)) i
  for ((i = 0; i < limit; i++)); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
    sleep 0.01
  done
  return 1
}

# Starts edgefn in the background: bench_start_edgefn OUTDIR PORT WORKERS [CPU_LIST [MANIFEST]]
# (MANIFEST: bench/hello.toml by default). Waits for its ready line; sets EDGEFN_PID.
# stdout/stderr go to OUTDIR/edgefn-PORT.{out,err}.
bench_start_edgefn() {
  local dir="$1" port="$2" workers="$3" cpus="${4:-}" manifest="${5:-$BENCH_DIR/hello.toml}" i
  local out="$dir/edgefn-$port.out" err="$dir/edgefn-$port.err"
  local cmd=("$EDGEFN" serve "$manifest" --listen "127.0.0.1:$port"
    --admin 127.0.0.1:0 --workers "$workers")
  [[ -n "$cpus" ]] && cmd=(taskset -c "$cpus" "${cmd[@]}")
  env -i PATH=/usr/bin:/bin "${cmd[@]}" >"$out" 2>"$err" &
  EDGEFN_PID=$!
  bench_track "$EDGEFN_PID"
  for ((i = 0; i < 500; i++)); do
    if grep -q '"msg":"ready"' "$out" 2>/dev/null; then
      bench_wait_port "$port" 2 && return 0
    fi
    kill -0 "$EDGEFN_PID" 2>/dev/null || break
    sleep 0.01
  done
  bench_log "edgefn did not become ready; its output:"
  sed 's/^/  /' "$err" "$out" >&2
  return 1
}

# wrk prints latencies as 812.00us, 1.23ms, 2.00s; converts one to microseconds.
bench_to_us() {
  awk -v v="$1" 'BEGIN {
    n = v + 0
    if (v ~ /us$/) f = 1; else if (v ~ /ms$/) f = 1000; else if (v ~ /m$/) f = 60e6;
    else if (v ~ /s$/) f = 1e6; else f = 1
    printf "%.0f", n * f
  }'
}

# What a `wrk --latency` report says: bench_wrk_summary FILE prints "REQ/S P50_US P99_US
# REQUESTS ERRORS" (errors: non-2xx answers plus socket errors), or nothing when FILE holds no
# result.
bench_wrk_summary() {
  local file="$1" reqps requests errors
  reqps="$(awk '/^Requests\/sec:/ { print $2 }' "$file")"
  requests="$(awk '/ requests in / { print $1 }' "$file")"
  [[ -n $reqps && -n $requests && $requests -gt 0 ]] || return 0
  errors="$(awk '/^ *Non-2xx/ { e += $NF } /Socket errors/ {
      for (i = 1; i <= NF; i++) if ($i ~ /^[0-9]+,?$/) e += $i } END { print e + 0 }' "$file")"
  echo "$reqps $(bench_to_us "$(awk '$1 == "50%" { print $2 }' "$file")")" \
    "$(bench_to_us "$(awk '$1 == "99%" { print $2 }' "$file")")" "$requests $errors"
}

# Renders bench/nginx/nginx.conf.in into DIR: bench_nginx_conf DIR PORT WORKERS MASTER(on|off).
bench_nginx_conf() {
  local dir="$1" port="$2" workers="$3" master="$4" user=""
  if [[ $(id -u) == 0 ]]; then user="user $(id -un) $(id -gn);"; fi
  sed -e "s|@PREFIX@|$dir|g" -e "s|@PORT@|$port|g" -e "s|@WORKERS@|$workers|g" \
    -e "s|@MASTER@|$master|g" -e "s|@USER@|$user|g" \
    "$BENCH_DIR/nginx/nginx.conf.in" >"$dir/nginx.conf"
}

# Starts nginx in the foreground mode in the background: bench_start_nginx DIR PORT WORKERS
# [CPU_LIST]. Sets NGINX_PID (the master). Waits until the port accepts.
bench_start_nginx() {
  local dir="$1" port="$2" workers="$3" cpus="${4:-}"
  bench_nginx_conf "$dir" "$port" "$workers" on
  local cmd=("$NGINX" -p "$dir" -c "$dir/nginx.conf" -e "$dir/error.log")
  [[ -n "$cpus" ]] && cmd=(taskset -c "$cpus" "${cmd[@]}")
  env -i PATH=/usr/bin:/bin "${cmd[@]}" >"$dir/nginx.out" 2>&1 &
  NGINX_PID=$!
  bench_track "$NGINX_PID"
  if ! bench_wait_port "$port" 5; then
    bench_log "nginx did not start; its log:"
    sed 's/^/  /' "$dir/nginx.out" "$dir/error.log" >&2 2>/dev/null
    return 1
  fi
  # The workers may still be forking when the master's socket already accepts.
  local i
  for ((i = 0; i < 200; i++)); do
    [[ $(bench_children "$NGINX_PID" | wc -l) -ge $workers ]] && return 0
    sleep 0.01
  done
  return 0
}

# A process and its direct children: "PID CHILD...".
bench_process_tree() { printf '%s %s\n' "$1" "$(bench_children "$1" | tr '\n' ' ')"; }

# utime+stime in clock ticks, summed over the given PIDs (all threads of each).
bench_cpu_ticks() {
  local total=0 pid rest fields
  for pid in "$@"; do
    [[ -r /proc/$pid/stat ]] || continue
    rest="$(<"/proc/$pid/stat")"
    rest="${rest##*) }" # after "(comm) ": field 3 onwards, so utime (14) is index 11
    read -ra fields <<<"$rest"
    total=$((total + fields[11] + fields[12]))
  done
  printf '%s\n' "$total"
}

# "VmRSS VmHWM" in KiB, summed over the given PIDs.
bench_rss_kib() {
  local files=() pid
  for pid in "$@"; do files+=("/proc/$pid/status"); done
  awk '/^VmRSS:/ { rss += $2 } /^VmHWM:/ { hwm += $2 } END { printf "%d %d\n", rss, hwm }' \
    "${files[@]}"
}

# The lines every results file starts with: what ran, where, when.
bench_machine() {
  local cpu
  cpu="$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)"
  printf -- '- date: %s\n' "$(date -u '+%Y-%m-%d %H:%M UTC')"
  printf -- '- machine: %s, %s CPUs, kernel %s\n' "$cpu" "$(nproc)" "$(uname -r)"
  printf -- '- load average before the run: %s\n' "$(cut -d' ' -f1-3 /proc/loadavg)"
  printf -- '- edgefn: %s (%s)\n' "$(git -C "$REPO_DIR" rev-parse --short HEAD 2>/dev/null ||
    echo unknown)" "${BUILD_DIR#"$REPO_DIR"/}"
}
