#!/usr/bin/env bash
# Builds the package and the benchmark's wasm, then runs the browser benchmark (prints the figures).
set -euo pipefail
JS="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$JS/scripts/build.sh"
bash "$JS/scripts/build.sh" --bench-wasm
node "$JS/bench/run.mjs"
