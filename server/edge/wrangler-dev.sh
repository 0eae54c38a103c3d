# Sourced (not run) by scripts/test-edge.sh and server/edge/bench/run.sh, from the repository's root: runs the edge
# Worker under `wrangler dev` (local workerd, SQLite-backed Durable Objects) in the background.
#   start_edge WORK [--var NAME:VALUE ...]
#                     starts it on the port in WORK/port, state under WORK/state, log in WORK/wrangler.log, with
#                     the extra settings given, and returns once /health answers
#   kill_edge WORK    SIGKILLs wrangler dev and its workerd processes (a session of their own)
export WRANGLER_SEND_METRICS=false

# Credentials of the local edge (tests and benchmarks only): static tokens and an HS256 secret.
EDGE_SECRET="${EDGE_SECRET:-edge-test-secret-edge-test-secret-0123}"
EDGE_TOKENS="${EDGE_TOKENS:-demo-token:demo,token-acme:acme}"

free_port() {
    node -e 'const s = require("net").createServer().listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); })'
}

# Starts wrangler dev in a session of its own (so that one kill reaches wrangler and its workerd processes), on the
# port and state directory recorded in $1, and waits until /health answers.
start_edge() {
    local work="$1" port inspector
    shift
    port="$(cat "$work/port")"
    inspector="$(free_port)"
    (
        cd server/edge
        exec setsid node_modules/.bin/wrangler dev --local --ip 127.0.0.1 --port "$port" \
            --inspector-port "$inspector" --persist-to "$work/state" --show-interactive-dev-session=false \
            --log-level warn --var "EVENTLITE_TOKENS:$EDGE_TOKENS" --var "EVENTLITE_JWT_SECRET:$EDGE_SECRET" \
            --var "EVENTLITE_ALLOW_ORIGIN:*" "$@"
    ) >>"$work/wrangler.log" 2>&1 &
    echo $! >"$work/pid"
    disown $!
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

