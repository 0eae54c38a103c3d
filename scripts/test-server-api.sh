#!/usr/bin/env bash
# Runs schemathesis against `eventlite serve` with docs/openapi.yaml, on both backends (embedded SQLite, then
# PostgreSQL in a schema of its own, dropped afterwards). Checks: no 5xx answer, responses conform to the schema,
# and response content types are the documented ones. `/v1/live` is left out: its answer is an endless stream.
#
# Installs schemathesis into target/schemathesis-venv the first time (PyPI); quick when it is there.
# Environment: EVENTLITE_TEST_POSTGRES_URL (default postgres://postgres@127.0.0.1:5432/test),
# SCHEMATHESIS_MAX_EXAMPLES (default 40 per operation and phase), EVENTLITE_API_BACKENDS (default "sqlite postgres";
# `cargo xtask test-server` sets "sqlite" when PostgreSQL is down); EVENTLITE_API_URL and EVENTLITE_API_TOKEN: check
# a server already running there instead, leaving out /metrics (scripts/test-edge.sh: the Durable Object backend,
# which serves no /metrics).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

SCHEMATHESIS_VERSION=4.32.5
VENV="$ROOT/target/schemathesis-venv"
PG_URL="${EVENTLITE_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}"
EXAMPLES="${SCHEMATHESIS_MAX_EXAMPLES:-40}"
TOKEN="schemathesis-token"

if [[ "$("$VENV/bin/schemathesis" --version 2>/dev/null || true)" != *"version $SCHEMATHESIS_VERSION"* ]]; then
    echo "installing schemathesis $SCHEMATHESIS_VERSION into $VENV"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
fi

WORK="$(mktemp -d)"
SERVER_PID=""
PG_SCHEMA=""
cleanup() {
    if [[ -n "$SERVER_PID" ]]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
    if [[ -n "$PG_SCHEMA" ]]; then psql "$PG_URL" -q -c "DROP SCHEMA IF EXISTS $PG_SCHEMA CASCADE" >/dev/null 2>&1 || true; fi
    rm -rf "$WORK"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# schemathesis URL TOKEN [ARGS...]: checks the server at URL, calling it with TOKEN.
schemathesis() {
    local url="$1" token="$2"
    shift 2
    # From the scratch directory: schemathesis keeps its example database in ./.schemathesis.
    (cd "$WORK" && "$VENV/bin/schemathesis" run "$ROOT/docs/openapi.yaml" \
        --url "$url" \
        --header "Authorization: Bearer $token" \
        --checks not_a_server_error,response_schema_conformance,content_type_conformance \
        --exclude-path /v1/live \
        --phases examples,coverage,fuzzing \
        --max-examples "$EXAMPLES" \
        --seed 8 \
        --request-timeout 10 \
        --no-color "$@")
}

if [[ -n "${EVENTLITE_API_URL:-}" ]]; then
    echo "schemathesis against $EVENTLITE_API_URL (max $EXAMPLES examples per operation and phase)"
    schemathesis "$EVENTLITE_API_URL" "${EVENTLITE_API_TOKEN:?EVENTLITE_API_TOKEN: a token of the server at EVENTLITE_API_URL}" \
        --exclude-path /metrics
    exit 0
fi

cargo build --quiet --locked -p eventlite-server --bin eventlite
BIN="${CARGO_TARGET_DIR:-$ROOT/target}/debug/eventlite"

# run_against NAME SERVE_ARGS...: starts the server, waits for /health, runs schemathesis, stops the server.
run_against() {
    local name="$1"
    shift
    local port
    port="$(free_port)"
    EVENTLITE_TOKENS="$TOKEN:acme" RUST_LOG=error "$BIN" serve --listen "127.0.0.1:$port" "$@" \
        >"$WORK/$name.log" 2>&1 &
    SERVER_PID=$!
    for _ in $(seq 1 100); do
        curl -sf "http://127.0.0.1:$port/health" >/dev/null 2>&1 && break
        sleep 0.1
    done
    curl -sf "http://127.0.0.1:$port/health" >/dev/null || { cat "$WORK/$name.log"; echo "$name: the server did not start"; exit 1; }
    echo "schemathesis against the $name backend (max $EXAMPLES examples per operation and phase)"
    schemathesis "http://127.0.0.1:$port" "$TOKEN"
    kill "$SERVER_PID"
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=""
}

BACKENDS="${EVENTLITE_API_BACKENDS:-sqlite postgres}"
if [[ " $BACKENDS " == *" sqlite "* ]]; then
    run_against sqlite --data-dir "$WORK/data"
fi
if [[ " $BACKENDS " == *" postgres "* ]]; then
    PG_SCHEMA="schemathesis_$$_$RANDOM"
    run_against postgres --postgres "$PG_URL" --postgres-schema "$PG_SCHEMA"
fi
