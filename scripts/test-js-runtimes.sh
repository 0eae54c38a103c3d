#!/usr/bin/env bash
# The npm package outside the browser, installed from its packed tarballs into fresh projects as a user would
# (js/scripts/pack.sh: `eventlite` and its platform package, the Node-API addon):
#   1. file stores (Node-API addon, js/addon): the Node suite (js/test/node) over file-backed stores, then
#      js/test/file (durability across reopen and SIGKILL, two processes on one file, cross-process subscriptions,
#      bad files), sync of file stores with a real `eventlite serve` (js/test/sync.test.mjs; the server binary is
#      built when missing); the package without its addon (memory still works, a path is STORAGE_UNAVAILABLE)
#   2. runtimes: the API suite (js/test/runtimes/suite.mjs) in workerd through `wrangler dev` (no bundler
#      configuration), in Deno and in Bun, over memory and (Deno, Bun) file stores
# Builds the addon (js/scripts/build-addon.sh; quick when built); needs js/dist (bash js/scripts/build.sh, which
# `cargo xtask test-js-runtimes` runs first). wrangler, deno and bun come from npm, pinned in
# js/test/runtimes/package.json. Idempotent and offline once installed (`npm ci` only when a lock file changed).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# shellcheck source=lib.sh
source scripts/lib.sh

[ -f js/dist/edge.js ] && [ -f js/dist/addon.js ] || { echo "js/dist is missing or stale: run bash js/scripts/build.sh" >&2; exit 1; }

step "js runtimes: the Node-API addon (js/scripts/build-addon.sh)"
bash js/scripts/build-addon.sh

step "js runtimes: npm dependencies (wrangler, deno, bun)"
npm_ci js/test/runtimes

WORK="$(mktemp -d "${TMPDIR:-/tmp}/eventlite-runtimes.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT

step "js runtimes: pack the packages, install them into fresh projects"
mapfile -t TARBALLS < <(bash js/scripts/pack.sh "$WORK")
printf '  %s\n' "${TARBALLS[@]}"
APP="$WORK/app"
mkdir -p "$APP/node" "$APP/file"
cp js/test/runtimes/*.mjs js/test/runtimes/wrangler.jsonc "$APP/"
cp js/test/node/*.mjs "$APP/node/"
cp js/test/file/file.test.mjs js/test/file/child.mjs js/test/file/launches.mjs "$APP/file/"
echo '{ "name": "eventlite-user-app", "private": true, "type": "module" }' >"$APP/package.json"
(cd "$APP" && npm install --no-audit --no-fund --silent "${TARBALLS[@]}")
BARE="$WORK/no-addon"
mkdir -p "$BARE"
cp js/test/file/no-addon.test.mjs "$BARE/"
echo '{ "name": "eventlite-app-without-addon", "private": true, "type": "module" }' >"$BARE/package.json"
(cd "$BARE" && npm install --no-audit --no-fund --silent --omit=optional "${TARBALLS[0]}")

step "js runtimes: the Node suite over file-backed stores (EVENTLITE_TEST_STORAGE=file)"
(cd "$APP" && EVENTLITE_TEST_STORAGE=file EVENTLITE_REPO="$ROOT" node --test --test-reporter=spec node/)

step "js runtimes: file stores across reopen, SIGKILL and processes"
(cd "$APP" && node --test --test-timeout=300000 --test-reporter=spec file/)

step "js runtimes: sync of file stores with a real server (js/test/sync.test.mjs over files, eventlite serve)"
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
if [ -z "${EVENTLITE_BIN:-}" ] && [ ! -x "$TARGET_DIR/debug/eventlite" ]; then
    cargo build --locked -p eventlite-server --bin eventlite
fi
mkdir -p "$APP/sync" "$WORK/www/test"
cp js/test/sync.test.mjs "$APP/sync/"
cp www/test/server.mjs "$WORK/www/test/" # sync.test.mjs imports ../../www/test/server.mjs
(cd "$APP" && EVENTLITE_TEST_STORAGE=file EVENTLITE_BIN="${EVENTLITE_BIN:-$TARGET_DIR/debug/eventlite}" \
    node --test --test-reporter=spec sync/)

step "js runtimes: the package without its addon"
(cd "$BARE" && node --test --test-reporter=spec no-addon.test.mjs)

step "js runtimes: the API suite in Deno, Bun and workerd (wrangler dev)"
(cd "$APP" && EVENTLITE_TOOLS="$ROOT/js/test/runtimes/node_modules/.bin" \
    node --test --test-reporter=spec runtimes.test.mjs)
