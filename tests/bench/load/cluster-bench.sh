#!/bin/bash
# The chat scenario of calma-load against Calma on Redis, alone or as a
# two-node cluster, with the Redis commands it cost (INFO commandstats).
#
#   tests/bench/load/cluster-bench.sh memory|leader|follower RATE [SECONDS] [BUILD_DIR]
#
#   memory    one node, embedded store
#   leader    a leader and a follower on one Redis; every client on the leader
#   follower  the same; every client on the follower (each frame relayed)
#   sharded   two stores with agents of their own on two hub shards, two nodes
#             leading one each; every client on the first node (one store's
#             frames decided there, the other's relayed to the second node);
#             prints each node's strand time per shard
#
# Every run starts from an empty Redis (appendonly yes, appendfsync everysec)
# on port 6391 and servers on 8201/8202 with --threads 1, so that two nodes,
# Redis and the generator share a 2-core machine; stops them at the end.
set -euo pipefail
mode=${1:?memory|leader|follower|sharded}
rate=${2:?messages per second}
secs=${3:-10}
B=${4:-build}
work=$(mktemp -d /tmp/calma-cluster-bench.XXXXXX)
trap 'pkill -f "calma-server --config $work" || true; redis-cli -p 6391 shutdown nosave >/dev/null 2>&1 || true; rm -rf "$work"' EXIT

hash=$(echo loadpass | "$B/server/calma-server" hash-password --iterations 1000)
{
  echo '['
  for i in $(seq 1 20); do
    stores=''; [ "$mode" = sharded ] && stores=",\"stores\":[\"load-$(( (i - 1) % 2 + 1 ))\"]"
    echo "{\"username\":\"loadagent$i\",\"name\":\"Load Agent $i\",\"role\":\"agent\",\"password_hash\":\"$hash\"$stores},"
  done
  echo "{\"username\":\"loadsup\",\"name\":\"Load Supervisor\",\"role\":\"supervisor\",\"password_hash\":\"$hash\"}"
  echo ']'
} > "$work/users.json"
cat > "$work/config.json" <<'EOF'
{"server": {"bind": "127.0.0.1"}, "websocket": {"idle_timeout_s": 3600},
 "rate_limit": {"frames_per_s": 1000000, "burst": 1000000},
 "auth": {"login_attempts_per_minute": 100000, "token_secret": "cluster-bench-secret-0123456789abcdefgh"},
 "routing": {"default_capacity": 11},
 "doors": {"connections_per_address": 100000, "new_connections_per_s": 100000, "new_connections_burst": 100000,
           "conversations_per_min": 1000000, "conversations_burst": 100000, "logins_per_min": 100000, "logins_burst": 100000}}
EOF
if [ "$mode" = sharded ]; then
  python3 - "$work/config.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["stores"] = [{"id": f"load-{i}", "name": f"Load store {i}", "languages": ["en"]} for i in (1, 2)]
c["server"]["shards"] = 2
json.dump(c, open(sys.argv[1], "w"))
PY
fi
server() { "$B/server/calma-server" --config "$work/config.json" --users "$work/users.json" --threads 1 "$@" > "$work/$2.log" 2>&1 & }
if [ "$mode" = memory ]; then
  server --port 8201; port=8201
else
  redis-server --port 6391 --appendonly yes --appendfsync everysec --dir "$work" --daemonize yes > /dev/null
  sleep 0.3
  server --port 8201 --redis redis://127.0.0.1:6391 --node-id L; sleep 1
  server --port 8202 --redis redis://127.0.0.1:6391 --node-id F
  port=8201; [ "$mode" = follower ] && port=8202
fi
sleep 2
extra=()
if [ "$mode" = sharded ]; then
  # Once the second node has settled, the first hands it a shard.
  for _ in $(seq 1 100); do
    curl -s http://127.0.0.1:8201/healthz | grep -q '"leader":"F@' && break
    sleep 0.1
  done
  curl -s http://127.0.0.1:8201/healthz |
    python3 -c 'import json,sys; print("shards led:", {s["stores"][0]: s["leader"].split("@")[0] for s in json.load(sys.stdin)["cluster"]["shards"]})'
  extra=(--stores 2)
fi
"$B/tests/bench/load/calma-load" --url "http://127.0.0.1:$port" --rate "$rate" --duration "$secs" "${extra[@]}" 2>&1 |
  grep -E "throughput|ack latency|delivery latency|correctness"
if [ "$mode" != memory ]; then
  echo "Redis commands over the run (setup included):"
  redis-cli -p 6391 info commandstats | grep -E "cmdstat_(publish|evalsha|eval|xrange|hgetall):" | cut -d, -f1
  redis-cli -p 6391 info cpu | awk -F: '/^used_cpu_(sys|user):/ {t += $2} END {printf "Redis CPU over the run: %.2f s\n", t}'
  # Each node's relay outbox: messages for other members and the PUBLISHes that carried them.
  for p in 8201 8202; do
    echo "node on $p, relay messages / publishes: $(curl -s "http://127.0.0.1:$p/metrics" |
      awk '/^calma_cluster_relay_(messages|publishes)_total/ {printf "%s ", $2}')"
  done
fi
if [ "$mode" = sharded ]; then
  for p in 8201 8202; do
    echo "node on $p, strand seconds per shard: $(curl -s "http://127.0.0.1:$p/metrics" | grep '^calma_hub_shard_busy_seconds_total' | tr '\n' ' ')"
  done
fi
