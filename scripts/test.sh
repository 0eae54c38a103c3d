#!/usr/bin/env bash
# The one test command: sets up what the tests need (idempotent, quick when done), then runs every test.
# CI (.ci/run) calls exactly this.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

bash scripts/setup.sh

export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner
export CC_wasm32_unknown_unknown=clang
export AR_wasm32_unknown_unknown=llvm-ar
export CHROMEDRIVER=/usr/bin/chromedriver
export WASM_BINDGEN_TEST_TIMEOUT=120

step() { printf '\n==> %s\n' "$*"; }

step "format"
cargo fmt --all -- --check

step "clippy (native)"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "clippy (wasm32)"
cargo clippy -p eventlite --all-targets --target wasm32-unknown-unknown --locked -- -D warnings

step "tests (native)"
cargo test --workspace --locked

step "server HTTP API against docs/openapi.yaml, both backends (scripts/test-server-api.sh, schemathesis)"
bash scripts/test-server-api.sh

step "core tests (wasm32 in Node)"
cargo test -p eventlite --target wasm32-unknown-unknown --locked

step "native library: Rust, Python wheel, Kotlin on the JVM, Swift header (scripts/test-native.sh)"
bash scripts/test-native.sh

step "wasm bindings, npm package, browser tests (scripts/test-js.sh)"
bash scripts/test-js.sh

step "demo app and browser sync (scripts/test-www.sh)"
bash scripts/test-www.sh

step "one log across Python, Kotlin and the browser (scripts/test-cross-platform.sh)"
bash scripts/test-cross-platform.sh

echo
echo "all tests passed"
