#!/usr/bin/env bash
# Throughput of inmemory-server against a real redis-server, measured with
# redis-benchmark on the same machine.
#
# Usage: scripts/bench-vs-redis.sh [--rounds N] [--quick] [--pin] [--workloads "SET GET ..."]
#                                   [--aof everysec|always] [--idle-conns N]
#   --rounds N   runs per (workload, pipeline) and server; the median is shown (default 3)
#   --quick      1 round and a quarter of the request counts (a smoke run)
#   --pin        run both servers on CPU 1 and redis-benchmark on CPU 0
#                (same core budget for both servers; needs taskset and 2+ CPUs);
#                without it both run unpinned (the default-settings comparison)
#   --aof POLICY both servers with --appendonly yes --appendfsync POLICY, their
#                files in the same temporary directory (same disk)
#   --idle-conns N  also open N idle connections to each server and report the
#                memory each costs (RSS and used_memory growth divided by N)
#   --workloads  subset of: SET GET LPUSH LINDEX HSET HGET MSET LRANGE_100
#                SADD SPOP ZADD ZPOPMIN ZRANGE_100 ZADD_1M EVALSHA_1 EVALSHA_10
#                XADD XADD_MAXLEN XRANGE_100 XREADGROUP_10 XREADGROUP_100
#                SETBIT_1M GETBIT_1M BITCOUNT_1M PFADD PFCOUNT_10 GEOADD
#                GEOSEARCH_1M SET_1K GET_1K SET_64K GET_64K SET_10M GET_10M
#                SET_C2000 GET_C2000
#                (default: the first eight; --workloads sets runs the six
#                set/sorted-set ones, --workloads scripts the two EVALSHA ones,
#                --workloads streams the five stream ones, bitmap, hll,
#                geo theirs, and --workloads growth the last eight)
#   OURS=<binary>  benchmark that binary instead of building this checkout
#
# SET GET MSET use -r 100000 (GET on 100,000 preloaded keys). Growth
# workloads: *_1K and *_64K are SET/GET of 1 KiB and 64 KiB values (-d)
# over 100,000 and 1,000 keys; *_10M run with -r 10000000 on 10,000,000 keys
# preloaded once per server (kept between those runs); *_C2000 use 2,000
# connections instead of 50.
#
# Both servers listen on free ports on 127.0.0.1, without persistence
# (redis: --save "" --appendonly no) unless --aof is given. Runs alternate between the servers
# (ours first in odd rounds, redis first in even ones) so that background
# load affects both alike. Every run starts from an empty database plus the
# data its workload reads. Works from any directory; kills both servers on exit.
#
# Streams: XADD appends `* f1 v1 f2 v2 f3 v3` to one key that starts empty in
# every run (so both servers append the same number of entries to the same
# fresh stream); XADD_MAXLEN does the same with `MAXLEN ~ 10000`; XRANGE_100
# is `XRANGE benchstream - + COUNT 100` on 1,000 preloaded entries.
# XREADGROUP_n is not redis-benchmark (which cannot chain commands) but
# scripts/stream-consumer.rs, built with rustc: 8 consumers of one group
# drain a preloaded stream with XREADGROUP ... COUNT n STREAMS key >, each
# sending the XACK of its last batch in the same write as its next read;
# the figure is entries read and acknowledged per second (shown under P 1).
set -euo pipefail

ROUNDS=3
QUICK=0
PIN=0
AOF=""
IDLE_CONNS=0
WORKLOADS="SET GET LPUSH LINDEX HSET HGET MSET LRANGE_100"
CLIENTS=50
PIPELINES="1 16"

