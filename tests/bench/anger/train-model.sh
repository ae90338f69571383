#!/usr/bin/env bash
# Trains config/models/anger.model from the openly licensed sources and writes
# the committed sample of their held-out parts (tests/data/anger/sources).
# Deterministic: the same sources and code give the same bytes. A few seconds.
#
#   tests/bench/anger/train-model.sh [SOURCES_DIR] [BUILD_DIR]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
SRC="${1:-$ROOT/../shared/data/anger-sources}"
BUILD="${2:-$ROOT/build}"
(cd "$SRC" && sha256sum --quiet -c SHA256SUMS)   # the data the recipe names, unchanged
cmake --build "$BUILD" --target calma_anger_train calma_anger_eval >/dev/null
"$BUILD/tests/bench/anger/calma_anger_train" --sources "$SRC" --config "$ROOT/config/calma.json" \
  --project "$ROOT/tests/data/anger/dev" --out "$ROOT/config/models/anger.model" \
  --sample "$ROOT/tests/data/anger/sources"
"$BUILD/tests/bench/anger/calma_anger_eval" --config "$ROOT/config/calma.json" --sources "$SRC"
