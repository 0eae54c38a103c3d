#!/usr/bin/env bash
# Builds what the demo needs and runs its tests:
#   1. the sync server binary (`eventlite`, debug) and the `eventlite` npm package (js/scripts/build.sh)
#   2. the demo app (www/, Vite) into www/dist
#   3. the package's SyncClient in Node against a real `eventlite serve` (js/test/sync.test.mjs)
#   4. the demo in Debian's Chromium (Playwright): two browser contexts = two devices, offline then online,
#      convergence with the server's log, a conflict, and OPFS across a reload (www/test/demo.test.mjs)
#   5. `vite dev` on the demo with the linked package (www/test/dev.test.mjs)
# Idempotent: `npm ci` runs only when node_modules is missing or older than its package-lock.json.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"


# shellcheck source=lib.sh
source scripts/lib.sh

step "server: cargo build -p eventlite-server --bin eventlite"
cargo build --locked -p eventlite-server --bin eventlite
export EVENTLITE_BIN="$TARGET_DIR/debug/eventlite"

step "js: npm dependencies and the package build"
npm_ci js
bash js/scripts/build.sh

step "www: npm dependencies and the demo build (www/dist)"
npm_ci www
(cd www && node_modules/.bin/vite build)

step "js: SyncClient in Node against a real server"
(cd js && node --test --test-reporter=spec test/sync.test.mjs)

step "www: the demo in Chromium (two devices, offline, convergence, conflict, reload)"
(cd www && node --test --test-reporter=spec test/demo.test.mjs)

step "www: vite dev with the linked package (file:../js) serves the worker and the wasm"
(cd www && node --test --test-reporter=spec test/dev.test.mjs)

echo
echo "www tests passed"
