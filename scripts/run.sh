#!/usr/bin/env bash
# The "run" command: the sync server on an embedded SQLite database (target/eventlite-data) serving the demo app
# (www/dist) at http://127.0.0.1:8080/, tenant `demo` with the bearer token `demo-token`. Sets up and builds what it
# needs first (quick when already done). Ctrl-C (SIGINT) or SIGTERM shuts the server down gracefully.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# shellcheck source=lib.sh
source scripts/lib.sh

bash scripts/setup.sh
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"

echo "run: building the npm package and the demo app"
npm_ci js
bash js/scripts/build.sh
npm_ci www
(cd www && node_modules/.bin/vite build --logLevel warn)

listen="${EVENTLITE_LISTEN:-127.0.0.1:8080}"
export EVENTLITE_TOKENS="${EVENTLITE_TOKENS:-demo-token:demo}"
echo "run: open http://$listen/ (a second device in another window: http://$listen/?store=phone)"
exec cargo run --release --locked -p eventlite-server --bin eventlite -- \
    serve --listen "$listen" --data-dir "${EVENTLITE_DATA_DIR:-target/eventlite-data}" --static-dir www/dist
