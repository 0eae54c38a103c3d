#!/usr/bin/env bash
# The "run" command: the sync server on an embedded SQLite database (target/eventlite-data), tenant `demo` with the
# bearer token `demo-token`, listening on 127.0.0.1:8080. Ctrl-C (SIGINT) or SIGTERM shuts it down gracefully.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
args=(serve --listen "${EVENTLITE_LISTEN:-127.0.0.1:8080}" --data-dir "${EVENTLITE_DATA_DIR:-target/eventlite-data}")
export EVENTLITE_TOKENS="${EVENTLITE_TOKENS:-demo-token:demo}"
exec cargo run --release --locked -p eventlite-server --bin eventlite -- "${args[@]}"
