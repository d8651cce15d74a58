#!/usr/bin/env bash
# Replication figures: inmemory-server against a real redis-server 7.0, each
# replicating to its own kind (ours -> ours, redis -> redis), same settings,
# same load, same run.
#
# Usage: scripts/bench-replication.sh [--rounds N] [--keys N] [--requests N] [--sync diskless|disk]
#   --rounds N    rounds, alternating (ours first in odd rounds; default 3); medians shown
#   --keys N      keys the full sync transfers (DEBUG POPULATE; default 1000000)
#   --requests N  SETs of each load run (default 1000000)
#   --sync MODE   diskless: the primary streams the snapshot over the socket
#                 (repl-diskless-sync yes, Redis 7.0's default); disk: it
#                 writes an RDB file first and sends that (repl-diskless-sync no).
#                 Both: repl-diskless-sync-delay 0, and the replica loads
#                 after receiving (repl-diskless-load disabled, the default).
#   OURS=<binary>         benchmark that binary instead of building this checkout
#   REDIS_SERVER=<binary> the redis-server to compare with (default: from PATH)
#
# Each round starts, for each server kind, a fresh primary and a fresh
# replica (no persistence: --save "" --appendonly no, each in its own
# temporary directory) and measures:
#   1. alone: SET throughput on the primary before any replica ever attached
#      (redis-benchmark -t set -P 16 -c 50 -r 100000 -n REQUESTS, from an
#      empty database);
#   2. full sync: FLUSHALL, DEBUG POPULATE KEYS on the primary, then REPLICAOF
#      on the replica; the time from REPLICAOF until the replica's INFO says
#      master_link_status:up and master_sync_in_progress:0 and its DBSIZE is
#      the primary's (polled every 20 ms);
#   3. replicated: FLUSHALL (waited for on the replica), the same load as 1
#      with the replica attached, while the lag is sampled every 50 ms: the
#      primary's master_repl_offset minus the replica's slave_repl_offset
#      (the bytes of stream it has not yet applied), both asked for at once
#      over two open connections; then the catch-up, the time from the
#      end of the load until the replica's offset reaches the primary's.
# Also the CPU time (user + system, all threads) per SET of the primary in
# both loads and of the replica (load and catch-up): primary, replica and
# redis-benchmark share the machine's CPUs, so a replica that needs more CPU
# slows its primary down on a small machine.
# Printed: the medians per server and ours/redis. Works from any directory;
# kills every server it started on exit. About 30 s per round on 2 CPUs.
set -euo pipefail
export LC_ALL=C

ROUNDS=3
KEYS=1000000
REQUESTS=1000000
SYNC=diskless
while [[ $# -gt 0 ]]; do
    case "$1" in
        --rounds) ROUNDS="${2:?--rounds needs a number}"; shift 2 ;;
        --keys) KEYS="${2:?--keys needs a number}"; shift 2 ;;
        --requests) REQUESTS="${2:?--requests needs a number}"; shift 2 ;;
        --sync) SYNC="${2:?--sync needs diskless or disk}"; shift 2
            [[ $SYNC == diskless || $SYNC == disk ]] || { echo "--sync: diskless or disk" >&2; exit 2; } ;;
        -h|--help) sed -n '2,/^set /{ /^#/p; }' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "unknown option: $1 (see --help)" >&2; exit 2 ;;
    esac
done
for n in "$ROUNDS" "$KEYS" "$REQUESTS"; do
    [[ "$n" =~ ^[1-9][0-9]*$ ]] || { echo "--rounds, --keys and --requests take positive integers" >&2; exit 2; }
done

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/bench-lib.sh
source "$ROOT/scripts/bench-lib.sh"
need_tools redis-benchmark redis-cli
need_redis_server
bench_init replication

if [[ -n "${OURS:-}" ]]; then
    OURS_BIN="$OURS"
else
    command -v cargo >/dev/null || { echo "cargo not found in PATH (or set OURS)" >&2; exit 1; }
    echo "== building inmemory-server (release)" >&2
    (cd "$ROOT" && cargo build --release --quiet --bin inmemory-server)
    OURS_BIN="$(release_dir)/inmemory-server"