while [[ $# -gt 0 ]]; do
    case "$1" in
        --rounds) ROUNDS="${2:?--rounds needs a number}"; shift 2 ;;
        --quick) QUICK=1; ROUNDS=1; shift ;;
        --pin) PIN=1; shift ;;
        --aof) AOF="${2:?--aof needs everysec or always}"; shift 2
            [[ $AOF == everysec || $AOF == always || $AOF == no ]] || { echo "--aof: everysec, always or no" >&2; exit 2; } ;;
        --idle-conns) IDLE_CONNS="${2:?--idle-conns needs a number}"; shift 2 ;;
        --workloads) WORKLOADS="${2:?--workloads needs a list}"; shift 2
            [[ $WORKLOADS == sets ]] && WORKLOADS="SADD SPOP ZADD ZPOPMIN ZRANGE_100 ZADD_1M"
            [[ $WORKLOADS == scripts ]] && WORKLOADS="EVALSHA_1 EVALSHA_10"
            [[ $WORKLOADS == streams ]] && WORKLOADS="XADD XADD_MAXLEN XRANGE_100 XREADGROUP_10 XREADGROUP_100"
            [[ $WORKLOADS == bitmap ]] && WORKLOADS="SETBIT_1M GETBIT_1M BITCOUNT_1M"
            [[ $WORKLOADS == hll ]] && WORKLOADS="PFADD PFCOUNT_10"
            [[ $WORKLOADS == geo ]] && WORKLOADS="GEOADD GEOSEARCH_1M"
            [[ $WORKLOADS == growth ]] && WORKLOADS="SET_1K GET_1K SET_64K GET_64K SET_10M GET_10M SET_C2000 GET_C2000" ;;
        -h|--help) sed -n '2,/^set /{ /^#/p; }' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "unknown option: $1 (see --help)" >&2; exit 2 ;;
    esac
done
[[ "$ROUNDS" =~ ^[1-9][0-9]*$ ]] || { echo "--rounds must be a positive integer" >&2; exit 2; }

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/bench-lib.sh
source "$ROOT/scripts/bench-lib.sh"
need_tools redis-benchmark redis-cli cargo
need_redis_server
[[ $PIN == 1 ]] && need_pin
bench_init vs-redis

if [[ -n "${OURS:-}" ]]; then
    OURS_BIN="$OURS"    # a given binary (e.g. built from another checkout)
else
    echo "== building inmemory-server (release)" >&2
    (cd "$ROOT" && cargo build --release --quiet --bin inmemory-server)
    OURS_BIN="$(release_dir)/inmemory-server"
fi
[[ -x "$OURS_BIN" ]] || { echo "built binary not found at $OURS_BIN" >&2; exit 1; }

CONSUMER_BIN="$WORK/stream-consumer"
if [[ " $WORKLOADS " == *" XREADGROUP_"* ]]; then
    command -v rustc >/dev/null || { echo "rustc not found (needed by the XREADGROUP workloads)" >&2; exit 1; }
    echo "== building scripts/stream-consumer.rs" >&2
    rustc -O --edition 2021 -o "$CONSUMER_BIN" "$ROOT/scripts/stream-consumer.rs"
fi

SERVER_CPU=()
BENCH_CPU=()
if [[ $PIN == 1 ]]; then
    SERVER_CPU=(taskset -c 1)
    BENCH_CPU=(taskset -c 0)
fi

# 2,000 connections (and the idle ones) need descriptors on both sides.
ulimit -n 20000 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

PERSIST=(--appendonly no)
[[ -n $AOF && $AOF != no ]] && PERSIST=(--appendonly yes --appendfsync "$AOF")

OURS_PORT="$(free_port)"
mkdir -p "$WORK/ours" "$WORK/redis"
"${SERVER_CPU[@]}" "$OURS_BIN" --port "$OURS_PORT" --bind 127.0.0.1 --save "" "${PERSIST[@]}" \
    --dir "$WORK/ours" --loglevel warning >"$WORK/ours.log" 2>&1 &
PIDS+=($!)
wait_ready "$OURS_PORT"

REDIS_PORT="$(free_port)"
"${SERVER_CPU[@]}" "$REDIS_SERVER" --port "$REDIS_PORT" --bind 127.0.0.1 --save "" "${PERSIST[@]}" \
    --dir "$WORK/redis" --daemonize no --loglevel warning --logfile "" >"$WORK/redis.log" 2>&1 &
