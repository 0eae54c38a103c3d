#!/usr/bin/env bash
# Binding overhead in one run: 1-event and 100-event appends through Python and Kotlin against core called directly
# from Rust, same file settings; prints a table with ratios (see native/benches/overhead.rs).
#   bash native/bench/run.sh            (EVENTLITE_BENCH_SCALE=0.1 for a quick look, EVENTLITE_BENCH_ROUNDS=5 when noisy)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
source native/setup.sh
cd "$ROOT"
venv="$ROOT/target/native-bench-venv"
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/pip" install -q --disable-pip-version-check --force-reinstall --no-deps "$NATIVE_WHEEL"
export EVENTLITE_BENCH_PYTHON="$venv/bin/python $ROOT/native/bench/bench.py"
export EVENTLITE_BENCH_JAVA="java -Djna.library.path=$NATIVE_LIB_DIR -cp $KOTLIN_CLASSPATH BenchKt"
cargo bench -p eventlite-native --bench overhead --locked
