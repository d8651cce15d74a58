# Helpers shared by the scripts/bench-*.sh scripts (sourced, not run).
#
#   bench_init NAME      WORK (a temporary directory), PIDS (processes
#                        killed and reaped on exit, with WORK removed)
#   need_tools TOOL...   exits unless every tool is in PATH
#   need_redis_server    REDIS_SERVER (default: the one in PATH), or exits
#   need_pin             exits unless --pin can work (taskset, 2+ CPUs)
#   release_dir          the cargo target directory's release/ (honours
#                        CARGO_TARGET_DIR and config, via cargo metadata)
#   free_port            a port on 127.0.0.1 nobody listens on
#   wait_ready PORT [PID]  until PING answers (PID: give up when it exits)
#   cpu_ticks PID        user + system clock ticks of a process so far
#   median V...          the median (the mean of the middle two for an even count)
#   ratio A B            A/B with 2 decimals, n/a when B is not positive
#   geomean V...         "G (N workloads)" over the positive values
# Needs ROOT (the repository root) set before release_dir is called.

bench_init() {
    WORK="$(mktemp -d "${TMPDIR:-/tmp}/bench-$1.XXXXXX")"
    PIDS=()
    trap bench_cleanup EXIT
    trap 'exit 130' INT TERM
}

bench_cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    rm -rf "$WORK"
}

need_tools() {
    local tool
    for tool in "$@"; do
        command -v "$tool" >/dev/null || { echo "$tool not found in PATH" >&2; exit 1; }
    done
}

need_redis_server() {
    REDIS_SERVER="${REDIS_SERVER:-$(command -v redis-server || true)}"
    [[ -x "$REDIS_SERVER" ]] || { echo "redis-server not found (set REDIS_SERVER)" >&2; exit 1; }
}

need_pin() {
    if ! command -v taskset >/dev/null || [[ $(nproc) -lt 2 ]]; then
        echo "--pin needs taskset and at least 2 CPUs" >&2
        exit 1
    fi
}

release_dir() {
    local target
    target="$(cd "$ROOT" && cargo metadata --format-version 1 --no-deps 2>/dev/null |
        sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')"
    echo "${target:-$ROOT/target}/release"
}

# Below the kernel's ephemeral range: a port in that range may be the local
# end of some client's connection (redis-benchmark opens many), and binding
# it then fails. A port handed out once is not handed out again.
BENCH_USED_PORTS=" "
BENCH_EPHEMERAL_LOW="$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)"
[[ "$BENCH_EPHEMERAL_LOW" =~ ^[0-9]+$ && $BENCH_EPHEMERAL_LOW -gt 12000 ]] || BENCH_EPHEMERAL_LOW=32768
free_port() {
    local p
    for _ in $(seq 1 200); do
        p=$((10000 + RANDOM % (BENCH_EPHEMERAL_LOW - 10000)))
        [[ $BENCH_USED_PORTS == *" $p "* ]] && continue
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
            BENCH_USED_PORTS+="$p "
            echo "$p"
            return 0
        fi
    done
    echo "no free port found" >&2
    return 1
}

# With a PID, a process that exits fails at once and quietly (the caller
# may retry on another port); a timeout prints the logs in WORK.
wait_ready() {
    local deadline=$((SECONDS + 10))
    while [[ $SECONDS -lt $deadline ]]; do
        if [[ -n "${2:-}" ]] && ! kill -0 "$2" 2>/dev/null; then
            return 1
        fi
        if [[ "$(redis-cli -h 127.0.0.1 -p "$1" PING 2>/dev/null)" == "PONG" ]]; then
            return 0
        fi
        sleep 0.05
    done
    echo "process on port $1 did not start; logs:" >&2
    tail -n 20 "$WORK"/*.log >&2 || true
    return 1
}

cpu_ticks() { sed 's/.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'; }

median() {
    printf '%s\n' "$@" | sed '/^$/d' | sort -g |
        awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }

geomean() {
    printf '%s\n' "$@" | awk '$1 > 0 { s += log($1); n++ } END { if (n) printf "%.2f (%d workloads)", exp(s / n), n; else print "n/a" }'
}
