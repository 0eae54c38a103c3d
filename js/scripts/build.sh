#!/usr/bin/env bash
# Builds the npm package into js/dist: the wasm (size profile, trimmed SQLite, wasm-opt), its wasm-bindgen glue,
# and the TypeScript. Run from anywhere; needs `npm ci` done in js/ (scripts/test-js.sh does it).
#
# Knobs (for measuring each size step, see js/scripts/size-steps.sh):
#   EVENTLITE_WASM_PROFILE=wasm-release|release   cargo profile (default wasm-release: opt-level z, LTO)
#   EVENTLITE_SQLITE_TRIM=1|0                      compile SQLite without the features EventLite does not use
#   EVENTLITE_WASM_OPT=1|0                         run binaryen's wasm-opt -Os
set -euo pipefail
JS="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ROOT="$(cd "$JS/.." && pwd)"
PROFILE="${EVENTLITE_WASM_PROFILE:-wasm-release}"
TRIM="${EVENTLITE_SQLITE_TRIM:-1}"
OPT="${EVENTLITE_WASM_OPT:-1}"
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
export CC_wasm32_unknown_unknown="${CC_wasm32_unknown_unknown:-clang}"
export AR_wasm32_unknown_unknown="${AR_wasm32_unknown_unknown:-llvm-ar}"

# SQLite features EventLite never uses (no FTS, R-tree, sessions, introspection virtual tables, ...). JSON functions,
# the authorizer and blob literals stay: projections pick fields with `->>`, the authorizer checks what their SQL and
# queries touch (core/src/projection/guard.rs), and their undo statements carry values as `X'..'` literals.
# Only flags that leave the amalgamation's parser intact: OMIT_TRIGGER/VIEW/ATTACH/VACUUM/ANALYZE/REINDEX leave the
# parser calling functions that no longer exist (link imports from "env"), OMIT_CTE/WINDOWFUNC do not compile, and
# OMIT_VIRTUALTABLE implies OMIT_ALTERTABLE, which the schema migrations need. WAL, date functions, randomblob stay.
# OMIT_TEMPDB compiles cleanly but breaks ALTER TABLE ... RENAME ("no such table: sqlite_temp_schema": SQLite's rename
# also edits the temp schema), which the v5 migration uses.
# Left in for speed although they compile out cleanly (docs/benchmarks.md, "Package size", has what they save):
# OMIT_QUICKBALANCE (appends at a B-tree's end), OMIT_BTREECOUNT (count(*)), OMIT_TRUNCATE_OPTIMIZATION,
# OMIT_LOOKASIDE, OMIT_LIKE/OR/BETWEEN_OPTIMIZATION; OMIT_HEX_INTEGER would change what SQL means.
SQLITE_TRIM_FLAGS="-USQLITE_ENABLE_FTS5 -USQLITE_ENABLE_RTREE -USQLITE_ENABLE_SESSION -USQLITE_ENABLE_PREUPDATE_HOOK
  -USQLITE_ENABLE_BYTECODE_VTAB -USQLITE_ENABLE_DBPAGE_VTAB -USQLITE_ENABLE_DBSTAT_VTAB -USQLITE_ENABLE_STMTVTAB
  -USQLITE_ENABLE_MATH_FUNCTIONS -USQLITE_ENABLE_OFFSET_SQL_FUNC -USQLITE_ENABLE_UNKNOWN_SQL_FUNCTION
  -USQLITE_ENABLE_COLUMN_METADATA -USQLITE_ENABLE_UNLOCK_NOTIFY -USQLITE_ENABLE_API_ARMOR
  SQLITE_OMIT_COMPLETE SQLITE_OMIT_DECLTYPE SQLITE_OMIT_GET_TABLE
  SQLITE_OMIT_PROGRESS_CALLBACK SQLITE_OMIT_TCL_VARIABLE SQLITE_OMIT_TRACE SQLITE_OMIT_UTF16
  SQLITE_OMIT_INTROSPECTION_PRAGMAS SQLITE_DEFAULT_MEMSTATUS=0 SQLITE_DQS=0 SQLITE_MAX_EXPR_DEPTH=0
  SQLITE_LIKE_DOESNT_MATCH_BLOBS SQLITE_OMIT_SHARED_CACHE SQLITE_OMIT_DEPRECATED SQLITE_OMIT_LOAD_EXTENSION
  SQLITE_OMIT_EXPLAIN SQLITE_OMIT_AUTOVACUUM SQLITE_OMIT_INCRBLOB SQLITE_OMIT_INTEGRITY_CHECK SQLITE_OMIT_LOCALTIME
  SQLITE_OMIT_AUTOMATIC_INDEX SQLITE_OMIT_FOREIGN_KEY SQLITE_OMIT_GENERATED_COLUMNS SQLITE_OMIT_XFER_OPT
  SQLITE_OMIT_DESERIALIZE SQLITE_OMIT_AUTORESET SQLITE_OMIT_COMPILEOPTION_DIAGS
  SQLITE_UNTESTABLE SQLITE_OMIT_CASE_SENSITIVE_LIKE_PRAGMA SQLITE_MAX_MMAP_SIZE=0
  SQLITE_OMIT_SEH SQLITE_OMIT_POPEN SQLITE_DISABLE_LFS"

