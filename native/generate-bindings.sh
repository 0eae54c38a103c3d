#!/usr/bin/env bash
# The one command that generates the Kotlin, Swift and Python bindings of the native library:
#   bash native/generate-bindings.sh [OUT_DIR]      (default target/native-bindings; PROFILE=debug for a debug build)
# It builds the library, then runs this crate's uniffi-bindgen (the same uniffi version) in library mode:
#   OUT_DIR/kotlin/io/github/eventlite/eventlite.kt    (JNA; load libeventlite_native), plus native/kotlin/lib/*.kt
#   OUT_DIR/swift/EventLite.swift, EventLiteFFI.h, EventLiteFFI.modulemap
#   OUT_DIR/python/eventlite.py                          (the wheel is built by maturin instead: see README.md)
#   OUT_DIR/lib/libeventlite_native.so (.a)              the library they were generated from
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
OUT="${1:-$ROOT/target/native-bindings}"
PROFILE="${PROFILE:-release}"
profile_flag=()
[ "$PROFILE" = release ] && profile_flag=(--release)

cargo build -p eventlite-native --lib --locked "${profile_flag[@]}"
cargo build -p eventlite-native --features cli --bin uniffi-bindgen --locked
TARGET_DIR="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"
LIB="$TARGET_DIR/$PROFILE/libeventlite_native.so"
[ "$(uname)" = Darwin ] && LIB="$TARGET_DIR/$PROFILE/libeventlite_native.dylib"

rm -rf "$OUT/kotlin" "$OUT/swift" "$OUT/python" "$OUT/lib"
for language in kotlin swift python; do
  "$TARGET_DIR/debug/uniffi-bindgen" generate --no-format --library "$LIB" --language "$language" --out-dir "$OUT/$language"
done
# The hand-written Kotlin that ships with the generated file (the one-FFI-call `append`, FFI-free event builders).
cp "$ROOT/native/kotlin/lib/"*.kt "$OUT/kotlin/io/github/eventlite/"
mkdir -p "$OUT/lib"
cp "$LIB" "$TARGET_DIR/$PROFILE/libeventlite_native.a" "$OUT/lib/"
echo "bindings in $OUT"
