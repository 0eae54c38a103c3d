# Shared by the scripts in this directory (sourced, not run).

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
