#!/usr/bin/env bash
# Latency and memory while a snapshot is taken: inmemory-server against a
# real redis-server, same data, same load, same run.
#
# Usage: scripts/bench-bgsave.sh [--keys N] [--rounds N]
#   --keys N     keys loaded with DEBUG POPULATE before each round (default 5000000)
#   --rounds N   rounds per server, alternating (ours first in odd rounds; default 2)
#   OURS=<binary>  benchmark that binary instead of building this checkout
#
# Each round: FLUSHALL, DEBUG POPULATE N keys (key:0.. = value:0..), then a
# P1 load of SET and GET on those keys (redis-benchmark -c 50 -P 1 -r N,
# one SET for each GET) runs twice: once alone ("idle") and once while a
# BGSAVE runs ("save"). Printed per server (medians of the rounds): the
# load's p99 and max latency in both cases, how long the BGSAVE took, and
# the peak memory during it: the sum of the proportional set size (PSS) of
# the server and its snapshot child, sampled every 20 ms, so pages the
# two share are counted once (a forked child doubles only the pages
# written while it runs). Both servers run unpinned, without persistence
# other than this BGSAVE, on free ports on 127.0.0.1; kills both on exit.
set -euo pipefail

KEYS=5000000
ROUNDS=2
while [[ $# -gt 0 ]]; do
    case "$1" in
        --keys) KEYS="${2:?--keys needs a number}"; shift 2 ;;
        --rounds) ROUNDS="${2:?--rounds needs a number}"; shift 2 ;;
        -h|--help) sed -n '2,/^set /{ /^#/p; }' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "unknown option: $1 (see --help)" >&2; exit 2 ;;
    esac
done
[[ "$KEYS" =~ ^[1-9][0-9]*$ && "$ROUNDS" =~ ^[1-9][0-9]*$ ]] || { echo "--keys and --rounds take positive integers" >&2; exit 2; }

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/bench-lib.sh
source "$ROOT/scripts/bench-lib.sh"
need_tools redis-benchmark redis-cli
need_redis_server
bench_init bgsave

if [[ -n "${OURS:-}" ]]; then
    OURS_BIN="$OURS"
else
    echo "== building inmemory-server (release)" >&2
    (cd "$ROOT" && cargo build --release --quiet --bin inmemory-server)
    OURS_BIN="$(release_dir)/inmemory-server"
fi

OURS_PORT="$(free_port)"
mkdir -p "$WORK/ours" "$WORK/redis"
"$OURS_BIN" --port "$OURS_PORT" --bind 127.0.0.1 --save "" --appendonly no --dir "$WORK/ours" \
    --loglevel warning >"$WORK/ours.log" 2>&1 &
PIDS+=($!)
wait_ready "$OURS_PORT"
REDIS_PORT="$(free_port)"
"$REDIS_SERVER" --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no --dir "$WORK/redis" \
    --daemonize no --loglevel warning --logfile "" --enable-debug-command yes >"$WORK/redis.log" 2>&1 &
PIDS+=($!)
wait_ready "$REDIS_PORT"

# PSS in KiB of process $1 and its children (the snapshot child).
pss_tree() {
    local total=0 p v
    for p in "$1" $(cat "/proc/$1/task/"*/children 2>/dev/null); do
        v="$(awk '/^Pss:/ { print $2 }' "/proc/$p/smaps_rollup" 2>/dev/null || echo 0)"
        total=$((total + ${v:-0}))
    done
    echo "$total"
}

# P1 SET+GET load on the populated keys; prints "p99 max" (ms) of the worse
# of the two tests.
load() { # port
    local n=$((KEYS / 10 < 300000 ? KEYS / 10 : 300000))
    redis-benchmark -h 127.0.0.1 -p "$1" -c 50 -P 1 -n "$n" -r "$KEYS" --csv -t set,get 2>/dev/null |
        grep -v '^"test"' | tr -d '"' |
        awk -F, '{ if ($7 > p99) p99 = $7; if ($8 > mx) mx = $8 } END { printf "%.3f %.3f", p99, mx }'
}

# One round on a server: prints "idle_p99 idle_max save_p99 save_max save_s peak_pss_mib base_pss_mib".
round() { # port pid
    local cli=(redis-cli -h 127.0.0.1 -p "$1") idle save t0 t1 peak base cur loadpid
    "${cli[@]}" FLUSHALL >/dev/null
    "${cli[@]}" DEBUG POPULATE "$KEYS" >/dev/null
    idle="$(load "$1")"
    base="$(pss_tree "$2")"
    peak="$base"
    "${cli[@]}" BGSAVE >/dev/null
    t0="$(date +%s.%N)"
    load "$1" >"$WORK/save-load" &
    loadpid=$!
    while [[ "$("${cli[@]}" INFO persistence | tr -d '\r' | sed -n 's/^rdb_bgsave_in_progress://p')" == 1 ]]; do
        cur="$(pss_tree "$2")"
        ((cur > peak)) && peak="$cur"
        sleep 0.02
    done
    t1="$(date +%s.%N)"
    wait "$loadpid"
    save="$(cat "$WORK/save-load")"
    echo "$idle $save $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }') $((peak / 1024)) $((base / 1024))"
}


echo "== $(uname -srm), $(nproc) CPUs; redis $("$REDIS_SERVER" --version | cut -d' ' -f3); keys: $KEYS; rounds: $ROUNDS"
declare -A RES
for r in $(seq 1 "$ROUNDS"); do
    order=(ours redis)
    ((r % 2)) || order=(redis ours)
    for side in "${order[@]}"; do
        if [[ $side == ours ]]; then out="$(round "$OURS_PORT" "${PIDS[0]}")"; else out="$(round "$REDIS_PORT" "${PIDS[1]}")"; fi
        echo "round $r $side: idle p99/max $(cut -d' ' -f1-2 <<<"$out") ms, during BGSAVE p99/max $(cut -d' ' -f3-4 <<<"$out") ms, save $(cut -d' ' -f5 <<<"$out") s, PSS peak $(cut -d' ' -f6 <<<"$out") MiB (before $(cut -d' ' -f7 <<<"$out"))" >&2
        RES[$side]="${RES[$side]:-}|$out"
    done
done

echo
printf '%-6s %12s %12s %12s %12s %8s %14s %14s\n' server "idle p99" "idle max" "save p99" "save max" "save s" "PSS peak MiB" "PSS before"
for side in ours redis; do
    cols=()
    for i in 1 2 3 4 5 6 7; do
        # shellcheck disable=SC2046
        cols+=("$(median $(tr '|' '\n' <<<"${RES[$side]}" | sed '/^$/d' | cut -d' ' -f"$i"))")
    done
    printf '%-6s %12s %12s %12s %12s %8s %14s %14s\n' "$side" "${cols[@]}"
done
