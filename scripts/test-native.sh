#!/usr/bin/env bash
# The native library's tests (native/): Rust tests, the generated C header under clang, the Python wheel installed
# into a fresh venv and its pytest suite, and the Kotlin test program on the JVM, both against a real
# `eventlite serve`. Sets up what it needs first (native/setup.sh: idempotent, quick when done).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"

# shellcheck source=../native/setup.sh
source native/setup.sh
cd "$ROOT"

step() { printf '\n==> %s\n' "$*"; }

step "native: a device library never depends on the server's crates"
if cargo tree -p eventlite-native -e normal --locked --prefix none | grep -E '^(eventlite-server|axum|tokio-postgres|deadpool-postgres|clap) '; then
  echo "eventlite-native pulls in server crates" >&2
  exit 1
fi

step "native: Rust tests"
cargo test -p eventlite-native --locked

step "native: the generated Swift FFI header compiles (clang)"
header_check="$(mktemp -d)"
printf '#include "EventLiteFFI.h"\nint main(void) { return 0; }\n' > "$header_check/check.c"
clang -fsyntax-only -Wall -Werror -I "$NATIVE_BINDINGS/swift" "$header_check/check.c"
grep -q 'public func' "$NATIVE_BINDINGS/swift/EventLite.swift"
rm -rf "$header_check"
echo "EventLiteFFI.h: ok"

step "native: Python wheel in a fresh venv, pytest"
rm -rf target/native-test-venv
python3 -m venv target/native-test-venv
target/native-test-venv/bin/pip install -q --disable-pip-version-check pytest "$NATIVE_WHEEL"
# From the repository root, so `import eventlite` finds the installed wheel, not native/python/eventlite.
EVENTLITE_BIN="$EVENTLITE_BIN" target/native-test-venv/bin/pytest -q -p no:cacheprovider native/python/tests

step "native: Kotlin test program (JVM, JNA) against eventlite serve"
server_dir="$(mktemp -d)"
EVENTLITE_TOKENS=kotlin-token:kotlin "$EVENTLITE_BIN" serve --listen 127.0.0.1:0 --data-dir "$server_dir/data" \
  --json-logs > "$server_dir/server.log" 2>&1 &
server_pid=$!
trap 'kill "$server_pid" 2>/dev/null || true; rm -rf "$server_dir"' EXIT
address=""
for _ in $(seq 1 300); do
  address="$(grep -o '"address":"[^"]*"' "$server_dir/server.log" | head -1 | cut -d'"' -f4 || true)"
  [ -n "$address" ] && break
  sleep 0.1
done
[ -n "$address" ] || { cat "$server_dir/server.log"; echo "the server did not start" >&2; exit 1; }
java -Djna.library.path="$NATIVE_LIB_DIR" -cp "$KOTLIN_CLASSPATH" WorkflowKt "$server_dir/kotlin" "http://$address" kotlin-token
