#!/usr/bin/env bash
# DESIGN.md §6's workload, EventLite beside raw SQLite and the peers, in one run: core/benches/workload.rs (EventLite,
# raw SQLite with a minimal schema, raw SQLite with EventLite's schema), Python `eventsourcing` 9.5 on its SQLite
# recorder (core/benches/peers/eventsourcing_workload.py) and Emmett SQLite 0.42 on Node
# (core/benches/peers/emmett_workload.mjs). The rounds are interleaved (Rust, Python, Node, then again); each figure
# is the best of EVENTLITE_BENCH_ROUNDS (default 3), except Emmett's default connection pool, run in the first round
# only (see below). Prints one table, the ratios against DESIGN.md §6's targets, and the load average before and
# after. Not part of any test run.
#
# Sets up the peers first, idempotently (quick when done): a venv in target/bench-peers/venv with eventsourcing, an
# npm directory target/bench-peers/node with emmett-sqlite and its `sqlite3` addon (built from source by node-gyp
# when no prebuilt binary can be fetched: a few minutes, once).
#
# Environment: EVENTLITE_BENCH_SCALE (e.g. 0.1: a tenth of the single appends, for a quick look),
# EVENTLITE_BENCH_ROUNDS, CARGO_TARGET_DIR (as for any cargo build), PYTHON (default python3), NODE (default node).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
PEERS="$ROOT/target/bench-peers"
PYTHON="${PYTHON:-python3}"
NODE="${NODE:-node}"
ROUNDS="${EVENTLITE_BENCH_ROUNDS:-3}"
mkdir -p "$PEERS"

step() { printf '\n==> %s\n' "$*" >&2; }

LOAD_START="$(cat /proc/loadavg)"

step "peers: eventsourcing 9.5 in $PEERS/venv"
VENV_PY="$PEERS/venv/bin/python"
has_eventsourcing() {
    [ -x "$VENV_PY" ] &&
        "$VENV_PY" -c 'import importlib.metadata as m, sys; sys.exit(not m.version("eventsourcing").startswith("9.5."))' \
            2>/dev/null
}
if ! has_eventsourcing; then
    "$PYTHON" -m venv "$PEERS/venv"
    "$VENV_PY" -m pip install --quiet --disable-pip-version-check 'eventsourcing==9.5.*'
fi
"$VENV_PY" -c 'import importlib.metadata as m; print("eventsourcing", m.version("eventsourcing"))' >&2

