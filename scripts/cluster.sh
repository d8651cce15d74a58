#!/usr/bin/env bash
# A local inmemory cluster without Docker: the topology of docker-compose.yml as
# plain processes on this machine.
#
#   scripts/cluster.sh up       # build if needed, start 3 data servers + the proxy
#   scripts/cluster.sh status   # what runs (exit 0 only if all four do)
#   scripts/cluster.sh down     # stop them (SIGTERM, SIGKILL after 10 s); data is kept
#
#   inmemory-cli -p 7000 set k v     # through the proxy
#   inmemory-cli -p 7001 keys '*'    # one data server directly
#
# Layout: data servers on BASE+1..BASE+3 with their data in $CLUSTER_DIR/nodeN, the
# proxy on BASE; pid files and logs in $CLUSTER_DIR (nodeN.pid/.log, proxy.pid/.log).
# The proxy reads cluster/servers.json, which names 127.0.0.1:7001-7003; with another
# base port or bind address a servers.json for the chosen ports is written to
# $CLUSTER_DIR/servers.json and used instead.
#
# Environment:
#   CLUSTER_BASE_PORT  proxy port, servers on the next three   (default 7000)
#   CLUSTER_DIR        pid files, logs and node data           (default ./data/cluster)
#   CLUSTER_BIND       address everything listens on           (default 127.0.0.1)
#   CLUSTER_SERVERS    server list for the proxy               (default: see above)
#   CLUSTER_CONNS      proxy connections per server            (default 10)
#   CLUSTER_TIMEOUT    seconds to wait for each process to listen (default 30)
#   BIN_DIR            where the binaries are. Unset: `cargo build --release` builds them
#                      (a no-op when up to date) and target/release is used. Set (tests
#                      use target/debug): used as is; a missing inmemory-proxy is built
#                      with cargo for that profile (debug or release) if BIN_DIR is one.
#
# Exit status: 0 ok; 1 failure (a process did not start: its log's tail is printed);
# 2 usage. Only processes named in the pid files are ever signalled.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
base="${CLUSTER_BASE_PORT:-7000}"
dir="${CLUSTER_DIR:-$root/data/cluster}"
bind="${CLUSTER_BIND:-127.0.0.1}"
conns="${CLUSTER_CONNS:-10}"
start_timeout="${CLUSTER_TIMEOUT:-30}"
cargo="${CARGO:-cargo}"
nodes=(node1 node2 node3)

usage() {
    echo "usage: $0 up|down|status   (see the comment at the top of the script)" >&2
    exit 2
}

case "$base" in '' | *[!0-9]*) echo "CLUSTER_BASE_PORT must be a number, got '$base'" >&2; exit 2 ;; esac
if [ "$base" -lt 1 ] || [ "$base" -gt 65532 ]; then
    echo "CLUSTER_BASE_PORT must be between 1 and 65532, got $base" >&2
    exit 2
fi

port_of() { # NAME -> port
    case "$1" in
        proxy) echo "$base" ;;
        node*) echo $((base + ${1#node})) ;;
    esac
}

# True while PID exists and has not exited (a zombie waiting to be reaped counts as exited).
alive() {
    kill -0 "$1" 2>/dev/null || return 1
    if [ -r "/proc/$1/stat" ]; then
        case "$(sed -E 's/^.*\) ([A-Za-z]).*$/\1/' "/proc/$1/stat" 2>/dev/null)" in Z | X) return 1 ;; esac
    fi
    return 0
}

# True if the pid in DIR/NAME.pid is alive and is an inmemory process.
running_pid() { # NAME -> prints pid
    local f="$dir/$1.pid" pid comm
    [ -f "$f" ] || return 1
    pid="$(cat "$f" 2>/dev/null)"
    case "$pid" in '' | *[!0-9]*) return 1 ;; esac
    alive "$pid" || return 1
    if [ -r "/proc/$pid/comm" ]; then
        comm="$(cat "/proc/$pid/comm")"
        case "$comm" in inmemory-*) ;; *) return 1 ;; esac
    fi
    echo "$pid"
}

# True once something accepts TCP connections on PORT at the bind address.
listening() {
    local host="$bind"
    [ "$host" = "0.0.0.0" ] && host=127.0.0.1
    (exec 3<>"/dev/tcp/$host/$1") 2>/dev/null
}

