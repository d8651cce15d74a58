#!/bin/bash
# Resharding figures: two identical clusters (1M keys on 2 data servers
# each, a proxy in front); a third server is added to cluster X only; while
# X migrates, P1 GET slices (redis-benchmark) alternate between X and its
# idle twin Y, and each slice's p99 (ms) is printed, X then Y.
#
# Usage: proxy/scripts/bench-reshard.sh [RATE] (keys/s, default 20000; 0: no limit)
# Binaries from $BIN (default target/release); ports BASE+10..BASE+22 (BASE=31000).
RATE=${1:-20000}
B=${BIN:-target/release}
D=$(mktemp -d)
BASE=${BASE:-31000}
PIDS=()
trap 'kill ${PIDS[@]} 2>/dev/null; rm -rf $D' EXIT
for p in $((BASE+10)) $((BASE+11)) $((BASE+12)) $((BASE+13)) $((BASE+20)) $((BASE+21)) $((BASE+22)); do redis-cli -p $p ping >/dev/null 2>&1 && { echo "port $p busy"; exit 1; }; done
for p in $((BASE+11)) $((BASE+12)) $((BASE+13)) $((BASE+21)) $((BASE+22)); do mkdir -p $D/$p; $B/inmemory-server --port $p --save '' --appendonly no --dir $D/$p >$D/s$p.log 2>&1 & PIDS+=($!); done
srv() { local out=""; for p in "$@"; do out="$out${out:+,}{\"addr\":\"127.0.0.1:$p\"}"; done; echo "[$out]"; }
srv $((BASE+11)) $((BASE+12)) > $D/x.json
srv $((BASE+21)) $((BASE+22)) > $D/y.json
sleep 0.5
$B/inmemory-proxy --port $((BASE+10)) --servers $D/x.json --reshard-rate $RATE > $D/px.log 2>&1 & PIDS+=($!)
$B/inmemory-proxy --port $((BASE+20)) --servers $D/y.json --reshard-rate $RATE > $D/py.log 2>&1 & PIDS+=($!)
sleep 0.5
for port in $((BASE+10)) $((BASE+20)); do
awk 'BEGIN{for(i=0;i<1000000;i++) printf "*3\r\n$3\r\nSET\r\n$16\r\nkey:%012d\r\n$3\r\nxxx\r\n", i}' | redis-cli -p $port --pipe | tail -1
done
p99() { redis-benchmark -p $1 -t get -P 1 -c 20 -n 20000 -r 1000000 2>/dev/null | grep -A2 "latency summary" | tail -1 | awk '{print $5}'; }
echo "before: X Y"; for i in 1 2 3 4 5 6; do echo "$(p99 $((BASE+10))) $(p99 $((BASE+20)))"; done
srv $((BASE+11)) $((BASE+12)) $((BASE+13)) > $D/x.json
sleep 0.3
echo "during: X Y"
while redis-cli -p $((BASE+10)) info resharding | grep -q "reshard_state:migrating"; do echo "$(p99 $((BASE+10))) $(p99 $((BASE+20)))"; done
redis-cli -p $((BASE+10)) info resharding | grep -E "elapsed|moved|previous|state"
echo "after: X Y"; for i in 1 2 3 4 5 6; do echo "$(p99 $((BASE+10))) $(p99 $((BASE+20)))"; done
for p in $((BASE+11)) $((BASE+12)) $((BASE+13)); do redis-cli -p $p dbsize; done
