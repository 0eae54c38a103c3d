#!/usr/bin/env bash
# Sourced by scripts/test-native.sh and native/bench/run.sh: installs what the native tests need (idempotent, quick
# when done) and builds the library, the bindings, the Python wheel and the Kotlin jar. Exports:
#   NATIVE_TOOLS NATIVE_LIB_DIR NATIVE_BINDINGS NATIVE_WHEEL KOTLIN_HOME KOTLIN_CLASSPATH EVENTLITE_BIN
# Tools live under target/ (never installed globally, except Debian's libjna-java):
#   target/native-tools/venv       maturin + pytest (PyPI)
#   target/native-tools/node_modules/kotlin-compiler   (npm, pinned below)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
KOTLIN_COMPILER_VERSION=2.4.20
MATURIN_REQUIREMENT='maturin>=1.9,<2'
export NATIVE_TOOLS="$ROOT/target/native-tools"
export NATIVE_BINDINGS="$ROOT/target/native-bindings"
export NATIVE_LIB_DIR="$ROOT/target/release"
export KOTLIN_HOME="$NATIVE_TOOLS/node_modules/kotlin-compiler"
JNA_JAR=/usr/share/java/jna.jar

native_step() { printf -- '--> %s\n' "$*"; }

if [ ! -f "$JNA_JAR" ]; then
  native_step "installing libjna-java (Debian)"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libjna-java >/dev/null
fi
if [ ! -x "$NATIVE_TOOLS/venv/bin/maturin" ] || [ ! -x "$NATIVE_TOOLS/venv/bin/pytest" ]; then
  native_step "creating the tools venv (maturin, pytest)"
  python3 -m venv "$NATIVE_TOOLS/venv"
  "$NATIVE_TOOLS/venv/bin/pip" install -q --disable-pip-version-check "$MATURIN_REQUIREMENT" pytest
fi
if [ "$(cat "$KOTLIN_HOME/build.txt" 2>/dev/null)" != "$KOTLIN_COMPILER_VERSION" ]; then
  native_step "installing kotlin-compiler $KOTLIN_COMPILER_VERSION (npm, under target/)"
  mkdir -p "$NATIVE_TOOLS"
  npm install --no-audit --no-fund --no-save --prefix "$NATIVE_TOOLS" "kotlin-compiler@$KOTLIN_COMPILER_VERSION" >/dev/null
fi
export KOTLIN_CLASSPATH="$JNA_JAR:$KOTLIN_HOME/lib/kotlin-stdlib.jar"

cd "$ROOT"
native_step "building the library and generating the bindings"
bash native/generate-bindings.sh "$NATIVE_BINDINGS" 2>&1 | grep -v '^ *Compiling\|^writing' || true
[ -f "$NATIVE_BINDINGS/kotlin/io/github/eventlite/eventlite.kt" ] || { echo "binding generation failed" >&2; exit 1; }

native_step "building the Python wheel (maturin)"
rm -rf "$ROOT/target/native-wheels"
(cd native && "$NATIVE_TOOLS/venv/bin/maturin" build --release --locked --compatibility linux --quiet \
  --out "$ROOT/target/native-wheels" 2>&1 | grep -v '^ *Compiling\|^writing\|looks like an old-style' || true)
NATIVE_WHEEL="$(ls "$ROOT"/target/native-wheels/eventlite-*.whl 2>/dev/null | head -1)"
[ -n "$NATIVE_WHEEL" ] || { echo "the wheel was not built" >&2; exit 1; }
export NATIVE_WHEEL

native_step "compiling the generated Kotlin and the Kotlin programs"
KOTLIN_SOURCES=("$NATIVE_BINDINGS/kotlin/io/github/eventlite/"*.kt native/kotlin/src/*.kt)
KOTLIN_JAR="$ROOT/target/native-kotlin/eventlite-native-tests.jar"
KOTLIN_STAMP="$ROOT/target/native-kotlin/sources.sha256"
mkdir -p "$ROOT/target/native-kotlin"
sources_hash="$(cat "${KOTLIN_SOURCES[@]}" | sha256sum | cut -d' ' -f1)"
if [ ! -f "$KOTLIN_JAR" ] || [ "$(cat "$KOTLIN_STAMP" 2>/dev/null)" != "$sources_hash" ]; then
  JAVA_OPTS="-Xmx2g" "$KOTLIN_HOME/bin/kotlinc" -nowarn -cp "$JNA_JAR" "${KOTLIN_SOURCES[@]}" -d "$KOTLIN_JAR"
  echo "$sources_hash" > "$KOTLIN_STAMP"
fi
export KOTLIN_CLASSPATH="$KOTLIN_JAR:$KOTLIN_CLASSPATH"

native_step "building the sync server (eventlite serve)"
cargo build -q -p eventlite-server --bin eventlite --locked
EVENTLITE_BIN="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')/debug/eventlite"
export EVENTLITE_BIN