build() {
    if [ -z "${BIN_DIR:-}" ]; then
        echo "building (cargo build --release) ..."
        (cd "$root" && "$cargo" build --release -q -p inmemory -p inmemory-proxy --bins)
        local target="${CARGO_TARGET_DIR:-$root/target}"
        BIN_DIR="$target/release"
        return
    fi
    if [ ! -x "$BIN_DIR/inmemory-proxy" ]; then
        local profile=()
        case "$(basename "$BIN_DIR")" in
            debug) ;;
            release) profile=(--release) ;;
            *) echo "$BIN_DIR/inmemory-proxy not found (and BIN_DIR is not a cargo profile directory)" >&2; exit 1 ;;
        esac
        echo "building inmemory-proxy (cargo build ${profile[*]:-} -p inmemory-proxy) ..."
        (cd "$root" && CARGO_TARGET_DIR="$(dirname "$BIN_DIR")" "$cargo" build -q "${profile[@]}" -p inmemory-proxy)
    fi
    local b
    for b in inmemory-server inmemory-proxy; do
        if [ ! -x "$BIN_DIR/$b" ]; then
            echo "$BIN_DIR/$b not found: build it first (cargo build)" >&2
            exit 1
        fi
    done
}

servers_file() {
    if [ -n "${CLUSTER_SERVERS:-}" ]; then
        echo "$CLUSTER_SERVERS"
    elif [ "$base" = 7000 ] && [ "$bind" = 127.0.0.1 ]; then
        echo "$root/cluster/servers.json"
    else
        local f="$dir/servers.json" host="$bind" sep="" n
        [ "$host" = "0.0.0.0" ] && host=127.0.0.1
        {
            echo "["
            for n in "${nodes[@]}"; do
                printf '%s  { "addr": "%s:%s", "weight": 500 }' "$sep" "$host" "$(port_of "$n")"
                sep=$',\n'
            done
            printf '\n]\n'
        } >"$f"
        echo "$f"
    fi
}

# start NAME COMMAND...: runs it in the background unless already running, then waits
# until its port accepts connections.
start() {
    local name="$1" port pid deadline
    shift
    port="$(port_of "$name")"
    if pid="$(running_pid "$name")"; then
        echo "$name already running (pid $pid, port $port)"
        return
    fi
    if listening "$port"; then
        echo "$name: port $port is already in use by another program" >&2
        return 1
    fi
    nohup "$@" >>"$dir/$name.log" 2>&1 </dev/null &
    pid=$!
    echo "$pid" >"$dir/$name.pid"
    deadline=$((SECONDS + start_timeout))
    until listening "$port"; do
        if ! alive "$pid" || [ "$SECONDS" -ge "$deadline" ]; then
            echo "$name did not start on port $port; last lines of $dir/$name.log:" >&2
            tail -n 20 "$dir/$name.log" >&2 || true
            return 1
        fi
        sleep 0.1
    done
    echo "$name started (pid $pid, port $port)"
}

stop() { # NAME
    local name="$1" pid deadline
    if pid="$(running_pid "$name")"; then
        kill -TERM "$pid" 2>/dev/null || true
        deadline=$((SECONDS + 10))
        while alive "$pid" && [ "$SECONDS" -lt "$deadline" ]; do
            sleep 0.1
        done
        if alive "$pid"; then
            kill -KILL "$pid" 2>/dev/null || true
        fi
        echo "$name stopped (pid $pid)"
    fi
    rm -f "$dir/$name.pid"
}

cmd_up() {
    build
    mkdir -p "$dir"
    local n servers
    servers="$(servers_file)"
    for n in "${nodes[@]}"; do
        mkdir -p "$dir/$n"
        if ! start "$n" "$BIN_DIR/inmemory-server" --bind "$bind" --port "$(port_of "$n")" --dir "$dir/$n"; then
            cmd_down >/dev/null
            exit 1
        fi
    done
    if ! start proxy "$BIN_DIR/inmemory-proxy" --addr "$bind" --port "$base" --servers "$servers" --conns "$conns"; then
        cmd_down >/dev/null
        exit 1
    fi
    echo "cluster up: proxy on $bind:$base, data servers on $bind:$((base + 1))-$((base + 3)), servers file $servers"
}

cmd_down() {
    local n
    stop proxy
    for n in "${nodes[@]}"; do
        stop "$n"
    done
}

cmd_status() {
    local n pid all=0
    for n in proxy "${nodes[@]}"; do
        if pid="$(running_pid "$n")"; then
            echo "$n: running (pid $pid, port $(port_of "$n"))"
        else
            echo "$n: stopped (port $(port_of "$n"))"
            all=1
        fi
    done
    return "$all"
}

[ $# -eq 1 ] || usage
case "$1" in
    up) cmd_up ;;
    down) cmd_down ;;
    status) cmd_status ;;
    *) usage ;;
esac
