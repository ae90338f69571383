#!/usr/bin/env bash
# Instructions per chat message in calma-server, counted by valgrind's
# callgrind (robust to other jobs on the machine, unlike time).
#
#   tests/bench/peer/callgrind.sh [BUILD_DIR] [PAIRS] [RATE]
#
# Two runs of calma-load's chat scenario with the server under callgrind, the
# same setup, D1 and D2 seconds of traffic at RATE msg/s: the difference of
# the server's instruction counts over the difference of delivered messages is
# the cost of one message (setup, start-up and exit cancel out). Prints it and
# the top functions (inclusive) of the longer run; the outputs stay in
# $OUT (default /tmp/calma-callgrind).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
build="$(cd "${1:-$root/build}" && pwd)"
pairs="${2:-100}"
rate="${3:-400}"
agents="${AGENTS:-$pairs}"
d1="${D1:-2}"
d2="${D2:-6}"
out="${OUT:-/tmp/calma-callgrind}"
mkdir -p "$out"
wrap="$out/calma-server-callgrind"
cat > "$wrap" <<EOF
#!/bin/sh
exec valgrind --tool=callgrind --callgrind-out-file=$out/callgrind.out.\$\$ "$build/server/calma-server" "\$@"
EOF
chmod +x "$wrap"

run() {  # duration -> "pid delivered"
  local json
  json="$("$build/tests/bench/load/calma-load" --scenario chat --server "$wrap" --server-threads 1 \
    --agents "$agents" --shoppers "$pairs" --rate "$rate" --duration "$1" --words 16 --setup-timeout 300 \
    --drain-timeout 30 --json 2>"$out/load-$1.log")"
  node -e 'const j=JSON.parse(process.argv[1]); console.log(j.server.pid, j.window.delivered_within_window, j.correctness.ok)' "$json"
}
read -r pid1 n1 ok1 < <(run "$d1")
read -r pid2 n2 ok2 < <(run "$d2")
ir() { grep -m1 '^summary:\|^totals:' "$out/callgrind.out.$1" | awk '{print $2}'; }
i1="$(ir "$pid1")"; i2="$(ir "$pid2")"
echo "run 1: ${d1}s, $n1 delivered, checks $ok1, $i1 instructions"
echo "run 2: ${d2}s, $n2 delivered, checks $ok2, $i2 instructions"
echo "instructions per message: $(( (i2 - i1) / (n2 - n1) ))"
callgrind_annotate --inclusive=yes "$out/callgrind.out.$pid2" 2>/dev/null | head -60 > "$out/top-inclusive.txt" || true
callgrind_annotate "$out/callgrind.out.$pid2" 2>/dev/null | head -60 > "$out/top-self.txt" || true
echo "top functions: $out/top-inclusive.txt, $out/top-self.txt (callgrind.out.$pid2)"
