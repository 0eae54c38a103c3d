#!/usr/bin/env bash
# The sync server on Cloudflare Durable Objects (server/edge/), locally under `wrangler dev` (workerd, SQLite-backed
# Durable Objects, state persisted under a temporary --persist-to directory):
#   1. the Worker's npm dependencies, its wasm (crate eventlite-edge-wasm: core's push rules, no SQLite) and
#      `tsc --noEmit` (strict)
#   2. wrangler dev on a free port, with static tokens, an HS256 secret and CORS for the demo, and a second one
#      with small limits (EVENTLITE_TEST_EDGE_SMALL_URL) for the live-slot and endless-body case (edge.rs)
#   3. the shared protocol and hostile-input suites (server/tests/it/protocol.rs, hostile.rs: the cases the axum
#      server passes, over HTTP, each with tenants of its own), two
#      native clients converging with conflicts (convergence.rs), then a live client following pushes across a
#      SIGKILL restart of wrangler dev that loses nothing acknowledged (edge.rs), and schemathesis with
#      docs/openapi.yaml (scripts/test-server-api.sh, EVENTLITE_API_URL)
#   4. the browser demo (www/, Chromium) converging through it, with a conflict (www/test/edge.test.mjs); it builds
#      the npm package and www/dist first unless EVENTLITE_EDGE_REUSE_WWW_BUILD=1 (cargo xtask ci, after test-www)
#      and skips this step with EVENTLITE_EDGE_SKIP_BROWSER=1
# `scripts/test-edge.sh --restart <work dir>` is the restart the Rust test calls (EVENTLITE_TEST_EDGE_RESTART).
# Offline is fine: wrangler's lookups of Cloudflare's hosts fail harmlessly (WRANGLER_SEND_METRICS=false).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
# One target directory for every build below (the wasm build reads its output from it too).
export CARGO_TARGET_DIR="$TARGET_DIR"

# shellcheck source=lib.sh
source scripts/lib.sh
# shellcheck source=../server/edge/wrangler-dev.sh
source server/edge/wrangler-dev.sh

if [ "${1:-}" = "--restart" ]; then
    kill_edge "$2"
    start_edge "$2"
    exit 0
fi

step "edge: npm dependencies (wrangler, pinned in server/edge/package-lock.json)"
npm_ci server/edge

step "edge: the Durable Object's wasm (eventlite-edge-wasm, no SQLite) and tsc --noEmit"
bash server/edge/build-wasm.sh
if strings server/edge/pkg/eventlite_edge_bg.wasm | grep -q 'sqlite3_'; then
    echo "the edge wasm contains SQLite" >&2
    exit 1
fi
(cd server/edge && node_modules/.bin/tsc --noEmit)

WORK="$(mktemp -d "${TMPDIR:-/tmp}/eventlite-edge-XXXXXX")"
trap 'kill_edge "$WORK"; rm -rf "$WORK"' EXIT
free_port >"$WORK/port"
step "edge: wrangler dev on 127.0.0.1:$(cat "$WORK/port"), state in $WORK/state"
start_edge "$WORK"
EDGE_URL="http://127.0.0.1:$(cat "$WORK/port")"
export EVENTLITE_TEST_EDGE_URL="$EDGE_URL"
export EVENTLITE_TEST_EDGE_JWT_SECRET="$EDGE_SECRET"
export EVENTLITE_TEST_EDGE_RESTART="bash '$ROOT/scripts/test-edge.sh' --restart '$WORK'"

# A second edge with small limits, for the cases that fill them (live-stream slots).
SMALL="$WORK/small"
mkdir -p "$SMALL"
free_port >"$SMALL/port"
step "edge: a second wrangler dev with small limits (3 live streams per tenant, 64 KiB bodies, keep-alives every 250 ms) on 127.0.0.1:$(cat "$SMALL/port")"
trap 'kill_edge "$SMALL"; kill_edge "$WORK"; rm -rf "$WORK"' EXIT
start_edge "$SMALL" --var "EVENTLITE_MAX_LIVE_PER_TENANT:3" --var "EVENTLITE_MAX_BODY_BYTES:65536" \
    --var "EVENTLITE_LIVE_KEEP_ALIVE_MS:250"
export EVENTLITE_TEST_EDGE_SMALL_URL="http://127.0.0.1:$(cat "$SMALL/port")"

step "edge: the shared protocol suite and two native clients converging with conflicts"
# The edge's cases exist with the feature `edge-tests` (module `edge::` of each shared suite, edge.rs, and the
# convergence case), and only those run here.
cargo test --locked -p eventlite-server --features edge-tests --test it -- edge:: through_the_edge --skip restart
kill_edge "$SMALL"

step "edge: the HTTP API against docs/openapi.yaml (schemathesis, scripts/test-server-api.sh)"
EVENTLITE_API_URL="$EDGE_URL" EVENTLITE_API_TOKEN=token-acme bash scripts/test-server-api.sh

step "edge: SIGKILL restarts of wrangler dev: a live client across one, pushes through one (nothing acknowledged lost)"
# One at a time: each kills the runtime the other uses.
cargo test --locked -p eventlite-server --features edge-tests --test it -- --test-threads=1 --exact \
    edge::a_live_client_follows_pushes_and_a_restart_loses_nothing_acknowledged \
    edge::a_restart_in_the_middle_of_pushes_loses_nothing_acknowledged

if [ "${EVENTLITE_EDGE_SKIP_BROWSER:-}" = "1" ]; then
    echo "EVENTLITE_EDGE_SKIP_BROWSER=1: the browser demo is not run"
else
    if [ "${EVENTLITE_EDGE_REUSE_WWW_BUILD:-}" = "1" ] && [ -f www/dist/index.html ]; then
        echo "EVENTLITE_EDGE_REUSE_WWW_BUILD=1: using the npm package and www/dist scripts/test-www.sh built"
    else
        step "www: the npm package and the demo build (www/dist)"
        npm_ci js
        bash js/scripts/build.sh
        npm_ci www
        (cd www && node_modules/.bin/vite build)
    fi
    cargo build --locked -p eventlite-server --bin eventlite
    export EVENTLITE_BIN="$TARGET_DIR/debug/eventlite"
    step "www: the demo in Chromium syncing through the edge (two devices, offline, convergence, a conflict)"
    (cd www && EVENTLITE_TEST_EDGE_TOKEN=demo-token node --test --test-reporter=spec test/edge.test.mjs)
fi

echo
echo "edge tests passed"
