#!/usr/bin/env bash
# The "run" command: the quick-start tour of the core store on a file (target/quickstart.db).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
exec cargo run --release --locked -p eventlite --example quickstart -- "${1:-target/quickstart.db}"
