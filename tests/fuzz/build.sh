#!/usr/bin/env bash
# Builds the libFuzzer targets of tests/fuzz in their own clang tree
# (ASan + UBSan + coverage everywhere), leaving the normal g++ tree alone.
#
#   tests/fuzz/build.sh [DIR]     DIR: default $CALMA_FUZZ_DIR, else build-fuzz
#
# Needs clang and libFuzzer: Debian's clang and libclang-rt-14-dev (scripts/calma setup).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
DIR="${1:-${CALMA_FUZZ_DIR:-$ROOT/build-fuzz}}"
JOBS="${CALMA_JOBS:-$(nproc)}"
CXX="${CALMA_FUZZ_CXX:-$(command -v clang++-14 || command -v clang++ || true)}"
if [ -z "$CXX" ]; then
  echo "tests/fuzz/build.sh: no clang++ (apt-get install clang libclang-rt-14-dev)" >&2
  exit 1
fi
export CCACHE_BASEDIR="${CCACHE_BASEDIR:-$ROOT}" CCACHE_NOHASHDIR="${CCACHE_NOHASHDIR:-1}"
# -O1 and line tables: the usual libFuzzer trade-off (fast enough, readable stacks); asserts on.
cmake -S "$ROOT" -B "$DIR" -DCMAKE_CXX_COMPILER="$CXX" -DCALMA_FUZZ=ON -DCALMA_BUILD_TESTS=OFF \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -gline-tables-only" >/dev/null
cmake --build "$DIR" -j "$JOBS" --target fuzz_targets
