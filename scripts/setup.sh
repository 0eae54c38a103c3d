#!/usr/bin/env bash
# Install what EventLite's native + wasm32 test suites need (Debian 12 host).
# Idempotent: every step checks first; a re-run on a ready machine takes ~1s.
# It changes nothing in the caller's environment. The caller (CI step / dev
# shell) should export these before running the tests:
#
#   export PATH="$HOME/.cargo/bin:$PATH"      # wasm-bindgen-test-runner lives here
#   export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner
#   export CC_wasm32_unknown_unknown=clang    # cc-rs default anyway; pin it so
#   export AR_wasm32_unknown_unknown=llvm-ar  # every cargo call sees the same value
#                                             # (changing them rebuilds sqlite-wasm-rs)
#   export CHROMEDRIVER=/usr/bin/chromedriver # optional (found on PATH otherwise)
#
# Optional knobs for wasm test runs:
#   WASM_BINDGEN_TEST_ONLY_NODE=1   skip the browser-configured test binaries
#   WASM_BINDGEN_TEST_ONLY_WEB=1    skip the Node test binaries
#   WASM_BINDGEN_TEST_TIMEOUT=60    per-binary timeout in seconds (default 20)
# No webdriver.json is needed: the runner already passes headless,
# no-sandbox and disable-dev-shm-usage to Chromium (works as root).
#
# The wasm-bindgen-cli version comes from the workspace Cargo.toml line
#   [workspace.dependencies]
#   wasm-bindgen = "=X"
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

APT_PACKAGES=(clang lld llvm chromium chromium-driver)
WASM_TARGET=wasm32-unknown-unknown
MIN_NODE_MAJOR=20
CARGO_BIN="${CARGO_HOME:-$HOME/.cargo}/bin"
case ":$PATH:" in *":$CARGO_BIN:"*) ;; *) PATH="$CARGO_BIN:$PATH" ;; esac

say() { printf 'setup: %s\n' "$*"; }
die() { printf 'setup: ERROR: %s\n' "$*" >&2; exit 1; }

# Run a noisy command with its output in a log; show the tail only on failure.
run_logged() {
    local log
    log="$(mktemp "${TMPDIR:-/tmp}/eventlite-setup.XXXXXX")"
    if "$@" >"$log" 2>&1; then
        rm -f "$log"
    else
        local rc=$?
        tail -n 40 "$log" >&2
        die "'$*' failed (exit $rc); full log: $log"
    fi
}

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || die "not root and sudo not found"
    SUDO=(sudo)
fi

# 1. apt packages -----------------------------------------------------------
missing=()
for pkg in "${APT_PACKAGES[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
        missing+=("$pkg")
    fi
done
if [ "${#missing[@]}" -eq 0 ]; then
    say "apt: ${APT_PACKAGES[*]} already installed"
else
    say "apt: installing ${missing[*]} (apt-get update first)"
    # Lock timeout: wait for a concurrent apt/dpkg instead of failing.
    apt_get=("${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600)
    run_logged "${apt_get[@]}" update
    run_logged "${apt_get[@]}" install -y -q "${missing[@]}"
fi

# 2. Rust toolchain + wasm target ---------------------------------------------
command -v rustup >/dev/null 2>&1 || die "rustup not found (install Rust via https://rustup.rs)"
command -v cargo >/dev/null 2>&1 || die "cargo not found on PATH"
if rustup target list --installed | grep -qx "$WASM_TARGET"; then
    say "rustup: target $WASM_TARGET already installed"
else
    say "rustup: adding target $WASM_TARGET"
    run_logged rustup target add "$WASM_TARGET"
fi

# 3. wasm-bindgen-cli, exactly the version the workspace pins -----------------
[ -f Cargo.toml ] || die "$ROOT/Cargo.toml not found"
WB_VERSION="$(
    tr -d '\r' <Cargo.toml | awk '
        /^[[:space:]]*\[/ {
            in_ws = ($0 ~ /^[[:space:]]*\[workspace\.dependencies\][[:space:]]*(#.*)?$/)
            next
        }
        in_ws && /^[[:space:]]*wasm-bindgen[[:space:]]*=/ {
            if (match($0, /"=[^"]+"/)) { print substr($0, RSTART + 2, RLENGTH - 3); exit }
        }'
)"
[[ "$WB_VERSION" =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] ||
    die "could not read 'wasm-bindgen = \"=X.Y.Z\"' under [workspace.dependencies] in $ROOT/Cargo.toml (got '$WB_VERSION')"
have_wb="$(wasm-bindgen --version 2>/dev/null || true)"
if [ "$have_wb" = "wasm-bindgen $WB_VERSION" ] && command -v wasm-bindgen-test-runner >/dev/null 2>&1; then
    say "wasm-bindgen-cli $WB_VERSION already installed"
else
    say "wasm-bindgen-cli: installing $WB_VERSION (found '${have_wb:-none}'; takes a few minutes)"
    run_logged cargo install wasm-bindgen-cli --version "$WB_VERSION"
    [ "$(wasm-bindgen --version)" = "wasm-bindgen $WB_VERSION" ] ||
        die "wasm-bindgen on PATH is '$(wasm-bindgen --version)', expected $WB_VERSION (is $CARGO_BIN first on PATH?)"
fi

# 4. Node.js -----------------------------------------------------------------
command -v node >/dev/null 2>&1 || die "node not found; Node.js >= $MIN_NODE_MAJOR is required"
node_version="$(node --version)"
node_major="${node_version#v}"
node_major="${node_major%%.*}"
[[ "$node_major" =~ ^[0-9]+$ ]] && [ "$node_major" -ge "$MIN_NODE_MAJOR" ] ||
    die "node $node_version found; Node.js >= $MIN_NODE_MAJOR is required"
say "node $node_version ok"

# 5. PostgreSQL (the server's second backend is tested against 127.0.0.1:5432) --------------------------------
if pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
    say "postgresql on 127.0.0.1:5432 ok"
elif command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
    say "postgresql: starting the local cluster"
    run_logged pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n 1)" main start
    for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
    pg_isready -q -h 127.0.0.1 -p 5432 || die "postgresql did not come up on 127.0.0.1:5432"
else
    die "postgresql is not reachable on 127.0.0.1:5432 and no local cluster was found to start"
fi
