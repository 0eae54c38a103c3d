#!/usr/bin/env bash
# The one test command: sets up what the tests need (idempotent, quick when done), then runs every test.
# CI (.ci/run) calls exactly this. It is `cargo xtask ci` (scripts/xtask): the named tasks people run one at a time
# (`cargo xtask` lists them; CONTRIBUTING.md says which to run after changing what).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
exec cargo xtask ci