# A trimmed SQLite gets a target directory of its own, so switching never rebuilds the untrimmed one.
if [ "$TRIM" = 1 ]; then
    export SQLITE_WASM_RS_FLAGS="$(echo $SQLITE_TRIM_FLAGS)"
    CARGO_DIR="$TARGET_DIR/wasm-pkg-trimmed"
else
    unset SQLITE_WASM_RS_FLAGS
    CARGO_DIR="$TARGET_DIR/wasm-pkg"
fi

# `--bench-wasm`: only the benchmark's wasm (with the raw-SQLite baseline, feature bench-baseline) into js/bench/wasm.
FEATURES=()
OUT="$JS/src/wasm"
if [ "${1:-}" = "--bench-wasm" ]; then
    FEATURES=(--features bench-baseline)
    OUT="$JS/bench/wasm"
fi

echo "build-js: cargo build -p eventlite-wasm --profile $PROFILE ${FEATURES[*]} (SQLite trim: $TRIM)"
(cd "$ROOT" && cargo build --quiet --locked -p eventlite-wasm --lib --target wasm32-unknown-unknown \
    --profile "$PROFILE" --target-dir "$CARGO_DIR" "${FEATURES[@]}")
WASM="$CARGO_DIR/wasm32-unknown-unknown/$PROFILE/eventlite_wasm.wasm"

rm -rf "$OUT"
mkdir -p "$OUT"
wasm-bindgen --target web --out-dir "$OUT" --out-name eventlite_wasm "$WASM"
# Every import must be wasm-bindgen's: an import from "env" is a C symbol SQLite's trimmed build lost.
node -e '
const wasm = new WebAssembly.Module(require("fs").readFileSync(process.argv[1]));
const missing = WebAssembly.Module.imports(wasm).filter((i) => i.module === "env").map((i) => i.name);
if (missing.length) { console.error("build-js: unresolved C symbols: " + missing.join(" ")); process.exit(1); }
' "$OUT/eventlite_wasm_bg.wasm"
if [ "$OPT" = 1 ]; then
    # -Os: 1.0 KB gzipped smaller than -Oz here (-O3, -Oz --converge, -Oz twice: no better with the rest).
    # --low-memory-unused (4.6 KB) folds constant offsets into loads and stores, assuming the program never touches
    # the first 1 KB of memory: Rust puts the 1 MB stack there (stack first, data from 1 MB), so at worst the last
    # 1 KB of stack traps, as if the stack were 1 KB smaller.
    "$JS/node_modules/.bin/wasm-opt" -Os --low-memory-unused --strip-producers --strip-target-features --enable-bulk-memory --enable-nontrapping-float-to-int \
        --enable-sign-ext --enable-mutable-globals --enable-reference-types --enable-multivalue \
        "$OUT/eventlite_wasm_bg.wasm" -o "$OUT/eventlite_wasm_bg.wasm"
fi
if [ "${1:-}" = "--bench-wasm" ]; then
    echo "build-js: js/bench/wasm ready"
    exit 0
fi

rm -rf "$JS/dist"
(cd "$JS" && node_modules/.bin/tsc -p tsconfig.json)
mkdir -p "$JS/dist/wasm"
cp "$OUT/eventlite_wasm.js" "$OUT/eventlite_wasm.d.ts" "$OUT/eventlite_wasm_bg.wasm" "$JS/dist/wasm/"
echo "build-js: js/dist ready ($(wc -c <"$JS/dist/wasm/eventlite_wasm_bg.wasm") bytes of wasm)"
