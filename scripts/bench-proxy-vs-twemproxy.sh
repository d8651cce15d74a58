#!/usr/bin/env bash
# Throughput of inmemory-proxy against twemproxy (nutcracker), both in front
# of the same two redis-server processes, measured with redis-benchmark on
# the same machine.
#
# Usage: scripts/bench-proxy-vs-twemproxy.sh [--rounds N] [--quick] [--pin] [--workloads "SET GET MSET"]
#                                            [--conns N] [--threads N]
#   --rounds N   runs per (workload, pipeline) and proxy; the median is shown (default 3)
#   --quick      1 round and a quarter of the request counts (a smoke run)
#   --pin        run both proxies on CPU 1, the two redis-servers and
#                redis-benchmark on CPU 0 (needs taskset and 2+ CPUs);
#                without it everything runs unpinned (the default comparison)
#   --workloads  subset of: SET GET MSET (default: all three)
#   --conns N    inmemory-proxy's --conns (connections per server; default 1,
#                as nutcracker's server_connections: 1 here)
#   --threads N  inmemory-proxy's --threads (default: not passed, so the
#                proxy's own default applies: half the CPUs, at least one;
#                and PROXY may be a build from before the option existed)
#   PROXY=<binary>  benchmark that inmemory-proxy binary instead of building this checkout
#   NUTCRACKER=<binary>  the nutcracker to run (default: the one in PATH or
#                /usr/sbin; Debian/Ubuntu: apt-get install nutcracker)
#
# nutcracker runs with `hash: fnv1a_64`, `distribution: ketama`,
# `server_connections: 1`, `redis: true`; inmemory-proxy with a servers.json
# of the same two servers (equal weights). redis-benchmark runs with -c 50
# at P1 and P16, keys from -r 100000. Both proxies place keys differently,
# so GET runs read keys preloaded on both servers (every key on each), and
# every run starts from servers emptied directly (FLUSHALL) plus that data.
# Runs alternate between the proxies (ours first in odd rounds, nutcracker
# first in even ones) so that background load affects both alike. The CPU
# time per request of each proxy process is shown too (user + system, all
# threads, from /proc/PID/stat). Works from any directory; kills every
# process it started on exit. Installs nothing.
set -euo pipefail

ROUNDS=3
QUICK=0
PIN=0
WORKLOADS="SET GET MSET"
CONNS=1
THREADS=""
CLIENTS=50
PIPELINES="1 16"

while [[ $# -gt 0 ]]; do
    case "$1" in
        --rounds) ROUNDS="${2:?--rounds needs a number}"; shift 2 ;;
        --quick) QUICK=1; ROUNDS=1; shift ;;
        --pin) PIN=1; shift ;;
        --workloads) WORKLOADS="${2:?--workloads needs a list}"; shift 2 ;;
        --conns) CONNS="${2:?--conns needs a number}"; shift 2 ;;
        --threads) THREADS="${2:?--threads needs a number}"; shift 2 ;;
        -h|--help) sed -n '2,/^set /{ /^#/p; }' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "unknown option: $1 (see --help)" >&2; exit 2 ;;
    esac
done
[[ "$ROUNDS" =~ ^[1-9][0-9]*$ ]] || { echo "--rounds must be a positive integer" >&2; exit 2; }
[[ "$CONNS" =~ ^[1-9][0-9]*$ ]] || { echo "--conns must be a positive integer" >&2; exit 2; }
[[ -z "$THREADS" || "$THREADS" =~ ^[0-9]+$ ]] || { echo "--threads must be a number" >&2; exit 2; }
for w in $WORKLOADS; do
    [[ $w == SET || $w == GET || $w == MSET ]] || { echo "unknown workload $w (SET GET MSET)" >&2; exit 2; }
done

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/bench-lib.sh
source "$ROOT/scripts/bench-lib.sh"
need_tools redis-benchmark redis-cli
need_redis_server
NUTCRACKER="${NUTCRACKER:-$(command -v nutcracker || true)}"
[[ -z $NUTCRACKER && -x /usr/sbin/nutcracker ]] && NUTCRACKER=/usr/sbin/nutcracker
if [[ ! -x "$NUTCRACKER" ]]; then
    echo "nutcracker (twemproxy) not found: install it (Debian/Ubuntu: apt-get install nutcracker)" >&2
    echo "or set NUTCRACKER=/path/to/nutcracker" >&2
    exit 1
fi
[[ $PIN == 1 ]] && need_pin
bench_init proxy

if [[ -n "${PROXY:-}" ]]; then
    PROXY_BIN="$PROXY"    # a given binary (e.g. built from another checkout)
else
    command -v cargo >/dev/null || { echo "cargo not found in PATH (or set PROXY)" >&2; exit 1; }
    echo "== building inmemory-proxy (release)" >&2
    (cd "$ROOT" && nice -n 19 cargo build --release --quiet -p inmemory-proxy)
    PROXY_BIN="$(release_dir)/inmemory-proxy"
fi
[[ -x "$PROXY_BIN" ]] || { echo "proxy binary not found at $PROXY_BIN" >&2; exit 1; }