fi
[[ -x "$OURS_BIN" ]] || { echo "inmemory-server binary not found at $OURS_BIN" >&2; exit 1; }

# The same replication settings for both kinds.
DISKLESS=yes
[[ $SYNC == disk ]] && DISKLESS=no
COMMON=(--bind 127.0.0.1 --save "" --appendonly no --loglevel warning
    --repl-diskless-sync "$DISKLESS" --repl-diskless-sync-delay 0 --repl-diskless-load disabled)

# Starts a server of kind $1 (ours|redis) named $2; sets PORT and PID.
# Tries another port when the one found free was taken meanwhile.
start_server() {
    local dir="$WORK/$2" attempt
    mkdir -p "$dir"
    for attempt in 1 2 3 4 5; do
        PORT="$(free_port)"
        if [[ $1 == ours ]]; then
            "$OURS_BIN" --port "$PORT" "${COMMON[@]}" --dir "$dir" >"$WORK/$2.log" 2>&1 &
        else
            "$REDIS_SERVER" --port "$PORT" "${COMMON[@]}" --dir "$dir" --daemonize no --logfile "" \
                --enable-debug-command yes >"$WORK/$2.log" 2>&1 &
        fi
        PID=$!
        PIDS+=("$PID")
        wait_ready "$PORT" "$PID" && return 0
        stop_server "$PID"
    done
    echo "$1 server $2 did not start; log:" >&2
    cat "$WORK/$2.log" >&2
    return 1
}

# Stops server $1 (a pid this script started) and forgets it.
stop_server() {
    local keep=() pid
    kill "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
    for pid in "${PIDS[@]}"; do [[ $pid == "$1" ]] || keep+=("$pid"); done
    PIDS=("${keep[@]}")
}

# Sends command $2.. on the open connection whose descriptor is $1.
send() {
    local fd="$1" a req
    shift
    req="*$#"$'\r\n'
    for a in "$@"; do req+="\$${#a}"$'\r\n'"$a"$'\r\n'; done
    printf '%s' "$req" >&"$fd"
}

# Reads one reply from descriptor $1 into REPLY: a bulk string's content,
# or the line after the type byte of a simple string, error or integer.
recv() {
    local line len
    IFS= read -r -u "$1" line
    line="${line%$'\r'}"
    if [[ $line == \$* ]]; then
        len="${line:1}"
        REPLY=""
        if ((len > 0)); then IFS= read -r -N "$len" -u "$1" REPLY; fi
        IFS= read -r -u "$1" _ || true # the bulk string's CRLF
    else
        REPLY="${line:1}"
    fi
}

# A command and its reply (in REPLY) on descriptor $1.
resp() {
    send "$@"
    recv "$1"
}

# A field of the INFO text in REPLY ("" when absent).
info_of() {
    if [[ $REPLY =~ (^|$'\n')$1:([^$'\r']*) ]]; then echo "${BASH_REMATCH[2]}"; else echo ""; fi
}

now_ms() { date +%s%3N; }

# The primary's master_repl_offset and the replica's slave_repl_offset,
# both asked for before either answer is read (on descriptors PFD and RFD);
# sets P_OFF and R_OFF.
offsets() {
    send "$PFD" INFO replication
    send "$RFD" INFO replication
    recv "$PFD"
    P_OFF="$(info_of master_repl_offset)"
    recv "$RFD"
    R_OFF="$(info_of slave_repl_offset)"
    P_OFF="${P_OFF:-0}"
    R_OFF="${R_OFF:-0}"
}

# SET P16 load on port $1; prints requests per second.
load() {
    redis-benchmark -h 127.0.0.1 -p "$1" -t set -P 16 -c 50 -r 100000 -n "$REQUESTS" --csv 2>/dev/null |
        grep -v '^"test"' | tail -n1 | cut -d, -f2 | tr -d '"'
}