PIDS+=($!)
wait_ready "$REDIS_PORT"

# Request counts per run: about 2-5 s each on a small machine.
requests() { # workload pipeline
    local n
    case "$1:$2" in
        LRANGE_100:1 | ZRANGE_100:1) n=60000 ;;
        LRANGE_100:* | ZRANGE_100:*) n=150000 ;;
        XRANGE_100:1) n=40000 ;;
        XRANGE_100:*) n=80000 ;;
        XREADGROUP_*) n=600000 ;; # entries preloaded and consumed
        BITCOUNT_1M:1) n=4000 ;;   # 1 MB scanned per request
        BITCOUNT_1M:*) n=8000 ;;
        PFCOUNT_10:1) n=6000 ;;    # a 10-key union merged per request
        PFCOUNT_10:*) n=12000 ;;
        GEOSEARCH_1M:1) n=100000 ;;
        GEOSEARCH_1M:*) n=300000 ;;
        MSET:1) n=150000 ;;
        MSET:*) n=600000 ;;
        *_64K:1) n=60000 ;;        # 64 KiB moved per request
        *_64K:*) n=150000 ;;
        *_1K:1) n=150000 ;;
        *_1K:*) n=600000 ;;
        *:1) n=200000 ;;
        *) n=1500000 ;;
    esac
    [[ $QUICK == 1 ]] && n=$((n / 4))
    echo "$n"
}

# The scripts of the EVALSHA workloads: one INCR, and ten INCRs per call.
SCRIPT_1="return redis.call('INCR', KEYS[1])"
SCRIPT_10="local n = 0 for i = 1, 10 do n = redis.call('INCR', KEYS[1]) end return n"
sha_of() { printf '%s' "$1" | sha1sum | cut -d' ' -f1; }

# The redis-benchmark arguments of a workload (built-in test or custom command).
workload_args() {
    case "$1" in
        SET) echo "-r 100000 -t set" ;;
        GET) echo "-r 100000 -t get" ;;
        LPUSH) echo "-t lpush" ;;
        MSET) echo "-r 100000 -t mset" ;;
        LINDEX) echo "LINDEX benchlist 0" ;;
        HSET) echo "HSET myhash f v" ;;
        HGET) echo "HGET myhash f" ;;
        LRANGE_100) echo "LRANGE benchlist 0 99" ;; # what -t lrange_100 sends, without its LPUSH pre-pass
        SADD) echo "-r 100000 -t sadd" ;;
        SPOP) echo "-t spop" ;;           # on a set of as many members as requests (see prepare)
        ZADD) echo "-r 100000 -t zadd" ;;
        ZPOPMIN) echo "-t zpopmin" ;;     # on a sorted set of as many members as requests
        ZRANGE_100) echo "ZRANGE benchzset 0 99 WITHSCORES" ;; # a 1,000-member sorted set
        ZADD_1M) echo "-r 1000000 ZADD bigzset __rand_int__ m:__rand_int__" ;; # into 1,000,000 members
        EVALSHA_1) echo "-r 100000 EVALSHA $(sha_of "$SCRIPT_1") 1 counter:__rand_int__" ;;
        EVALSHA_10) echo "-r 100000 EVALSHA $(sha_of "$SCRIPT_10") 1 counter:__rand_int__" ;;
        XADD) echo "XADD benchstream * f1 v1 f2 v2 f3 v3" ;;   # into a fresh key each run
        XADD_MAXLEN) echo "XADD benchstream MAXLEN ~ 10000 * f1 v1 f2 v2 f3 v3" ;;
        XRANGE_100) echo "XRANGE benchstream - + COUNT 100" ;;  # of 1,000 entries
        XREADGROUP_10 | XREADGROUP_100) echo "(stream-consumer)" ;;
        # A fixed offset in the middle of the 1 MB `bitmap`: redis-benchmark
        # writes __rand_int__ with leading zeros, which bit offsets refuse.
        SETBIT_1M) echo "SETBIT bitmap 4194304 1" ;;
        GETBIT_1M) echo "GETBIT bitmap 4194304" ;;
        BITCOUNT_1M) echo "BITCOUNT bitmap" ;;
        PFADD) echo "-r 1000000 PFADD benchhll ele:__rand_int__" ;; # into a key empty at each run's start
        PFCOUNT_10) echo "PFCOUNT $(seq -f 'benchhll:%g' -s ' ' 0 9)" ;; # ten dense HLLs
        GEOADD) echo "-r 1000000 GEOADD geoset 13.__rand_int__ 38.__rand_int__ m:__rand_int__" ;;
        GEOSEARCH_1M) echo "-r 1000000 GEOSEARCH geobig FROMMEMBER m:__rand_int__ BYRADIUS 2 km" ;;
        SET_1K) echo "-r 100000 -d 1024 -t set" ;;
        GET_1K) echo "-r 100000 -d 1024 -t get" ;;
        SET_64K) echo "-r 1000 -d 65536 -t set" ;;
        GET_64K) echo "-r 1000 -d 65536 -t get" ;;
        SET_10M) echo "-r 10000000 -t set" ;;
        GET_10M) echo "-r 10000000 -t get" ;;
        SET_C2000) echo "-r 100000 -c 2000 -t set" ;;
        GET_C2000) echo "-r 100000 -c 2000 -t get" ;;
        *) echo "unknown workload $1" >&2; return 1 ;;
    esac
}

