#!/usr/bin/env bash
# Runs one libFuzzer target for a while on its seeds and what it found before.
#
#   tests/fuzz/run.sh TARGET SECONDS [--bin FILE] [--work DIR] [libFuzzer flags...]
#
# TARGET: fuzz_protocol, fuzz_http, fuzz_anger or fuzz_redis_reply.
# --bin:  the target's binary (default build-fuzz/tests/fuzz/TARGET; tests/fuzz/build.sh builds it).
# --work: where the corpus it grows (WORK/TARGET) and crash files (WORK/TARGET-crash-*) go
#         (default build-fuzz/work). The seeds (tests/fuzz/seeds/NAME) are only read.
# Exit: 0 when nothing was found, libFuzzer's status (crash, leak, UB, timeout) otherwise,
# 77 when the binary is not built (ctest shows the test as skipped).
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
if [ $# -lt 2 ]; then sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 2; fi
TARGET="$1"; SECONDS_="$2"; shift 2
BIN="$ROOT/build-fuzz/tests/fuzz/$TARGET"
WORK="$ROOT/build-fuzz/work"
while [ $# -gt 0 ]; do
  case "$1" in
    --bin) BIN="$2"; shift 2 ;;
    --work) WORK="$2"; shift 2 ;;
    *) break ;;
  esac
done
NAME="${TARGET#fuzz_}"
SEEDS="$ROOT/tests/fuzz/seeds/$NAME"
DICT="$ROOT/tests/fuzz/dict/$NAME.dict"
if [ ! -x "$BIN" ]; then
  echo "$TARGET: $BIN is not built; build the fuzz targets with tests/fuzz/build.sh (scripts/calma test does)"
  exit 77
fi
mkdir -p "$WORK/$TARGET"
# Exit codes of our own: libFuzzer's default for a crash is 77, which ctest would read as "skipped".
args=(-max_total_time="$SECONDS_" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1
      -error_exitcode=1 -timeout_exitcode=2 -artifact_prefix="$WORK/$TARGET-")
[ -f "$DICT" ] && args+=(-dict="$DICT")
# Function names and lines in the reports (Debian's llvm-14 has it off PATH).
if [ -z "${ASAN_SYMBOLIZER_PATH:-}" ] && ! command -v llvm-symbolizer >/dev/null && [ -x /usr/lib/llvm-14/bin/llvm-symbolizer ]; then
  export ASAN_SYMBOLIZER_PATH=/usr/lib/llvm-14/bin/llvm-symbolizer
fi
log="$WORK/$TARGET.log"
echo "$TARGET: ${SECONDS_} s; corpus $WORK/$TARGET, seeds $SEEDS"
ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1}" UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1}" \
  "$BIN" "${args[@]}" "$@" "$WORK/$TARGET" "$SEEDS" >"$log" 2>&1
rc=$?
# What it did: the last status line, the final stats, and any report.
grep -E '^#[0-9]+[[:space:]]+(INITED|DONE)' "$log" | tail -2
grep -E '^stat::(number_of_executed_units|average_exec_per_sec|peak_rss_mb)' "$log"
if [ $rc -ne 0 ]; then
  echo "$TARGET: FAILED (exit $rc); the report (full log: $log):"
  grep -nE 'ERROR|SUMMARY|runtime error|fuzz_[a-z_]+: |Test unit written|deadly signal|timeout' "$log" | head -40
  tail -60 "$log"
fi
exit $rc
