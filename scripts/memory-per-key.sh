#!/usr/bin/env bash
# Bytes per key, ours vs Redis, for the same data loaded the same way.
#
# For each data set a fresh server (release build of inmemory-server, then
# redis-server; both on 127.0.0.1, no persistence) is started, its
# used_memory (INFO) and RSS (/proc/PID/status RssAnon: the anonymous pages,
# which hold the data; the file-backed pages of the binary and its libraries
# are shared, and how many of them a run happens to touch moved VmRSS by
# 10-20 bytes per key over 100k keys) are read, the data is
# piped in with `redis-cli --pipe` from one generated RESP file, and the
# growth of both is divided by the number of keys:
#   strings: N_STRINGS  keys of 16 bytes with 16-byte values   (SET)
#   hashes:  N_HASHES   keys of 16 bytes, 10 fields "fld:NNNN" -> "val:NNNN" (HSET)
#   lists:   N_LISTS    keys of 16 bytes, 10 elements "elem:NNN" (RPUSH)
#   intsets: N_SETS     keys of 16 bytes, 10 integer members (SADD)
#   strsets: N_SETS     keys of 16 bytes, 10 members "mbr:NNNN" (SADD)
#   zsets:   N_SETS     keys of 16 bytes, 10 members "mbr:NNNN" with integer scores (ZADD)
#   bigzset: 1 key of BIG_ZSET members "member:NNNNNNNNNNNN" with scores i/7 (ZADD);
#            its figure is bytes per member
#   stream:  1 key of BIG_STREAM entries (XADD) with ids 1700000000000-0 upwards
#            (one per millisecond) and fields f1 f2 f3 of 8-byte values
#            "v:NNNNNN"; its figure is bytes per entry
#   autostream: 1 key of BIG_STREAM entries `XADD s * f1 v f2 v f3 v` (ids from
#            the clock, so many per millisecond); bytes per entry
#
# Usage: scripts/memory-per-key.sh            (from the repository root)
# Environment: N_STRINGS (1000000) N_HASHES (100000) N_LISTS (100000)
#   N_SETS (100000) BIG_ZSET (1000000) BIG_STREAM (1000000)
#   OURS (target/release/inmemory-server; built unless NO_BUILD=1)
#   REDIS_SERVER (redis-server) REDIS_CLI (redis-cli) PORT (7411)
#   SETS ("strings hashes lists intsets strsets zsets bigzset stream autostream")
# Redis 7.0 reference figures: ~130 B/string key, ~416 B/10-field hash,
# ~385 B/10-element list.
set -euo pipefail

cd "$(dirname "$0")/.."
N_STRINGS=${N_STRINGS:-1000000}
N_HASHES=${N_HASHES:-100000}
N_LISTS=${N_LISTS:-100000}
N_SETS=${N_SETS:-100000}
BIG_ZSET=${BIG_ZSET:-1000000}
BIG_STREAM=${BIG_STREAM:-1000000}
OURS=${OURS:-target/release/inmemory-server}
REDIS_SERVER=${REDIS_SERVER:-redis-server}
REDIS_CLI=${REDIS_CLI:-redis-cli}
PORT=${PORT:-7411}
SETS=${SETS:-strings hashes lists intsets strsets zsets bigzset stream autostream}

for tool in "$REDIS_SERVER" "$REDIS_CLI" awk; do
    command -v "$tool" >/dev/null || { echo "memory-per-key: $tool not found" >&2; exit 1; }
done
if [ "${NO_BUILD:-0}" != 1 ]; then
    cargo build --release --quiet --bin inmemory-server
fi
[ -x "$OURS" ] || { echo "memory-per-key: $OURS not built" >&2; exit 1; }

WORK=$(mktemp -d)
PID=
cleanup() {
    if [ -n "$PID" ]; then kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; fi
    rm -rf "$WORK"
}
trap cleanup EXIT

