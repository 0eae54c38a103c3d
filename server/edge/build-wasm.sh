#!/bin/sh
# Builds the Durable Object's wasm (crate eventlite-edge-wasm: core's push rules and pull paging, the protocol's
# tokens and cursors; no SQLite) into server/edge/pkg/, where src/ imports it. Run from anywhere.
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
# Where cargo builds: $CARGO_TARGET_DIR when set (a relative one is relative to the root, as cargo reads it here).
target_dir=${CARGO_TARGET_DIR:-$root/target}
CC_wasm32_unknown_unknown=${CC_wasm32_unknown_unknown:-clang} AR_wasm32_unknown_unknown=${AR_wasm32_unknown_unknown:-llvm-ar} \
  cargo build -p eventlite-edge-wasm --target wasm32-unknown-unknown --profile wasm-release
rm -rf server/edge/pkg
wasm-bindgen --target web --out-dir server/edge/pkg --out-name eventlite_edge \
  "$target_dir/wasm32-unknown-unknown/wasm-release/eventlite_edge_wasm.wasm"
