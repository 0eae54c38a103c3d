# Shared by the scripts in this directory (sourced, not run): the environment the wasm32 and browser tests need (the
# caller's values win), `step`, and `npm_ci`.

export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER="${CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER:-wasm-bindgen-test-runner}"
# Pinned so that every cargo call sees the same values (changing them rebuilds sqlite-wasm-rs).
export CC_wasm32_unknown_unknown="${CC_wasm32_unknown_unknown:-clang}"
export AR_wasm32_unknown_unknown="${AR_wasm32_unknown_unknown:-llvm-ar}"
export CHROMEDRIVER="${CHROMEDRIVER:-/usr/bin/chromedriver}"
export CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"
export WASM_BINDGEN_TEST_TIMEOUT="${WASM_BINDGEN_TEST_TIMEOUT:-120}"

step() { printf '\n==> %s\n' "$*"; }

# `npm ci` in directory $1 unless its node_modules already matches its package-lock.json (a stamp copied after each
# install), so re-runs are quick and offline.
npm_ci() {
    local dir="$1" stamp="$1/node_modules/.eventlite-lock"
    if [ ! -f "$stamp" ] || ! cmp -s "$dir/package-lock.json" "$stamp"; then
        (cd "$dir" && npm ci --no-audit --no-fund)
        cp "$dir/package-lock.json" "$stamp"
    else
        echo "$dir/node_modules is up to date with package-lock.json"
    fi
}
