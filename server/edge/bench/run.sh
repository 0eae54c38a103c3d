#!/usr/bin/env bash
# The edge benchmark: builds the Durable Object's wasm, starts wrangler dev (local, SQLite-backed Durable Objects,
# state in a temporary directory) on a free port, and runs `cargo bench -p eventlite-server --bench edge`, which
# measures it and the axum server on embedded SQLite side by side, in one run, and prints the ratios.
# Usage, from anywhere: bash server/edge/bench/run.sh
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
cd "$ROOT"
# One target directory for the wasm build (which reads its output from it) and the benchmark.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
# shellcheck source=../../../scripts/lib.sh
source scripts/lib.sh
# shellcheck source=../wrangler-dev.sh
source server/edge/wrangler-dev.sh

npm_ci server/edge
bash server/edge/build-wasm.sh
WORK="$(mktemp -d "${TMPDIR:-/tmp}/eventlite-edge-bench-XXXXXX")"
trap 'kill_edge "$WORK"; rm -rf "$WORK"' EXIT
free_port >"$WORK/port"
start_edge "$WORK"
EVENTLITE_BENCH_EDGE_URL="http://127.0.0.1:$(cat "$WORK/port")" EVENTLITE_BENCH_EDGE_JWT_SECRET="$EDGE_SECRET" \
    cargo bench --locked -p eventlite-server --bench edge