step "peers: Emmett SQLite 0.42 in $PEERS/node"
NODE_DIR="$PEERS/node"
mkdir -p "$NODE_DIR"
# emmett-sqlite 0.42.4 (the only 0.42 release) names @event-driven-io/emmett 0.42.4 as its peer, a version the
# registry does not have: 0.42.0 is the newest 0.42, installed beside it with --legacy-peer-deps, which also leaves
# out the peers' own peers, so emmett's (async-retry, commander, uuid) are listed here.
cat > "$NODE_DIR/package.json.new" <<'EOF'
{
  "name": "eventlite-bench-peers",
  "private": true,
  "type": "module",
  "dependencies": {
    "@event-driven-io/emmett": "0.42.x",
    "@event-driven-io/emmett-sqlite": "0.42.x",
    "async-retry": "^1.3.3",
    "commander": "^12.1.0",
    "sqlite3": "^5.1.7",
    "uuid": "^10.0.0"
  }
}
EOF
has_emmett() {
    cmp -s "$NODE_DIR/package.json" "$NODE_DIR/package.json.new" &&
        (cd "$NODE_DIR" && "$NODE" --input-type=module -e '
            import { readFileSync } from "node:fs";
            const { version } = JSON.parse(readFileSync("node_modules/@event-driven-io/emmett-sqlite/package.json"));
            if (!version.startsWith("0.42.")) process.exit(1);
            const { sqliteConnection } = await import("@event-driven-io/emmett-sqlite");
            sqliteConnection({ fileName: ":memory:" }).close();' 2>/dev/null)
}
if ! has_emmett; then
    mv "$NODE_DIR/package.json.new" "$NODE_DIR/package.json"
    (cd "$NODE_DIR" && npm install --no-audit --no-fund --legacy-peer-deps)
else
    rm "$NODE_DIR/package.json.new"
fi
(cd "$NODE_DIR" && "$NODE" -e '
    const { readFileSync } = require("node:fs");
    const version = (name) => JSON.parse(readFileSync(`node_modules/${name}/package.json`, "utf8")).version;
    console.error(`emmett-sqlite ${version("@event-driven-io/emmett-sqlite")}, emmett ${version("@event-driven-io/emmett")},` +
        ` sqlite3 ${version("sqlite3")} (SQLite ${require("sqlite3").VERSION}), node ${process.version}`);')

step "build: cargo bench -p eventlite --bench workload --no-run"
BENCH_BIN="$(cargo bench -p eventlite --bench workload --no-run --message-format=json |
    "$VENV_PY" -c 'import json, sys
for line in sys.stdin:
    message = json.loads(line)
    if message.get("reason") == "compiler-artifact" and message["target"]["name"] == "workload" and message.get("executable"):
        print(message["executable"])')"
[ -x "$BENCH_BIN" ] || { echo "no workload bench binary" >&2; exit 1; }

RESULTS="$PEERS/workload-$(date -u +%Y%m%dT%H%M%SZ).jsonl"
OUTPUT="$(mktemp)"
trap 'rm -f "$OUTPUT"' EXIT
# Runs one round of an implementation: everything it prints goes to stderr, its JSON lines also to $RESULTS (a
# library may print to stdout too: Emmett logs a failed transaction's error there).
one_round() {
    EVENTLITE_BENCH_ROUNDS=1 "$@" > "$OUTPUT"
    cat "$OUTPUT" >&2
    grep '^{"impl"' "$OUTPUT" >> "$RESULTS"
}
for round in $(seq 1 "$ROUNDS"); do
    step "round $round of $ROUNDS: Rust (EventLite, raw SQLite x2), eventsourcing, Emmett"
    EVENTLITE_BENCH_JSON=1 one_round "$BENCH_BIN"
    one_round "$VENV_PY" core/benches/peers/eventsourcing_workload.py
    # Emmett's default pool (a connection per call, synchronous FULL) runs in the first round only: it is an order of
    # magnitude slower than Emmett on one connection (minutes per round at full scale) and is never the best peer.
    drivers=connection
    [ "$round" = 1 ] && drivers=pool,connection
    EMMETT_DRIVERS="$drivers" one_round "$NODE" core/benches/peers/emmett_workload.mjs "$NODE_DIR"
done
LOAD_END="$(cat /proc/loadavg)"

"$VENV_PY" - "$RESULTS" "$ROUNDS" "$LOAD_START" "$LOAD_END" <<'EOF'
import json, sys

results, rounds, load_start, load_end = sys.argv[1:5]
best, info, errors, runs = {}, {}, {}, {}
for line in open(results):
    row = json.loads(line)
    key = row["impl"]
    runs[key] = runs.get(key, 0) + 1
    figures = best.setdefault(key, {})
    if "error" in row:
        errors.setdefault(key, []).append(row["error"])
        info.setdefault(key, row)
        continue
    if "error" in info.get(key, {}):
        del info[key]
    info.setdefault(key, row)
    for metric in ("single", "batch", "read", "read_all"):
        if metric in row:
            figures[metric] = max(figures.get(metric, 0), row[metric])

first = next(row for row in info.values() if "error" not in row)
print(f"DESIGN.md §6 workload: 100 streams, {first['singles']} single-event appends (`Exact`, round-robin), "
      f"{first['batched'] // 100} batches of 100, reads of every stream ({first['read_events']} events over the "
      f"passes); file-backed, WAL; best of {rounds} interleaved rounds")
print(f"load average at start: {load_start}")
print(f"load average at end:   {load_end}\n")

def cell(value):
    return f"{value:,.0f}" if value else "-"

print("| implementation | single appends/s | batch(100) events/s | read events/s | read_all events/s (pages of 1,000) | journal, synchronous |")
print("|---|---|---|---|---|---|")
for key, figures in best.items():
    row = info[key]
    failed = len(errors.get(key, []))
    if not figures:
        print(f"| {row['label']} | failed in {failed} of {runs[key]} rounds: {errors[key][0]} | | | | |")
        continue
    settings = f"{row.get('journal_mode', 'wal').upper()}, {row.get('synchronous', 'NORMAL')}"
    if runs[key] != int(rounds):
        settings += f"; {runs[key]} round(s)"
    if failed:
        settings += f"; failed in {failed} of {runs[key]} rounds: {errors[key][0]}"
    print(f"| {row['label']} | {cell(figures.get('single'))} | {cell(figures.get('batch'))} | "
          f"{cell(figures.get('read'))} | {cell(figures.get('read_all'))} | {settings} |")

ours, raw = best["eventlite"], best["raw-minimal"]
peers = {key: figures for key, figures in best.items() if key.startswith(("eventsourcing-", "emmett-")) and figures}

def best_peer(metric):
    key = max(peers, key=lambda k: peers[k][metric])
    return info[key]["label"], peers[key][metric]

def verdict(met):
    return "met" if met else "**not met**"

print("\n| ratio | value | target (DESIGN.md §6) |")
print("|---|---|---|")
ratio = ours["single"] / raw["single"]
print(f"| EventLite single / raw minimal single | {ratio:.2f}x | >= 0.7x: {verdict(ratio >= 0.7)} |")
label, value = best_peer("single")
ratio = ours["single"] / value
print(f"| EventLite single / best peer single ({label}) | {ratio:.1f}x | >= 3x: {verdict(ratio >= 3)} |")
label, value = best_peer("batch")
ratio = ours["batch"] / value
print(f"| EventLite batch / best peer batch ({label}) | {ratio:.1f}x | >= 2x: {verdict(ratio >= 2)} |")
ratio = ours["read"] / raw["read"]
print(f"| EventLite read_stream / raw minimal read | {ratio:.2f}x | >= 0.8x: {verdict(ratio >= 0.8)} |")
ratio = ours["read_all"] / raw["read_all"]
print(f"| EventLite read_all / raw minimal read_all | {ratio:.2f}x | >= 0.8x: {verdict(ratio >= 0.8)} |")
slowest = min(ours["read"], ours["read_all"])
print(f"| EventLite reads in pages of 1,000 (slower of read_stream, read_all) | {slowest:,.0f} events/s | "
      f">= 1M/s: {verdict(slowest >= 1e6)} |")
print(f"\nrounds: {results}")
EOF
