#!/usr/bin/env bash
# Measures the package size after each optimisation step (gzip -9 of the wasm and of the browser JS), printing a
# markdown table, then leaves js/dist built as published. Rebuilds SQLite twice: takes a few minutes.
set -euo pipefail
JS="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
echo "| step | wasm raw | wasm gzipped | JS gzipped | total gzipped |"
echo "|---|---|---|---|---|"
while read -r profile trim opt label; do
    EVENTLITE_WASM_PROFILE="$profile" EVENTLITE_SQLITE_TRIM="$trim" EVENTLITE_WASM_OPT="$opt" \
        bash "$JS/scripts/build.sh" >/dev/null
    node "$JS/scripts/size.mjs" --line "$label"
done <<'STEPS'
release 0 0 1. cargo release profile (opt-level 3, no LTO)
wasm-release 0 0 2. profile wasm-release: opt-level "z", fat LTO, 1 codegen unit
wasm-release 0 1 3. + wasm-opt -Os (npm binaryen)
wasm-release 1 1 4. + SQLite without unused features (SQLITE_WASM_RS_FLAGS): the published package
STEPS
