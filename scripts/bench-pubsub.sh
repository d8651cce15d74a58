#!/usr/bin/env bash
# Pub/Sub throughput of inmemory-server against a real redis-server (and
# through inmemory-proxy), in messages delivered to subscribers per second.
#
# Usage: scripts/bench-pubsub.sh [--rounds N] [--quick] [--pin] [--no-proxy] [--payload BYTES]
#   --rounds N     runs per scenario and server; the median is shown (default 3)
#   --quick        1 round and a tenth of the messages (a smoke run)
#   --pin          both servers on CPU 1, the driver on CPU 0 (same core budget
#                  for both servers; the proxy shares CPU 1 with its server)
#   --no-proxy     skip (c), the proxy comparison
#   --payload N    message size in bytes (default 32)
#   OURS=<dir>     use the inmemory-server and inmemory-proxy binaries in that
#                  directory instead of building this checkout
#
# Scenarios (redis-benchmark cannot subscribe: a driver written in Python,
# below, plays every client, identically for every server):
#   (a) fan-out: 1 publisher pipelining PUBLISH to 1 channel, 50 subscribers
#   (b) many:    50 publishers, each pipelining PUBLISH to its own channel,
#                one subscriber per channel
#   (c) (a) and (b) through inmemory-proxy in front of one inmemory-server,
#       against that server directly
# The figure is messages received by all subscribers together per second,
# from the first PUBLISH sent to the last message received. Every message
# is checked to arrive (bytes counted exactly per subscriber, the first
# message and PUBLISH reply compared). Publishers keep at most a window of
# PUBLISH unanswered and stop sending while a subscriber of their channel
# is more than 20,000 messages behind, so no server ever buffers more than
# about 1 MiB per subscriber (under every output limit) and the rate is the
# steady state of subscribers that keep up.
#
# Both servers listen on free ports on 127.0.0.1 without persistence
# (--save "" --appendonly no). Runs alternate between the servers (ours
# first in odd rounds, redis first in even ones) so background load affects
# both alike. Works from any directory; kills everything it started on exit.
set -euo pipefail

ROUNDS=3
QUICK=0
PIN=0
PROXY=1
PAYLOAD=32

while [[ $# -gt 0 ]]; do
    case "$1" in
        --rounds) ROUNDS="${2:?--rounds needs a number}"; shift 2 ;;
        --quick) QUICK=1; ROUNDS=1; shift ;;
        --pin) PIN=1; shift ;;
        --no-proxy) PROXY=0; shift ;;
        --payload) PAYLOAD="${2:?--payload needs a size}"; shift 2 ;;
        -h|--help) sed -n '2,/^set /{ /^#/p; }' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "unknown option: $1 (see --help)" >&2; exit 2 ;;
    esac
done
[[ "$ROUNDS" =~ ^[1-9][0-9]*$ ]] || { echo "--rounds must be a positive integer" >&2; exit 2; }
[[ "$PAYLOAD" =~ ^[1-9][0-9]*$ ]] || { echo "--payload must be a positive integer" >&2; exit 2; }

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/bench-lib.sh
source "$ROOT/scripts/bench-lib.sh"
need_tools python3 redis-cli
need_redis_server
[[ $PIN == 1 ]] && need_pin
bench_init pubsub

if [[ -n "${OURS:-}" ]]; then
    BIN_DIR="$OURS"
else
    echo "== building inmemory-server and inmemory-proxy (release)" >&2
    (cd "$ROOT" && cargo build --release --quiet --bin inmemory-server -p inmemory)
    [[ $PROXY == 1 ]] && (cd "$ROOT" && cargo build --release --quiet -p inmemory-proxy)
    BIN_DIR="$(release_dir)"
fi
[[ -x "$BIN_DIR/inmemory-server" ]] || { echo "no inmemory-server in $BIN_DIR" >&2; exit 1; }
if [[ $PROXY == 1 && ! -x "$BIN_DIR/inmemory-proxy" ]]; then
    echo "no inmemory-proxy in $BIN_DIR (use --no-proxy to skip (c))" >&2
    exit 1
fi

# The driver: every publisher and subscriber of one run, in one thread
# (non-blocking sockets and a selector); bytes are counted, not parsed, as
# each subscriber's messages all have one known size. Prints a JSON line.
cat >"$WORK/driver.py" <<'PY'
import json, selectors, socket, sys, time

def arg(name, default):
    return type(default)(sys.argv[sys.argv.index(name) + 1]) if name in sys.argv else default