# The pipelines a workload runs at (the consumer has one request in flight
# per connection).
pipelines_of() {
    case "$1" in
        XREADGROUP_*) echo 1 ;;
        *) echo "$PIPELINES" ;;
    esac
}

# $1 stream entries as redis-cli --pipe input: ids 1700000000000-0 upwards
# (one per millisecond, the same on both servers), three fields of 8-byte
# values. Generated once per size.
stream_entries() {
    local f="$WORK/stream-$1.txt"
    [[ -s "$f" ]] || awk -v n="$1" 'BEGIN { for (i = 0; i < n; i++)
        printf "XADD benchstream %.0f-0 f1 v:%06d f2 v:%06d f3 v:%06d\n", 1700000000000 + i, i % 1000000, i % 1000000, i % 1000000 }' >"$f"
    echo "$f"
}

# Empties the server on port $1 and loads what workload $2 reads ($3: the
# request count, so SPOP and ZPOPMIN never pop from an empty key).
prepare() {
    local cli=(redis-cli -h 127.0.0.1 -p "$1")
    if [[ $2 == *_10M ]]; then
        # Loaded once, kept by the next 10M runs (SET overwrites the same keys).
        [[ "$("${cli[@]}" DBSIZE)" == 10000000 ]] && return 0
        "${cli[@]}" FLUSHALL >/dev/null
        keys_resp 10000000 16 | "${cli[@]}" --pipe >/dev/null
        return 0
    fi
    "${cli[@]}" FLUSHALL >/dev/null
    case "$2" in
        # Every key the GET runs ask for, with the value size of the SET runs.
        GET | GET_C2000) keys_resp 100000 3 | "${cli[@]}" --pipe >/dev/null ;;
        GET_1K) keys_resp 100000 1024 | "${cli[@]}" --pipe >/dev/null ;;
        GET_64K) keys_resp 1000 65536 | "${cli[@]}" --pipe >/dev/null ;;
        HGET) "${cli[@]}" HSET myhash f v >/dev/null ;;
        LINDEX | LRANGE_100)
            # shellcheck disable=SC2046
            "${cli[@]}" RPUSH benchlist $(seq 1 600 | sed 's/^/xxx/') >/dev/null ;;
        SPOP) seq 1 "$3" | awk '{ print "SADD myset element:" $1 }' | "${cli[@]}" --pipe >/dev/null ;;
        ZPOPMIN) seq 1 "$3" | awk '{ print "ZADD myzset " $1 " element:" $1 }' | "${cli[@]}" --pipe >/dev/null ;;
        ZRANGE_100)
            # shellcheck disable=SC2046
            "${cli[@]}" ZADD benchzset $(seq 1 1000 | awk '{ print $1, "member:" $1 }') >/dev/null ;;
        ZADD_1M) seq 0 999999 | awk '{ print "ZADD bigzset " $1 " m:" sprintf("%012d", $1) }' | "${cli[@]}" --pipe >/dev/null ;;
        EVALSHA_1) "${cli[@]}" SCRIPT LOAD "$SCRIPT_1" >/dev/null ;;
        EVALSHA_10) "${cli[@]}" SCRIPT LOAD "$SCRIPT_10" >/dev/null ;;
        XRANGE_100) "${cli[@]}" --pipe <"$(stream_entries 1000)" >/dev/null ;;
        XREADGROUP_*)
            "${cli[@]}" --pipe <"$(stream_entries "$3")" >/dev/null
            "${cli[@]}" XGROUP CREATE benchstream benchgroup 0 >/dev/null ;;
        SETBIT_1M | GETBIT_1M | BITCOUNT_1M) "${cli[@]}" SETBIT bitmap 8388607 1 >/dev/null ;; # 1 MB
        PFCOUNT_10)
            seq 0 9 | awk '{ for (b = 0; b < 10; b++) { line = "PFADD benchhll:" $1
                for (i = 0; i < 1000; i++) line = line " e:" $1 ":" (b * 1000 + i); print line } }' |
                "${cli[@]}" --pipe >/dev/null ;;
        GEOSEARCH_1M) "${cli[@]}" --pipe <"$(geo_points)" >/dev/null ;;
    esac
}