# RESP files (awk's printf: every byte is spelled out, no shell quoting).
gen() {
    case $1 in
    strings) awk -v n="$N_STRINGS" 'BEGIN { for (i = 0; i < n; i++)
        printf "*3\r\n$3\r\nSET\r\n$16\r\nstr:%012d\r\n$16\r\nval:%012d\r\n", i, i }' ;;
    hashes) awk -v n="$N_HASHES" 'BEGIN { for (i = 0; i < n; i++) {
        printf "*22\r\n$4\r\nHSET\r\n$16\r\nhsh:%012d\r\n", i
        for (f = 0; f < 10; f++) printf "$8\r\nfld:%04d\r\n$8\r\nval:%04d\r\n", f, (i + f) % 10000 } }' ;;
    lists) awk -v n="$N_LISTS" 'BEGIN { for (i = 0; i < n; i++) {
        printf "*12\r\n$5\r\nRPUSH\r\n$16\r\nlst:%012d\r\n", i
        for (e = 0; e < 10; e++) printf "$8\r\nelem:%03d\r\n", (i + e) % 1000 } }' ;;
    intsets) awk -v n="$N_SETS" 'BEGIN { for (i = 0; i < n; i++) {
        printf "*12\r\n$4\r\nSADD\r\n$16\r\nset:%012d\r\n", i
        for (e = 0; e < 10; e++) printf "$4\r\n%04d\r\n", 1000 + (i + e) % 9000 } }' ;;
    strsets) awk -v n="$N_SETS" 'BEGIN { for (i = 0; i < n; i++) {
        printf "*12\r\n$4\r\nSADD\r\n$16\r\nset:%012d\r\n", i
        for (e = 0; e < 10; e++) printf "$8\r\nmbr:%04d\r\n", (i + e) % 10000 } }' ;;
    zsets) awk -v n="$N_SETS" 'BEGIN { for (i = 0; i < n; i++) {
        printf "*22\r\n$4\r\nZADD\r\n$16\r\nzst:%012d\r\n", i
        for (e = 0; e < 10; e++) printf "$%d\r\n%d\r\n$8\r\nmbr:%04d\r\n", length(e * 100), e * 100, (i + e) % 10000 } }' ;;
    bigzset) awk -v n="$BIG_ZSET" 'BEGIN { for (i = 0; i < n; i++) {
        s = sprintf("%.6f", i / 7)
        printf "*4\r\n$4\r\nZADD\r\n$3\r\nbig\r\n$%d\r\n%s\r\n$19\r\nmember:%012d\r\n", length(s), s, i } }' ;;
    stream) awk -v n="$BIG_STREAM" 'BEGIN { for (i = 0; i < n; i++) {
        id = sprintf("%.0f-0", 1700000000000 + i)
        printf "*9\r\n$4\r\nXADD\r\n$6\r\nstream\r\n$%d\r\n%s\r\n", length(id), id
        for (f = 1; f <= 3; f++) printf "$2\r\nf%d\r\n$8\r\nv:%06d\r\n", f, i % 1000000 } }' ;;
    autostream) awk -v n="$BIG_STREAM" 'BEGIN { for (i = 0; i < n; i++)
        printf "*9\r\n$4\r\nXADD\r\n$6\r\nstream\r\n$1\r\n*\r\n$2\r\nf1\r\n$1\r\nv\r\n$2\r\nf2\r\n$1\r\nv\r\n$2\r\nf3\r\n$1\r\nv\r\n" }' ;;
    esac
}

count() {
    case $1 in
    strings) echo "$N_STRINGS" ;; hashes) echo "$N_HASHES" ;; lists) echo "$N_LISTS" ;;
    intsets | strsets | zsets) echo "$N_SETS" ;; bigzset) echo "$BIG_ZSET" ;; stream | autostream) echo "$BIG_STREAM" ;;
    esac
}

cli() { "$REDIS_CLI" -h 127.0.0.1 -p "$PORT" "$@"; }

start() {
    if [ "$1" = ours ]; then
        "$OURS" --port "$PORT" --bind 127.0.0.1 --save "" --appendonly no --dir "$WORK" >"$WORK/server.log" 2>&1 &
    else
        "$REDIS_SERVER" --port "$PORT" --bind 127.0.0.1 --save "" --appendonly no --dir "$WORK" \
            >"$WORK/server.log" 2>&1 &
    fi
    PID=$!
    for _ in $(seq 100); do
        if cli PING 2>/dev/null | grep -q PONG; then return; fi
        sleep 0.1
    done
    echo "memory-per-key: $1 did not start:" >&2
    cat "$WORK/server.log" >&2
    exit 1
}

stop() {
    kill "$PID" 2>/dev/null || true
    wait "$PID" 2>/dev/null || true
    PID=
}

used() { cli INFO memory | tr -d '\r' | awk -F: '$1 == "used_memory" { print $2 }'; }
rss() { awk '/^RssAnon:/ { print $2 * 1024 }' "/proc/$PID/status"; }

declare -A RESULT
for set in $SETS; do
    gen "$set" >"$WORK/$set.resp"
    n=$(count "$set")
    for server in ours redis; do
        start "$server"
        u0=$(used); r0=$(rss)
        cli --pipe <"$WORK/$set.resp" >"$WORK/pipe.log" 2>&1 || { cat "$WORK/pipe.log" >&2; exit 1; }
        keys=$(cli DBSIZE)
        [ "$set" = bigzset ] && keys=$(cli ZCARD big)
        case $set in stream | autostream) keys=$(cli XLEN stream) ;; esac
        [ "$keys" = "$n" ] || { echo "memory-per-key: $server holds $keys keys, expected $n" >&2; cat "$WORK/pipe.log" >&2; exit 1; }
        u1=$(used); r1=$(rss)
        RESULT[$set,$server,used]=$(( (u1 - u0) / n ))
        RESULT[$set,$server,rss]=$(( (r1 - r0) / n ))
        stop
    done
    rm -f "$WORK/$set.resp"
done

printf '%-30s %14s %14s %14s %14s %9s\n' "bytes per key" "ours used" "redis used" "ours RSS" "redis RSS" "ours/redis"
for set in $SETS; do
    case $set in
    strings) label="$N_STRINGS strings 16B/16B" ;;
    hashes) label="$N_HASHES hashes x10 fields" ;;
    lists) label="$N_LISTS lists x10 elements" ;;
    intsets) label="$N_SETS sets x10 integers" ;;
    strsets) label="$N_SETS sets x10 strings" ;;
    zsets) label="$N_SETS zsets x10 members" ;;
    bigzset) label="1 zset of $BIG_ZSET (per member)" ;;
    stream) label="stream of $BIG_STREAM x3 fields" ;;
    autostream) label="stream of $BIG_STREAM, * ids" ;;
    esac
    ou=${RESULT[$set,ours,used]}; ru=${RESULT[$set,redis,used]}
    printf '%-30s %14s %14s %14s %14s %9s\n' "$label" "$ou" "$ru" "${RESULT[$set,ours,rss]}" \
        "${RESULT[$set,redis,rss]}" "$(awk -v a="$ou" -v b="$ru" 'BEGIN { if (b > 0) printf "%.2f", a / b }')"
done
