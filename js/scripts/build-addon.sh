#!/usr/bin/env bash
# Builds the Node-API addon (js/addon, crate eventlite-node) in release mode and puts it into its platform package,
# js/addon/npm/<target>/eventlite.<target>.node, as napi-rs's `napi build --platform` names it. Only the host's target
# is built here (linux-x64-gnu on this project's machines); other targets are built the same way on their own hosts
# (or cross-compiled) into their own js/addon/npm/<target>/ directories.
set -euo pipefail
JS="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ROOT="$(cd "$JS/.." && pwd)"
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"

case "$(uname -s)-$(uname -m)" in
    Linux-x86_64) TARGET=linux-x64-gnu; LIB=libeventlite_node.so ;;
    Linux-aarch64) TARGET=linux-arm64-gnu; LIB=libeventlite_node.so ;;
    Darwin-arm64) TARGET=darwin-arm64; LIB=libeventlite_node.dylib ;;
    Darwin-x86_64) TARGET=darwin-x64; LIB=libeventlite_node.dylib ;;
    *) echo "build-addon: no platform package for $(uname -s)-$(uname -m)" >&2; exit 1 ;;
esac
if [ "$TARGET" = linux-x64-gnu ] && ldd --version 2>&1 | grep -qi musl; then
    echo "build-addon: musl hosts need a linux-x64-musl package (not set up)" >&2
    exit 1
fi
PACKAGE="$JS/addon/npm/$TARGET"
[ -f "$PACKAGE/package.json" ] || { echo "build-addon: $PACKAGE/package.json is missing" >&2; exit 1; }

echo "build-addon: cargo build --release -p eventlite-node"
(cd "$ROOT" && cargo build --quiet --locked --release -p eventlite-node)
cp "$TARGET_DIR/release/$LIB" "$PACKAGE/eventlite.$TARGET.node"
echo "build-addon: $PACKAGE/eventlite.$TARGET.node ($(wc -c <"$PACKAGE/eventlite.$TARGET.node") bytes)"