# 1,000,000 points spread uniformly over lon 0-10, lat 40-50 (about 1.2 per
# km², so a 2 km radius finds ~15), generated once with a fixed seed (the
# same points on both servers) as redis-cli --pipe input.
geo_points() {
    local f="$WORK/geo-1m.txt"
    [[ -s "$f" ]] || awk 'BEGIN { srand(1); for (i = 0; i < 1000000; i++)
        printf "GEOADD geobig %.6f %.6f m:%012d\n", rand() * 10, 40 + rand() * 10, i }' >"$f"
    echo "$f"
}

# SETs of the $1 keys redis-benchmark -r $1 names (key:%012d) to $2-byte
# values, as redis-cli --pipe input (RESP, generated on the fly).
keys_resp() {
    awk -v n="$1" -v d="$2" 'BEGIN { v = "x"; while (length(v) < d) v = v v; v = substr(v, 1, d)
        for (i = 0; i < n; i++) printf "*3\r\n$3\r\nSET\r\n$16\r\nkey:%012d\r\n$%d\r\n%s\r\n", i, d, v }'
}

# Clock ticks per second (for the `cpu_ticks` of bench-lib.sh).
CLK_TCK="$(getconf CLK_TCK)"

# One redis-benchmark run (or stream-consumer run) against the server on
# port $1 (process $4); prints requests (entries) per second, the server's
# CPU time per request in microseconds, and the p99 latency in ms (0 when
# not measured).
run_one() { # port workload pipeline pid
    local n csv rps args c0 c1 p99=0
    n="$(requests "$2" "$3")"
    prepare "$1" "$2" "$n"
    c0="$(cpu_ticks "$4")"
    if [[ $2 == XREADGROUP_* ]]; then
        # prints: entries seconds entries-per-second
        rps="$("${BENCH_CPU[@]}" "$CONSUMER_BIN" 127.0.0.1 "$1" benchstream benchgroup 8 "${2#XREADGROUP_}" "$n" 120 | cut -d' ' -f3)" || rps=0
        [[ "$rps" =~ ^[0-9.]+$ ]] || { echo "stream-consumer gave no figure for $2 on port $1" >&2; rps=0; }
    else
        read -ra args <<<"$(workload_args "$2")" # an array, so XADD's * is not globbed
        csv="$("${BENCH_CPU[@]}" redis-benchmark -h 127.0.0.1 -p "$1" -c "$CLIENTS" -P "$3" -n "$n" --csv "${args[@]}" 2>/dev/null)"
        rps="$(printf '%s\n' "$csv" | grep -v '^"test"' | tail -n1 | cut -d, -f2 | tr -d '"')"
        p99="$(printf '%s\n' "$csv" | grep -v '^"test"' | tail -n1 | cut -d, -f7 | tr -d '"')"
        [[ "$p99" =~ ^[0-9.]+$ ]] || p99=0
        [[ "$rps" =~ ^[0-9.]+$ ]] || { echo "redis-benchmark gave no figure for $2 -P $3 on port $1: $csv" >&2; rps=0; }
    fi
    c1="$(cpu_ticks "$4")"
    echo "$rps $(awk -v t=$((c1 - c0)) -v hz="$CLK_TCK" -v n="$n" 'BEGIN { printf "%.3f", t * 1e6 / hz / n }') $p99"
}


echo "== machine: $(uname -srm), $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'))"
echo "== load before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== redis: $("$REDIS_SERVER" --version | cut -d' ' -f3), ours: $OURS_BIN"
echo "== redis-benchmark -c $CLIENTS, pipelines: $PIPELINES, rounds: $ROUNDS (median), pinned: $([[ $PIN == 1 ]] && echo yes || echo no), persistence: ${PERSIST[*]}"

OURS_PID="${PIDS[0]}"
REDIS_PID="${PIDS[1]}"
declare -A OURS REDIS RATIO OURS_CPU REDIS_CPU OURS_P99 REDIS_P99
for round in $(seq 1 "$ROUNDS"); do
    for w in $WORKLOADS; do
        workload_args "$w" >/dev/null
        for p in $(pipelines_of "$w"); do
            if ((round % 2)); then
                read -r o oc op <<<"$(run_one "$OURS_PORT" "$w" "$p" "$OURS_PID")"
                read -r r rc rp <<<"$(run_one "$REDIS_PORT" "$w" "$p" "$REDIS_PID")"
            else
                read -r r rc rp <<<"$(run_one "$REDIS_PORT" "$w" "$p" "$REDIS_PID")"
                read -r o oc op <<<"$(run_one "$OURS_PORT" "$w" "$p" "$OURS_PID")"
            fi
            OURS_P99[$w:$p]="${OURS_P99[$w:$p]:-} $op"
            REDIS_P99[$w:$p]="${REDIS_P99[$w:$p]:-} $rp"
            OURS[$w:$p]="${OURS[$w:$p]:-} $o"
            REDIS[$w:$p]="${REDIS[$w:$p]:-} $r"
            OURS_CPU[$w:$p]="${OURS_CPU[$w:$p]:-} $oc"
            REDIS_CPU[$w:$p]="${REDIS_CPU[$w:$p]:-} $rc"
            RATIO[$w:$p]="${RATIO[$w:$p]:-} $(awk -v o="$o" -v r="$r" 'BEGIN { if (r > 0) printf "%.4f", o / r; else print 0 }')"
            printf 'round %d  %-14s P=%-2s ours %10.0f  redis %10.0f   server CPU us/req ours %7.2f  redis %7.2f\n' \
                "$round" "$w" "$p" "$o" "$r" "$oc" "$rc" >&2
        done
    done
done

echo "== load after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
# ours/redis: ratio of the two medians; paired: median of the per-round
# ratios (each pair ran back to back, so it is less sensitive to load drift).
# CPU us/req: the server's CPU time (user + system, every thread) per request,
# median; per-CPU: redis's over ours, i.e. ours/redis in requests per CPU
# second. When the client rather than the server is the bottleneck (long
# replies), or other load steals the server's core, this tells more than
# the throughput ratio. p99 ms: redis-benchmark's 99th percentile latency,
# median over the rounds.
printf '%-14s %3s %14s %14s %11s %8s %9s %9s %8s %15s\n' workload P "ours req/s" "redis req/s" "ours/redis" paired \
    "ours us" "redis us" per-CPU "p99 ours/redis"
printf '%-14s %3s %14s %14s %11s %8s %9s %9s %8s %15s\n' -------------- --- -------------- -------------- ----------- -------- \
    --------- --------- -------- ---------------
declare -A GEO
for w in $WORKLOADS; do
    for p in $(pipelines_of "$w"); do
        # shellcheck disable=SC2086
        o="$(median ${OURS[$w:$p]})"
        # shellcheck disable=SC2086
        r="$(median ${REDIS[$w:$p]})"
        ratio="$(ratio "$o" "$r")"
        # shellcheck disable=SC2086
        paired="$(median ${RATIO[$w:$p]})"
        # shellcheck disable=SC2086
        oc="$(median ${OURS_CPU[$w:$p]})"
        # shellcheck disable=SC2086
        rc="$(median ${REDIS_CPU[$w:$p]})"
        percpu="$(ratio "$rc" "$oc")"
        # shellcheck disable=SC2086
        p99="$(median ${OURS_P99[$w:$p]})/$(median ${REDIS_P99[$w:$p]})"
        printf '%-14s %3s %14.0f %14.0f %11s %8.2f %9.2f %9.2f %8s %15s\n' "$w" "$p" "$o" "$r" "$ratio" "$paired" "$oc" "$rc" "$percpu" "$p99"
        GEO[$p]="${GEO[$p]:-} $paired"
    done
done
echo
# Geometric mean of the paired ratios, per pipeline depth.
for p in $(printf '%s\n' "${!GEO[@]}" | sort -n); do
    # shellcheck disable=SC2086
    printf 'geomean P=%-2s %s\n' "$p" "$(geomean ${GEO[$p]})"
done

# Memory per idle connection: N connections opened and left idle (after one
# PING each), RSS and used_memory growth over N, for both servers.
idle_cost() { # port pid
    local rss0 rss1 used0 used1 fds=() fd i
    used0="$(redis-cli -h 127.0.0.1 -p "$1" INFO memory | sed -n 's/^used_memory:\([0-9]*\).*/\1/p')"
    rss0="$(awk '/^VmRSS/ { print $2 }' "/proc/$2/status")"
    for ((i = 0; i < IDLE_CONNS; i++)); do
        exec {fd}<>"/dev/tcp/127.0.0.1/$1" || break
        printf '*1\r\n$4\r\nPING\r\n' >&"$fd"
        fds+=("$fd")
    done
    for fd in "${fds[@]}"; do read -r -t 5 -u "$fd" _ || true; done
    rss1="$(awk '/^VmRSS/ { print $2 }' "/proc/$2/status")"
    used1="$(redis-cli -h 127.0.0.1 -p "$1" INFO memory | sed -n 's/^used_memory:\([0-9]*\).*/\1/p')"
    for fd in "${fds[@]}"; do exec {fd}>&-; done
    awk -v n="${#fds[@]}" -v r0="$rss0" -v r1="$rss1" -v u0="$used0" -v u1="$used1" \
        'BEGIN { printf "%d conns: RSS +%.0f bytes/conn, used_memory +%.0f bytes/conn", n, (r1 - r0) * 1024 / n, (u1 - u0) / n }'
}
if [[ $IDLE_CONNS -gt 0 ]]; then
    redis-cli -h 127.0.0.1 -p "$OURS_PORT" FLUSHALL >/dev/null
    redis-cli -h 127.0.0.1 -p "$REDIS_PORT" FLUSHALL >/dev/null
    echo
    echo "idle connections, ours:  $(idle_cost "$OURS_PORT" "$OURS_PID")"
    echo "idle connections, redis: $(idle_cost "$REDIS_PORT" "$REDIS_PID")"
fi
