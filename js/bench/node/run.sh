#!/usr/bin/env bash
# The Node benchmark (one run, prints a table): builds the package, the addon and core's side (examples/core_bench.rs),
# installs the packed package into a fresh project and better-sqlite3 here (js/bench/node/node_modules), then runs
# bench.mjs. Usage: bash js/bench/node/run.sh [events]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
cd "$ROOT"
# shellcheck source=../../../scripts/lib.sh
source scripts/lib.sh
[ -f js/dist/addon.js ] || bash js/scripts/build.sh
bash js/scripts/build-addon.sh
cargo build --quiet --locked --release -p eventlite-node --example core_bench
npm_ci js/bench/node
WORK="$(mktemp -d "${TMPDIR:-/tmp}/eventlite-bench.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
mapfile -t TARBALLS < <(bash js/scripts/pack.sh "$WORK")
mkdir -p "$WORK/app" && echo '{ "name": "bench-app", "private": true, "type": "module" }' >"$WORK/app/package.json"
(cd "$WORK/app" && npm install --no-audit --no-fund --silent "${TARBALLS[@]}")
node js/bench/node/bench.mjs "$WORK/app/node_modules/eventlite/dist/node.js" \
    "${CARGO_TARGET_DIR:-$ROOT/target}/release/examples/core_bench" "${1:-5000}"