PROXY_CPU=()
BACKEND_CPU=()
BENCH_CPU=()
if [[ $PIN == 1 ]]; then
    PROXY_CPU=(taskset -c 1)
    BACKEND_CPU=(taskset -c 0)
    BENCH_CPU=(taskset -c 0)
fi

# The two data servers.
BACKENDS=()
for i in 1 2; do
    p="$(free_port)"
    # Ports are chosen one at a time: take each as soon as it is found.
    "${BACKEND_CPU[@]}" "$REDIS_SERVER" --port "$p" --bind 127.0.0.1 --save "" --appendonly no \
        --daemonize no --loglevel warning --logfile "" >"$WORK/redis$i.log" 2>&1 &
    PIDS+=($!)
    wait_ready "$p"
    BACKENDS+=("$p")
done

# inmemory-proxy in front of them.
OURS_PORT="$(free_port)"
cat >"$WORK/servers.json" <<EOF
[
  { "addr": "127.0.0.1:${BACKENDS[0]}", "weight": 500 },
  { "addr": "127.0.0.1:${BACKENDS[1]}", "weight": 500 }
]
EOF
"${PROXY_CPU[@]}" "$PROXY_BIN" --servers "$WORK/servers.json" --addr 127.0.0.1 --port "$OURS_PORT" \
    --conns "$CONNS" ${THREADS:+--threads "$THREADS"} --loglevel warning >"$WORK/ours.log" 2>&1 &
OURS_PID=$!
PIDS+=("$OURS_PID")
wait_ready "$OURS_PORT"

# nutcracker in front of the same two.
TWEM_PORT="$(free_port)"
STATS_PORT="$(free_port)"
cat >"$WORK/nutcracker.yml" <<EOF
bench:
  listen: 127.0.0.1:$TWEM_PORT
  hash: fnv1a_64
  distribution: ketama
  redis: true
  server_connections: 1
  auto_eject_hosts: false
  timeout: 10000
  servers:
    - 127.0.0.1:${BACKENDS[0]}:1
    - 127.0.0.1:${BACKENDS[1]}:1
EOF
"${PROXY_CPU[@]}" "$NUTCRACKER" -c "$WORK/nutcracker.yml" -s "$STATS_PORT" -a 127.0.0.1 \
    -o "$WORK/nutcracker.log" -p "$WORK/nutcracker.pid" &
TWEM_PID=$!
PIDS+=("$TWEM_PID")
wait_ready "$TWEM_PORT"

# Request counts per run: about 2-5 s each on a small machine.
requests() { # workload pipeline
    local n
    case "$1:$2" in
        MSET:1) n=100000 ;;
        MSET:*) n=300000 ;;
        *:1) n=200000 ;;
        *) n=1000000 ;;
    esac
    [[ $QUICK == 1 ]] && n=$((n / 4))
    echo "$n"
}

workload_args() {
    case "$1" in
        SET) echo "-r 100000 -t set" ;;
        GET) echo "-r 100000 -t get" ;;
        MSET) echo "-r 100000 -t mset" ;; # 10 keys per MSET, split across both servers
    esac
}

# SETs of the 100,000 keys redis-benchmark -r 100000 names (key:%012d) to
# 3-byte values (redis-benchmark's default size), as redis-cli --pipe input.
keys_resp() {
    awk 'BEGIN { for (i = 0; i < 100000; i++) printf "*3\r\n$3\r\nSET\r\n$16\r\nkey:%012d\r\n$3\r\nxxx\r\n", i }'
}
keys_resp >"$WORK/keys.resp"

# Empties both servers directly and loads what workload $1 reads: for GET,
# every key on both servers, so it is found whichever server a proxy picks.
prepare() {
    local p
    for p in "${BACKENDS[@]}"; do
        redis-cli -h 127.0.0.1 -p "$p" FLUSHALL >/dev/null
        [[ $1 == GET ]] && redis-cli -h 127.0.0.1 -p "$p" --pipe <"$WORK/keys.resp" >/dev/null
    done
    return 0
}

# Clock ticks per second (for the `cpu_ticks` of bench-lib.sh).
CLK_TCK="$(getconf CLK_TCK)"

# One redis-benchmark run against the proxy on port $1 (process $4); prints
# requests per second, the proxy's CPU time per request in microseconds,
# and the p50 latency in ms.
run_one() { # port workload pipeline pid
    local n csv rps args c0 c1 p50 line
    n="$(requests "$2" "$3")"
    prepare "$2"
    read -ra args <<<"$(workload_args "$2")"
    c0="$(cpu_ticks "$4")"
    csv="$("${BENCH_CPU[@]}" redis-benchmark -h 127.0.0.1 -p "$1" -c "$CLIENTS" -P "$3" -n "$n" --csv "${args[@]}" 2>/dev/null)"
    c1="$(cpu_ticks "$4")"
    line="$(printf '%s\n' "$csv" | grep -v '^"test"' | tail -n1)"
    rps="$(printf '%s\n' "$line" | cut -d, -f2 | tr -d '"')"
    p50="$(printf '%s\n' "$line" | cut -d, -f5 | tr -d '"')"
    [[ "$p50" =~ ^[0-9.]+$ ]] || p50=0
    [[ "$rps" =~ ^[0-9.]+$ ]] || { echo "redis-benchmark gave no figure for $2 -P $3 on port $1: $csv" >&2; rps=0; }
    echo "$rps $(awk -v t=$((c1 - c0)) -v hz="$CLK_TCK" -v n="$n" 'BEGIN { printf "%.3f", t * 1e6 / hz / n }') $p50"
}