port = arg("--port", 6379)
channels = arg("--channels", 1)
publishers = arg("--publishers", 1)
subs_per_channel = arg("--subs", 50)
messages = arg("--messages", 100000)  # per publisher
payload = b"x" * arg("--payload", 32)
batch = arg("--batch", 100)
window = arg("--window", 1000)  # unanswered PUBLISH per publisher
lag = arg("--lag", 20000)  # messages a subscriber may be behind

def bulk(b):
    return b"$%d\r\n%s\r\n" % (len(b), b)

def connect():
    s = socket.create_connection(("127.0.0.1", port))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s

def read_exact(s, n):
    got = b""
    while len(got) < n:
        chunk = s.recv(n - len(got))
        if not chunk:
            sys.exit("connection closed during set-up")
        got += chunk
    return got

names = [b"bench:%03d" % c for c in range(channels)]
frame = [b"*3\r\n" + bulk(b"message") + bulk(n) + bulk(payload) for n in names]
sel = selectors.DefaultSelector()
subs = []  # [socket, channel, bytes received]
for c, name in enumerate(names):
    for _ in range(subs_per_channel):
        s = connect()
        s.sendall(b"*2\r\n" + bulk(b"SUBSCRIBE") + bulk(name))
        confirm = b"*3\r\n" + bulk(b"subscribe") + bulk(name) + b":1\r\n"
        if read_exact(s, len(confirm)) != confirm:
            sys.exit("unexpected SUBSCRIBE confirmation")
        s.setblocking(False)
        sub = [s, c, 0, b""]
        subs.append(sub)
        sel.register(s, selectors.EVENT_READ, ("sub", sub))
reply = b":%d\r\n" % subs_per_channel
pubs = []  # dicts
for p in range(publishers):
    c = p % channels
    s = connect()
    s.setblocking(False)
    cmd = b"*3\r\n" + bulk(b"PUBLISH") + bulk(names[c]) + bulk(payload)
    pub = {"sock": s, "chan": c, "cmd": cmd, "sent": 0, "acked_bytes": 0, "out": memoryview(b""), "first": b""}
    pubs.append(pub)
    sel.register(s, selectors.EVENT_READ, ("pub", pub))
published = [0] * channels  # messages handed to the socket, per channel
subs_of = [[s for s in subs if s[1] == c] for c in range(channels)]
expected_per_channel = [0] * channels
for pub in pubs:
    expected_per_channel[pub["chan"]] += messages
total = sum(expected_per_channel[s[1]] for s in subs)
buf = bytearray(1 << 20)

def try_send(pub):
    out = pub["out"]
    try:
        n = pub["sock"].send(out)
    except BlockingIOError:
        n = 0
    pub["out"] = out[n:]
    events = selectors.EVENT_READ | (selectors.EVENT_WRITE if len(pub["out"]) else 0)
    sel.modify(pub["sock"], events, ("pub", pub))

start = time.perf_counter()
done_subs = 0
while True:
    for pub in pubs:
        if len(pub["out"]) or pub["sent"] == messages:
            continue
        acked = pub["acked_bytes"] // len(reply)
        c = pub["chan"]
        slowest = min(s[2] for s in subs_of[c]) // len(frame[c])
        if pub["sent"] - acked >= window or published[c] - slowest >= lag:
            continue
        n = min(batch, messages - pub["sent"])
        pub["sent"] += n
        published[c] += n
        pub["out"] = memoryview(pub["cmd"] * n)
        try_send(pub)
    if done_subs == len(subs) and all(p["acked_bytes"] == messages * len(reply) for p in pubs):
        break
    events = sel.select(timeout=30)
    if not events:
        sys.exit("no progress for 30 s")
    for key, mask in events:
        kind, obj = key.data
        if kind == "sub":
            n = obj[0].recv_into(buf)
            if n == 0:
                sys.exit("a subscriber was disconnected")
            if len(obj[3]) < len(frame[obj[1]]):
                obj[3] += bytes(buf[: len(frame[obj[1]]) - len(obj[3])])
            before = obj[2]
            obj[2] += n
            want = expected_per_channel[obj[1]] * len(frame[obj[1]])
            if before < want <= obj[2]:
                done_subs += 1
            if obj[2] > want:
                sys.exit("a subscriber received more than was published")
        else:
            if mask & selectors.EVENT_WRITE:
                try_send(obj)
            if mask & selectors.EVENT_READ:
                try:
                    n = obj["sock"].recv_into(buf)
                except BlockingIOError:
                    continue
                if n == 0:
                    sys.exit("a publisher was disconnected")
                if len(obj["first"]) < len(reply):
                    obj["first"] += bytes(buf[: len(reply) - len(obj["first"])])
                obj["acked_bytes"] += n
elapsed = time.perf_counter() - start
for s in subs:
    if s[3] != frame[s[1]]:
        sys.exit("unexpected message %r" % s[3])
