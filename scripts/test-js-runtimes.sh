#!/usr/bin/env bash
# The npm package outside the browser, installed from its packed tarball into a fresh project as a user would:
#   runtimes: the API suite (js/test/runtimes/suite.mjs) in workerd through `wrangler dev` (no bundler configuration),
#             in Deno and in Bun (npm packages wrangler, deno, bun pinned in js/test/runtimes/package.json).
# Needs js/dist (bash js/scripts/build.sh; `cargo xtask test-js-runtimes` builds it first).
# Idempotent and offline once installed: `npm ci` runs only when a package-lock.json changed (scripts/lib.sh).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# shellcheck source=lib.sh
source scripts/lib.sh

[ -f js/dist/edge.js ] || { echo "js/dist is missing or stale: run bash js/scripts/build.sh" >&2; exit 1; }

step "js runtimes: npm dependencies (wrangler, deno, bun)"
npm_ci js/test/runtimes

WORK="$(mktemp -d "${TMPDIR:-/tmp}/eventlite-runtimes.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT

step "js runtimes: npm pack, then install the tarball into a fresh project"
PACKAGE="$WORK/$(cd js && npm pack --silent --pack-destination "$WORK" | tail -n 1)"
APP="$WORK/app"
mkdir -p "$APP"
cp js/test/runtimes/*.mjs js/test/runtimes/wrangler.jsonc "$APP/"
cat >"$APP/package.json" <<JSON
{ "name": "eventlite-user-app", "private": true, "type": "module",
  "dependencies": { "eventlite": "file:$PACKAGE" } }
JSON
(cd "$APP" && npm install --no-audit --no-fund --silent)

step "js runtimes: the API suite in Deno, Bun and workerd (wrangler dev)"
(cd "$APP" && EVENTLITE_TOOLS="$ROOT/js/test/runtimes/node_modules/.bin" \
    node --test --test-reporter=spec runtimes.test.mjs)
