#!/bin/bash
# How long clients wait when the cluster's leader goes: a leader and a
# follower on one Redis, N conversations opened and chatted in (calma-load:
# N shoppers, 20 agents, 5 s at 2N msg/s), then the leader is stopped with
# SIGNAL (TERM: gives its lease up; KILL: the lease runs out) and a shopper
# polls the follower until it is welcomed.
#
#   tests/bench/load/failover-bench.sh TERM|KILL [N] [BUILD_DIR]
#
# KILLS: three nodes, N conversations open (shoppers and agents on the
# followers), the leader SIGKILLed ROUNDS times (restarted each time): p50/p99
# of the time from the kill to a follower's client's next ack, and the
# connections of the surviving nodes dropped (failover-clients.mjs).
#
#   tests/bench/load/failover-bench.sh KILLS [N] [BUILD_DIR] [ROUNDS] [PROBES]
#
# TERMS: the same, the leader stopped with SIGTERM each round (it gives its
# lease up at once): the handover, from the signal to a follower's client's ack.
# STOPS: the leader SIGSTOPped until another node leads, then SIGCONTed: it
# steps down alive; its own clients (clients on all three nodes) should stay
# open: p50/p99 from SIGCONT to their next ack, and the others' from SIGSTOP.
#
#   tests/bench/load/failover-bench.sh TERMS|STOPS [N] [BUILD_DIR] [ROUNDS] [PROBES]
#
# SHARDS: three stores, each with its own agents, on three hub shards leased
# one by one, so each of the three nodes leads one; clients on every node;
# each round SIGKILLs the next node: p50/p99 from the kill to the ack of a
# surviving node's client of the shard it led, and of the other shards'
# clients (which should not notice), and the connections dropped.
#
#   tests/bench/load/failover-bench.sh SHARDS [N] [BUILD_DIR] [ROUNDS] [PROBES]
#
# Needs redis-server, and node with a global WebSocket (22, or 20 with
# --experimental-websocket). Ports 6392, 8301, 8302 (KILLS: 8311-8313).
# KEEP=1 keeps the nodes' logs (the temporary directory is named at the end).
set -euo pipefail
sig=${1:?TERM|KILL|KILLS|TERMS|STOPS|SHARDS}
n=${2:-200}
B=${3:-build}
rounds=${4:-10}
probes=${5:-100}
here=$(cd "$(dirname "$0")" && pwd)
W=$(mktemp -d /tmp/calma-failover.XXXXXX)
trap 'pkill -f "calma-server --config $W" || true; redis-cli -p 6392 shutdown nosave >/dev/null 2>&1 || true; if [ -n "${KEEP:-}" ]; then echo "logs kept in $W" >&2; else rm -rf "$W"; fi' EXIT
export CALMA_TOKEN_SECRET=failover-bench-secret-0123456789abcdefgh
redis-server --port 6392 --appendonly yes --appendfsync everysec --dir "$W" --daemonize yes > /dev/null
sleep 0.3
hash=$(echo loadpass | "$B/server/calma-server" hash-password --iterations 1000)
{
  echo '['
  for i in $(seq 1 20); do echo "{\"username\":\"loadagent$i\",\"name\":\"Agent $i\",\"role\":\"agent\",\"password_hash\":\"$hash\"},"; done
  echo "{\"username\":\"loadsup\",\"name\":\"Supervisor\",\"role\":\"supervisor\",\"password_hash\":\"$hash\"}]"
} > "$W/users.json"
echo '{"rate_limit":{"frames_per_s":1000000,"burst":1000000},"auth":{"login_attempts_per_minute":100000},"routing":{"default_capacity":1000,"disconnect_grace_s":600},
  "doors":{"connections_per_address":100000,"new_connections_per_s":100000,"new_connections_burst":100000,"conversations_per_min":1000000,"conversations_burst":100000,"logins_per_min":100000,"logins_burst":100000},
  "escalation":{"queue_wait_s":3600,"unanswered_s":3600}}' > "$W/config.json"
if [ "$sig" = SHARDS ]; then
  {
    echo '['
    for i in $(seq 1 21); do echo "{\"username\":\"loadagent$i\",\"name\":\"Agent $i\",\"role\":\"agent\",\"password_hash\":\"$hash\",\"stores\":[\"store$((i % 3 + 1))\"]},"; done
    echo "{\"username\":\"loadsup\",\"name\":\"Supervisor\",\"role\":\"supervisor\",\"password_hash\":\"$hash\"}]"
  } > "$W/users.json"
  python3 - "$W/config.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["stores"] = [{"id": f"store{i}", "name": f"Store {i}", "languages": ["en"]} for i in (1, 2, 3)]
c["server"] = {"shards": 3}
json.dump(c, open(sys.argv[1], "w"))
PY
  CALMA_SERVER="$B/server/calma-server" CALMA_CONFIG="$W/config.json" CALMA_USERS="$W/users.json" \
    CALMA_REDIS=redis://127.0.0.1:6392 CALMA_LOGDIR="$W" CALMA_STORES=store1,store2,store3 \
    node --experimental-websocket "$here/failover-clients.mjs" "$n" 21 "$probes" "$rounds" SHARD 2>/dev/null
  grep -hE "hands shard|now leads shard" "$W"/n*.log | cut -c1-160 | tail -6
  exit 0
fi
if [ "$sig" = KILLS ] || [ "$sig" = TERMS ] || [ "$sig" = STOPS ]; then
  CALMA_SERVER="$B/server/calma-server" CALMA_CONFIG="$W/config.json" CALMA_USERS="$W/users.json" \
    CALMA_REDIS=redis://127.0.0.1:6392 CALMA_LOGDIR="$W" \
    node --experimental-websocket "$here/failover-clients.mjs" "$n" 20 "$probes" "$rounds" "${sig%S}" 2>/dev/null
  grep -hE "loaded|said hello again|kept open|gave its lease up" "$W"/n*.log | cut -c1-160 | tail -6
  exit 0
fi
"$B/server/calma-server" --config "$W/config.json" --users "$W/users.json" --redis redis://127.0.0.1:6392 --node-id a --port 8301 > "$W/a.log" 2>&1 &
leader=$!
sleep 1
"$B/server/calma-server" --config "$W/config.json" --users "$W/users.json" --redis redis://127.0.0.1:6392 --node-id b --port 8302 > "$W/b.log" 2>&1 &
sleep 1.5
"$B/tests/bench/load/calma-load" --url http://127.0.0.1:8301 --shoppers "$n" --rate $((n * 2)) --duration 5 2>&1 |
  grep -E "^chat:|^correctness" | cut -c1-100
kill "-$sig" "$leader"
node --experimental-websocket "$here/first-welcome.mjs" 8302 2>/dev/null | sed 's/^/a shopper welcomed by the follower after (ms): /'
grep -E "now leads|serving as the leader" "$W/b.log" | cut -c12-