for p in pubs:
    if p["first"] != reply:
        sys.exit("unexpected PUBLISH reply %r (a subscriber missing?)" % p["first"])
print(json.dumps({"delivered": total, "seconds": elapsed, "rate": total / elapsed}))
PY


SERVER_CPU=()
DRIVER_CPU=()
if [[ $PIN == 1 ]]; then
    SERVER_CPU=(taskset -c 1)
    DRIVER_CPU=(taskset -c 0)
fi

OURS_PORT="$(free_port)"
mkdir -p "$WORK/ours" "$WORK/redis"
"${SERVER_CPU[@]}" "$BIN_DIR/inmemory-server" --port "$OURS_PORT" --bind 127.0.0.1 --save "" --appendonly no \
    --dir "$WORK/ours" --loglevel warning >"$WORK/ours.log" 2>&1 &
PIDS+=($!)
wait_ready "$OURS_PORT"

REDIS_PORT="$(free_port)"
"${SERVER_CPU[@]}" "$REDIS_SERVER" --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no \
    --dir "$WORK/redis" --daemonize no --loglevel warning --logfile "" >"$WORK/redis.log" 2>&1 &
PIDS+=($!)
wait_ready "$REDIS_PORT"

PROXY_PORT=""
if [[ $PROXY == 1 ]]; then
    PROXY_PORT="$(free_port)"
    echo "[{ \"addr\": \"127.0.0.1:$OURS_PORT\", \"weight\": 500 }]" >"$WORK/servers.json"
    "${SERVER_CPU[@]}" "$BIN_DIR/inmemory-proxy" --port "$PROXY_PORT" --servers "$WORK/servers.json" \
        --loglevel warning >"$WORK/proxy.log" 2>&1 &
    PIDS+=($!)
    wait_ready "$PROXY_PORT"
fi

# The driver's arguments for a scenario.
scenario_args() {
    local scale=1
    [[ $QUICK == 1 ]] && scale=10
    case "$1" in
        a) echo "--channels 1 --publishers 1 --subs 50 --messages $((200000 / scale)) --batch 100 --window 1000" ;;
        b) echo "--channels 50 --publishers 50 --subs 1 --messages $((40000 / scale)) --batch 50 --window 200" ;;
    esac
}

# Runs scenario $1 against port $2; prints messages delivered per second.
run() {
    # shellcheck disable=SC2046
    "${DRIVER_CPU[@]}" python3 "$WORK/driver.py" --port "$2" --payload "$PAYLOAD" $(scenario_args "$1") |
        python3 -c 'import json,sys; print(int(json.load(sys.stdin)["rate"]))'
}

declare -A RATES
for round in $(seq 1 "$ROUNDS"); do
    order="ours redis"
    [[ $((round % 2)) == 0 ]] && order="redis ours"
    [[ $PROXY == 1 ]] && order="$order proxy"
    for sc in a b; do
        for who in $order; do
            case "$who" in
                ours) port=$OURS_PORT ;;
                redis) port=$REDIS_PORT ;;
                proxy) port=$PROXY_PORT ;;
            esac
            rate="$(run "$sc" "$port")"
            RATES[$sc:$who]="${RATES[$sc:$who]:-} $rate"
            printf 'round %d  %-2s %-6s %12s msg/s\n' "$round" "$sc" "$who" "$rate" >&2
        done
    done
done

echo
echo "Pub/Sub, messages delivered per second (median of $ROUNDS; payload $PAYLOAD B$([[ $PIN == 1 ]] && echo ', pinned'))"
printf '%-44s %12s %12s %8s\n' scenario ours redis ours/redis
for sc in a b; do
    # shellcheck disable=SC2086
    ours="$(median ${RATES[$sc:ours]})"
    # shellcheck disable=SC2086
    redis="$(median ${RATES[$sc:redis]})"
    label="(a) 1 publisher, 1 channel, 50 subscribers"
    [[ $sc == b ]] && label="(b) 50 publishers, 50 channels, 1 sub each"
    printf '%-44s %12.0f %12.0f %8s\n' "$label" "$ours" "$redis" "$(ratio "$ours" "$redis")"
done
if [[ $PROXY == 1 ]]; then
    echo
    printf '%-44s %12s %12s %8s\n' "(c) through inmemory-proxy" proxy direct proxy/direct
    for sc in a b; do
        # shellcheck disable=SC2086
        proxy="$(median ${RATES[$sc:proxy]})"
        # shellcheck disable=SC2086
        ours="$(median ${RATES[$sc:ours]})"
        printf '%-44s %12.0f %12.0f %8s\n' "($sc) via proxy (1 server behind it)" "$proxy" "$ours" "$(ratio "$proxy" "$ours")"
    done
fi