echo "== machine: $(uname -srm), $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'))"
echo "== load before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== redis: $("$REDIS_SERVER" --version | cut -d' ' -f3), $("$NUTCRACKER" -V 2>&1 | head -n1), ours: $PROXY_BIN --conns $CONNS${THREADS:+ --threads $THREADS}"
echo "== redis-benchmark -c $CLIENTS, pipelines: $PIPELINES, rounds: $ROUNDS (median), pinned: $([[ $PIN == 1 ]] && echo yes || echo no)"

declare -A OURS TWEM RATIO OURS_CPU TWEM_CPU OURS_P50 TWEM_P50
for round in $(seq 1 "$ROUNDS"); do
    for w in $WORKLOADS; do
        for p in $PIPELINES; do
            if ((round % 2)); then
                read -r o oc op <<<"$(run_one "$OURS_PORT" "$w" "$p" "$OURS_PID")"
                read -r t tc tp <<<"$(run_one "$TWEM_PORT" "$w" "$p" "$TWEM_PID")"
            else
                read -r t tc tp <<<"$(run_one "$TWEM_PORT" "$w" "$p" "$TWEM_PID")"
                read -r o oc op <<<"$(run_one "$OURS_PORT" "$w" "$p" "$OURS_PID")"
            fi
            OURS[$w:$p]="${OURS[$w:$p]:-} $o"
            TWEM[$w:$p]="${TWEM[$w:$p]:-} $t"
            OURS_CPU[$w:$p]="${OURS_CPU[$w:$p]:-} $oc"
            TWEM_CPU[$w:$p]="${TWEM_CPU[$w:$p]:-} $tc"
            OURS_P50[$w:$p]="${OURS_P50[$w:$p]:-} $op"
            TWEM_P50[$w:$p]="${TWEM_P50[$w:$p]:-} $tp"
            RATIO[$w:$p]="${RATIO[$w:$p]:-} $(awk -v o="$o" -v t="$t" 'BEGIN { if (t > 0) printf "%.4f", o / t; else print 0 }')"
            printf 'round %d  %-5s P=%-2s ours %10.0f  nutcracker %10.0f   proxy CPU us/req ours %6.2f  nutcracker %6.2f\n' \
                "$round" "$w" "$p" "$o" "$t" "$oc" "$tc" >&2
        done
    done
done

echo "== load after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
# ours/twem: ratio of the two medians; paired: median of the per-round
# ratios (each pair ran back to back, less sensitive to load drift).
# CPU us/req: the proxy process's CPU time per request, median; per-CPU:
# nutcracker's over ours (requests per proxy CPU second, ours/nutcracker).
# p50 ms: redis-benchmark's median latency, median over the rounds.
printf '%-5s %3s %12s %12s %10s %7s %8s %8s %8s %14s\n' workload P "ours req/s" "twem req/s" "ours/twem" paired \
    "ours us" "twem us" per-CPU "p50 ours/twem"
printf '%-5s %3s %12s %12s %10s %7s %8s %8s %8s %14s\n' ----- --- ------------ ------------ ---------- ------- \
    -------- -------- -------- --------------
declare -A GEO
for w in $WORKLOADS; do
    for p in $PIPELINES; do
        # shellcheck disable=SC2086
        o="$(median ${OURS[$w:$p]})"
        # shellcheck disable=SC2086
        t="$(median ${TWEM[$w:$p]})"
        ratio="$(ratio "$o" "$t")"
        # shellcheck disable=SC2086
        paired="$(median ${RATIO[$w:$p]})"
        # shellcheck disable=SC2086
        oc="$(median ${OURS_CPU[$w:$p]})"
        # shellcheck disable=SC2086
        tc="$(median ${TWEM_CPU[$w:$p]})"
        percpu="$(ratio "$tc" "$oc")"
        # shellcheck disable=SC2086
        p50="$(median ${OURS_P50[$w:$p]})/$(median ${TWEM_P50[$w:$p]})"
        printf '%-5s %3s %12.0f %12.0f %10s %7.2f %8.2f %8.2f %8s %14s\n' "$w" "$p" "$o" "$t" "$ratio" "$paired" "$oc" "$tc" "$percpu" "$p50"
        GEO[$p]="${GEO[$p]:-} $paired"
    done
done
echo
# Geometric mean of the paired ratios, per pipeline depth.
for p in $(printf '%s\n' "${!GEO[@]}" | sort -n); do
    # shellcheck disable=SC2086
    printf 'geomean P=%-2s %s\n' "$p" "$(geomean ${GEO[$p]})"
done
