#!/usr/bin/env bash
# Where calma-server's heap goes per connection: the server under heaptrack
# (Debian's `heaptrack`), calma-load's idle or chat setup against it, then the
# top allocation sites at the peak, with their call counts (divide by the
# connections or conversations for bytes per each).
#
#   tests/bench/peer/heaptrack.sh [BUILD_DIR] [idle|chat]
#
# idle: 2000 shoppers say hello and wait; chat: 100 agents, 1000 conversations
# assigned, a second of 10 msg/s. The server runs with --threads 1. Outputs
# stay in $OUT (default /tmp/calma-heaptrack). The peak is the heap's highest
# point, which for idle falls during the connection burst (HTTP sessions still
# alive beside the WebSocket sessions): read the sites, not the total.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
build="$(cd "${1:-$root/build}" && pwd)"
scenario="${2:-idle}"
out="${OUT:-/tmp/calma-heaptrack}"
mkdir -p "$out"
load="$build/tests/bench/load/calma-load"

# calma-load's own config (the doors' limits lifted) and users file (agents with its password).
"$load" --scenario chat --agents 100 --shoppers 1 --rate 1 --duration 1 --server-threads 1 --keep-files \
  >/dev/null 2>"$out/keep.log"
cfg="$(grep -o '/tmp/calma-load-[0-9]*-config.json' "$out/keep.log" | head -1)"
users="${cfg%-config.json}-users.json"
node -e 'const fs=require("fs"); const c=JSON.parse(fs.readFileSync(process.argv[1])); c.routing.default_capacity=11;
         c.server.threads=1; fs.writeFileSync(process.argv[2], JSON.stringify(c));' "$cfg" "$out/config.json"
cp "$users" "$out/users.json"
rm -f "$cfg" "$users"

rm -f "$out/ht.$scenario.zst"
heaptrack -o "$out/ht.$scenario" "$build/server/calma-server" --port 0 --bind 127.0.0.1 \
  --config "$out/config.json" --users "$out/users.json" >"$out/server.log" 2>&1 &
hp=$!
port=""
for _ in $(seq 100); do
  port="$(grep -o 'listening on http://127.0.0.1:[0-9]*' "$out/server.log" | grep -o '[0-9]*$' || true)"
  [ -n "$port" ] && break
  sleep 0.2
done
[ -n "$port" ] || { echo "the server did not start: $out/server.log" >&2; kill -TERM "$hp"; exit 1; }
server_pid="$(pgrep -P "$hp" -x calma-server)"

if [ "$scenario" = idle ]; then
  "$load" --url "http://127.0.0.1:$port" --scenario idle --connections 2000 >"$out/load.txt" 2>&1
else
  "$load" --url "http://127.0.0.1:$port" --scenario chat --agents 100 --shoppers 1000 --words 16 --rate 10 \
    --duration 1 --setup-timeout 120 --password loadpass >"$out/load.txt" 2>&1
fi
grep VmRSS "/proc/$server_pid/status" || true
kill -TERM "$server_pid"
wait "$hp" || true

heaptrack_print -f "$out/ht.$scenario.zst" -p 1 -a 0 -T 0 -n 40 -s 4 >"$out/peak.$scenario.txt" 2>&1
grep 'peak heap memory consumption' "$out/peak.$scenario.txt"
grep -E '^[0-9.]+[KMG]?B? peak memory consumed over [0-9]+ calls from' -A1 "$out/peak.$scenario.txt" |
  grep -v '^--$' | paste - - | sed -E 's/ peak memory consumed over ([0-9]+) calls from\s*/  (\1 calls)  /' | cut -c1-200 | head -30
echo "full listing: $out/peak.$scenario.txt"
