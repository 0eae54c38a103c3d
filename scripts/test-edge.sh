#!/usr/bin/env bash
# The sync server on Cloudflare Durable Objects (server/edge/), locally under `wrangler dev` (workerd, SQLite-backed
# Durable Objects, state persisted under a temporary --persist-to directory):
#   1. the Worker's npm dependencies, its wasm (crate eventlite-edge-wasm: core's push rules, no SQLite) and
#      `tsc --noEmit` (strict)
#   2. wrangler dev on a free port, with static tokens, an HS256 secret and CORS for the demo
#   3. the shared protocol suite (server/tests/it/protocol.rs, the cases the axum server passes, over HTTP), two
#      native clients converging with conflicts (convergence.rs), then a live client following pushes across a
#      SIGKILL restart of wrangler dev that loses nothing acknowledged (edge.rs)
#   4. the browser demo (www/, Chromium) converging through it, with a conflict (www/test/edge.test.mjs)
# `scripts/test-edge.sh --restart <work dir>` is the restart the Rust test calls (EVENTLITE_TEST_EDGE_RESTART).
# Offline is fine: wrangler's lookups of Cloudflare's hosts fail harmlessly (WRANGLER_SEND_METRICS=false).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"

# shellcheck source=lib.sh
source scripts/lib.sh
export WRANGLER_SEND_METRICS=false

SECRET="edge-test-secret-edge-test-secret-0123"
TOKENS="demo-token:demo,token-acme:acme"

free_port() {
    node -e 'const s = require("net").createServer().listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); })'
}

# Starts wrangler dev in a session of its own (so that one kill reaches wrangler and its workerd processes), on the
# port and state directory recorded in $1, and waits until /health answers.
start_edge() {
    local work="$1" port inspector
    port="$(cat "$work/port")"
    inspector="$(free_port)"
    (
        cd server/edge
        exec setsid node_modules/.bin/wrangler dev --local --ip 127.0.0.1 --port "$port" \
            --inspector-port "$inspector" --persist-to "$work/state" --show-interactive-dev-session=false \
            --log-level warn --var "EVENTLITE_TOKENS:$TOKENS" --var "EVENTLITE_JWT_SECRET:$SECRET" \
            --var "EVENTLITE_ALLOW_ORIGIN:*"
    ) >>"$work/wrangler.log" 2>&1 &
    echo $! >"$work/pid"
    for _ in $(seq 1 600); do
        if curl -fsS "http://127.0.0.1:$port/health" >/dev/null 2>&1; then
            return 0
        fi
        sleep 0.1
    done
    echo "wrangler dev did not answer on port $port:" >&2
    tail -50 "$work/wrangler.log" >&2
    return 1
}

# SIGKILL to wrangler dev's whole session: nothing gets to flush or shut down cleanly.
kill_edge() {
    local work="$1"
    if [ -f "$work/pid" ]; then
        kill -KILL -- "-$(cat "$work/pid")" 2>/dev/null || true
        rm -f "$work/pid"
        local port
        port="$(cat "$work/port")"
        for _ in $(seq 1 100); do
            curl -fsS "http://127.0.0.1:$port/health" >/dev/null 2>&1 || return 0
            sleep 0.1
        done
    fi
}

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
export EVENTLITE_TEST_EDGE_JWT_SECRET="$SECRET"
export EVENTLITE_TEST_EDGE_RESTART="bash '$ROOT/scripts/test-edge.sh' --restart '$WORK'"

step "edge: the shared protocol suite and two native clients converging with conflicts"
cargo test --locked -p eventlite-server --test it -- --ignored edge --skip restart

step "edge: a live client across a SIGKILL restart of wrangler dev (nothing acknowledged lost)"
cargo test --locked -p eventlite-server --test it -- --ignored edge::a_live_client_follows_pushes_and_a_restart

if [ "${EVENTLITE_EDGE_SKIP_BROWSER:-}" = "1" ]; then
    echo "EVENTLITE_EDGE_SKIP_BROWSER=1: the browser demo is not run"
else
    step "www: the npm package and the demo build (www/dist)"
    npm_ci js
    bash js/scripts/build.sh
    npm_ci www
    (cd www && node_modules/.bin/vite build)
    cargo build --locked -p eventlite-server --bin eventlite
    export EVENTLITE_BIN="$TARGET_DIR/debug/eventlite"
    step "www: the demo in Chromium syncing through the edge (two devices, offline, convergence, a conflict)"
    (cd www && EVENTLITE_TEST_EDGE_TOKEN=demo-token node --test --test-reporter=spec test/edge.test.mjs)
fi

echo
echo "edge tests passed"
