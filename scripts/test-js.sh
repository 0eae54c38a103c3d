#!/usr/bin/env bash
# Builds the wasm crate and the `eventlite` npm package, then runs every wasm, JS and browser test:
#   1. eventlite-wasm: fmt, clippy (wasm32), wasm-bindgen tests in Node and in headless Chromium (dedicated worker, OPFS)
#   2. js: build (js/scripts/build.sh), tsc --noEmit of the published types, node:test over the built package
#   3. js: Vite packaging test + Playwright tests in Debian's Chromium (OPFS persistence across reload and relaunch;
#      browser sync against `eventlite serve`: the server binary, built here when target/debug/eventlite is missing)
#   4. js: size report (gzipped wasm + JS)
# Idempotent: `npm ci` runs only when js/node_modules is missing or older than js/package-lock.json.
# `bash scripts/test-js.sh node` runs what needs no browser (1 without the Chromium half, 2), `browser` what does
# (the wasm tests in Chromium, 3, 4); no argument runs everything.
set -euo pipefail
PART="${1:-all}"
case "$PART" in all|node|browser) ;; *) echo "usage: $0 [node|browser]" >&2; exit 2 ;; esac
want() { [ "$PART" = all ] || [ "$PART" = "$1" ]; }
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"


# shellcheck source=lib.sh
source scripts/lib.sh

step "eventlite-wasm: fmt and clippy (wasm32)"
cargo fmt -p eventlite-wasm -- --check
cargo clippy -p eventlite-wasm --all-targets --all-features --target wasm32-unknown-unknown --locked -- -D warnings

if want node; then
    step "eventlite-wasm: wasm-bindgen tests in Node"
    cargo test -p eventlite-wasm --target wasm32-unknown-unknown --locked --lib --test node
fi
if want browser; then
    step "eventlite-wasm: wasm-bindgen tests in headless Chromium (a dedicated worker with OPFS)"
    cargo test -p eventlite-wasm --target wasm32-unknown-unknown --locked --test browser
fi

step "js: npm dependencies"
npm_ci js

step "js: build the package"
bash js/scripts/build.sh

if want node; then
    step "js: published types under strict (tsc --noEmit)"
    (cd js && node_modules/.bin/tsc -p test/types)

    step "js: node:test over the built package (Node 20, memory store)"
    (cd js && node --test --test-reporter=spec test/node/)
fi

if want browser; then
    step "js: Vite packaging test and Playwright tests in Chromium (worker, OPFS, sync against eventlite serve)"
    if [ -z "${EVENTLITE_BIN:-}" ] && [ ! -x "${CARGO_TARGET_DIR:-$ROOT/target}/debug/eventlite" ]; then
        cargo build --locked -p eventlite-server --bin eventlite
    fi
    (cd js && node --test --test-timeout=180000 --test-reporter=spec test/browser/)
fi

step "js: package size"
# Fails the run when what the Vite app ships is over the limit in js/scripts/size.mjs; the Vite app is built by the
# browser part, so `node` alone only reports the published size.
if want browser; then node js/scripts/size.mjs --vite; else node js/scripts/size.mjs; fi

echo
echo "js tests passed"
