#!/usr/bin/env bash
# Try the proxy's Sentinel support on this machine: one primary and two
# replicas of inmemory-server, one redis-sentinel watching them as
# "mymaster", and inmemory-proxy in front, all on 127.0.0.1.
#
#   scripts/sentinel-example.sh         # runs in the foreground; Ctrl-C stops everything
#
#   inmemory-cli -p 7100 set k v                      # through the proxy
#   inmemory-cli -p 7100 info proxy                   # sentinel_link, sentinel_switches
#   kill -9 "$(cat "$SENTINEL_EXAMPLE_DIR/primary.pid")"   # then, a few seconds later:
#   inmemory-cli -p 7100 get k                        # served by the promoted replica
#
# Ports: proxy BASE, primary BASE+1, replicas BASE+2 and BASE+3, Sentinel BASE+9.
# Environment:
#   SENTINEL_EXAMPLE_BASE     base port                          (default 7100)
#   SENTINEL_EXAMPLE_DIR      pid files, logs, data, configs     (default: a new temp dir, removed on exit)
#   SENTINEL_EXAMPLE_SECONDS  stop everything after this long    (default 1800)
#   BIN_DIR                   where inmemory-server/-proxy are   (default: cargo build --release, target/release)
# Needs redis-sentinel (Debian: apt-get install redis-sentinel).
# Only the processes this script started are signalled, by their pids.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
base="${SENTINEL_EXAMPLE_BASE:-7100}"
limit="${SENTINEL_EXAMPLE_SECONDS:-1800}"
case "$base$limit" in *[!0-9]*) echo "SENTINEL_EXAMPLE_BASE and _SECONDS must be numbers" >&2; exit 2 ;; esac
command -v redis-sentinel >/dev/null || { echo "redis-sentinel is not installed" >&2; exit 1; }

if [ -z "${BIN_DIR:-}" ]; then
    (cd "$root" && cargo build --release --bin inmemory-server && cargo build --release -p inmemory-proxy)
    BIN_DIR="${CARGO_TARGET_DIR:-$root/target}/release"
fi
if [ -n "${SENTINEL_EXAMPLE_DIR:-}" ]; then
    dir="$SENTINEL_EXAMPLE_DIR"; keep=1; mkdir -p "$dir"
else
    dir="$(mktemp -d)"; keep=0
fi
export SENTINEL_EXAMPLE_DIR="$dir"

pids=()
cleanup() {
    trap - EXIT INT TERM
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    sleep 1
    for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
    [ "$keep" = 1 ] || rm -rf "$dir"
    echo "stopped"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

wait_port() { # PORT NAME
    for _ in $(seq 1 150); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
        sleep 0.2
    done
    echo "$2 did not start on port $1; its log:" >&2
    tail -n 20 "$dir/$2.log" >&2
    exit 1
}

start() { # NAME PORT CMD...
    local name="$1" port="$2"; shift 2
    "$@" >"$dir/$name.log" 2>&1 &
    pids+=("$!"); echo "$!" >"$dir/$name.pid"
    wait_port "$port" "$name"
    echo "$name on 127.0.0.1:$port (pid $!, log $dir/$name.log)"
}

server() { # NAME PORT EXTRA...
    local name="$1" port="$2"; shift 2
    mkdir -p "$dir/$name"
    start "$name" "$port" "$BIN_DIR/inmemory-server" --bind 127.0.0.1 --port "$port" --dir "$dir/$name" --save '' "$@"
}

primary=$((base + 1)); sentinel=$((base + 9))
server primary "$primary"
server replica1 $((base + 2)) --replicaof 127.0.0.1 "$primary"
server replica2 $((base + 3)) --replicaof 127.0.0.1 "$primary"

cat >"$dir/sentinel.conf" <<EOF
port $sentinel
bind 127.0.0.1
dir $dir
sentinel monitor mymaster 127.0.0.1 $primary 1
sentinel down-after-milliseconds mymaster 1000
sentinel failover-timeout mymaster 10000
EOF
start sentinel "$sentinel" redis-sentinel "$dir/sentinel.conf"

cat >"$dir/servers.json" <<EOF
{
  "servers": [{"addr": "127.0.0.1:$primary", "name": "mymaster"}],
  "sentinel": {"addrs": ["127.0.0.1:$sentinel"]}
}
EOF
start proxy "$base" "$BIN_DIR/inmemory-proxy" --addr 127.0.0.1 --port "$base" --servers "$dir/servers.json"

echo "ready: proxy on 127.0.0.1:$base; kill -9 \$(cat $dir/primary.pid) to see a failover; Ctrl-C stops (or after ${limit}s)"
end=$((SECONDS + limit))
while [ "$SECONDS" -lt "$end" ]; do
    sleep 1
    if ! kill -0 "${pids[-1]}" 2>/dev/null; then echo "the proxy exited; see $dir/proxy.log" >&2; exit 1; fi
done