# Waits until the replica applied everything the primary has; prints the
# milliseconds it took (60 s deadline).
catch_up() {
    local t0 target deadline
    t0="$(now_ms)"
    offsets
    target="$P_OFF"
    deadline=$((SECONDS + 60))
    while ((R_OFF < target)); do
        ((SECONDS < deadline)) || { echo "replica did not catch up ($R_OFF < $target)" >&2; return 1; }
        resp "$RFD" INFO replication
        R_OFF="$(info_of slave_repl_offset)"
        R_OFF="${R_OFF:-0}"
    done
    echo $(($(now_ms) - t0))
}

# Clock ticks per second (for the `cpu_ticks` of bench-lib.sh).
CLK_TCK="$(getconf CLK_TCK)"
# Microseconds of CPU per request of the ticks $1 .. $2.
per_req() { awk -v t=$(($2 - $1)) -v hz="$CLK_TCK" -v n="$REQUESTS" 'BEGIN { printf "%.3f", t * 1e6 / hz / n }'; }

# One round for kind $1 (run in this shell, so the cleanup knows its
# servers): sets ROUND_OUT to "alone_rps sync_s repl_rps lag_max lag_median catchup_ms
# cpu_alone cpu_primary cpu_replica" (CPU: microseconds per SET).
round() {
    local kind="$1" pport ppid rport rpid alone t0 t1 n want repl bench lags=() lag lagfile c0 c1 r0 r1 cpu_alone
    start_server "$kind" "$kind-primary"
    pport="$PORT" ppid="$PID"
    start_server "$kind" "$kind-replica"
    rport="$PORT" rpid="$PID"
    exec {PFD}<>"/dev/tcp/127.0.0.1/$pport"
    exec {RFD}<>"/dev/tcp/127.0.0.1/$rport"

    # 1. Alone: no replica has ever attached (no backlog, nothing fed).
    c0="$(cpu_ticks "$ppid")"
    alone="$(load "$pport")"
    cpu_alone="$(per_req "$c0" "$(cpu_ticks "$ppid")")"

    # 2. Full sync of KEYS keys to the fresh replica.
    resp "$PFD" FLUSHALL
    resp "$PFD" DEBUG POPULATE "$KEYS"
    resp "$PFD" DBSIZE
    want="$REPLY"
    t0="$(now_ms)"
    resp "$RFD" REPLICAOF 127.0.0.1 "$pport"
    while :; do
        resp "$RFD" INFO replication
        if [[ "$(info_of master_link_status)" == up && "$(info_of master_sync_in_progress)" == 0 ]]; then
            resp "$RFD" DBSIZE
            [[ $REPLY == "$want" ]] && break
        fi
        if (($(now_ms) - t0 > 120000)); then
            echo "$kind: the replica did not sync within 120 s" >&2
            return 1
        fi
        sleep 0.02
    done
    t1="$(now_ms)"

    # 3. The same load with the replica attached, lag sampled every 50 ms.
    resp "$PFD" FLUSHALL
    catch_up >/dev/null
    lagfile="$WORK/lag-$kind"
    : >"$lagfile"
    c0="$(cpu_ticks "$ppid")"
    r0="$(cpu_ticks "$rpid")"
    load "$pport" >"$WORK/repl-rps" &
    bench=$!
    n=0
    while kill -0 "$bench" 2>/dev/null; do
        if ((n % 5 == 0)); then
            offsets
            lag=$((P_OFF - R_OFF))
            ((lag < 0)) && lag=0
            echo "$lag" >>"$lagfile"
        fi
        n=$((n + 1))
        sleep 0.01
    done
    wait "$bench" || true
    repl="$(cat "$WORK/repl-rps")"
    local catchup sync_s lag_max
    catchup="$(catch_up)"
    c1="$(cpu_ticks "$ppid")"
    r1="$(cpu_ticks "$rpid")"
    mapfile -t lags <"$lagfile"
    ((${#lags[@]} > 0)) || lags=(0)
    sync_s="$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", (b - a) / 1000 }')"
    lag_max="$(printf '%s\n' "${lags[@]}" | sort -g | tail -n1)"

    exec {PFD}>&- {RFD}>&-
    stop_server "$rpid"
    stop_server "$ppid"
    ROUND_OUT="$alone $sync_s $repl $lag_max $(median "${lags[@]}") $catchup $cpu_alone $(per_req "$c0" "$c1") $(per_req "$r0" "$r1")"
}

echo "== $(uname -srm), $(nproc) CPUs; load before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== redis $("$REDIS_SERVER" --version | cut -d' ' -f3), ours: $OURS_BIN"
echo "== $SYNC full sync of $KEYS keys; load: redis-benchmark -t set -P 16 -c 50 -r 100000 -n $REQUESTS; rounds: $ROUNDS (medians)"
declare -A RES
for r in $(seq 1 "$ROUNDS"); do
    order=(ours redis)
    ((r % 2)) || order=(redis ours)
    for kind in "${order[@]}"; do
        round "$kind"
        out="$ROUND_OUT"
        read -r alone sync repl lmax lmed cu ca cp cr <<<"$out"
        printf 'round %d %-5s alone %8.0f req/s  full sync %5.2f s  with replica %8.0f req/s (%.2f)  lag max %8d B median %8.0f B  catch-up %4d ms  CPU us/SET alone %.2f, with replica %.2f + replica %.2f\n' \
            "$r" "$kind" "$alone" "$sync" "$repl" "$(awk -v a="$alone" -v b="$repl" 'BEGIN { print (a > 0 ? b / a : 0) }')" \
            "$lmax" "$lmed" "$cu" "$ca" "$cp" "$cr" >&2
        RES[$kind]="${RES[$kind]:-}|$out"
    done
done
echo "== load after: $(cut -d' ' -f1-3 /proc/loadavg)"

# Column $2 (1-based) of every round of kind $1.
col() { tr '|' '\n' <<<"${RES[$1]}" | awk -v c="$2" 'NF { print $c }'; }
# The per-round with/without ratio of kind $1.
ratios() { tr '|' '\n' <<<"${RES[$1]}" | awk 'NF && $1 > 0 { printf "%.4f\n", $3 / $1 }'; }

echo
printf '%-36s %14s %14s %11s\n' figure ours redis ours/redis
printf '%-36s %14s %14s %11s\n' ------------------------------------ -------------- -------------- -----------
row() { # label ours redis format
    printf "%-36s %14$4 %14$4 %11s\n" "$1" "$2" "$3" "$(awk -v o="$2" -v r="$3" 'BEGIN { if (r > 0) printf "%.2f", o / r; else print "n/a" }')"
}
# shellcheck disable=SC2046
{
    row "full sync of $KEYS keys (s)" "$(median $(col ours 2))" "$(median $(col redis 2))" .2f
    row "SET P16 alone (req/s)" "$(median $(col ours 1))" "$(median $(col redis 1))" .0f
    row "SET P16 with a replica (req/s)" "$(median $(col ours 3))" "$(median $(col redis 3))" .0f
    row "with replica / alone" "$(median $(ratios ours))" "$(median $(ratios redis))" .2f
    row "replica lag under load, max (bytes)" "$(median $(col ours 4))" "$(median $(col redis 4))" .0f
    row "replica lag under load, median (B)" "$(median $(col ours 5))" "$(median $(col redis 5))" .0f
    row "catch-up after the load (ms)" "$(median $(col ours 6))" "$(median $(col redis 6))" .0f
    row "CPU us/SET, primary alone" "$(median $(col ours 7))" "$(median $(col redis 7))" .2f
    row "CPU us/SET, primary with replica" "$(median $(col ours 8))" "$(median $(col redis 8))" .2f
    row "CPU us/SET, replica" "$(median $(col ours 9))" "$(median $(col redis 9))" .2f
}
echo
echo "full sync, lag and catch-up: lower is better (ours/redis < 1: ours better); throughput: higher is better."
