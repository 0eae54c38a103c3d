#!/usr/bin/env bash
# Packs the npm packages as they would be published, into OUTDIR (default js/): `eventlite-<version>.tgz` and one
# `eventlite-node-<target>-<version>.tgz` per platform package whose addon is built (js/scripts/build-addon.sh).
# As napi-rs's `napi prepublish` does, the platform packages become optional dependencies of `eventlite` only in
# the packed package.json: in the repository they are not on the registry, and `npm ci` in js/ must not look for
# them. Prints the tarballs' paths, `eventlite` first. Needs js/dist (js/scripts/build.sh).
set -euo pipefail
JS="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="$(mkdir -p "${1:-$JS}" && cd "${1:-$JS}" && pwd)"
[ -f "$JS/dist/node.js" ] || { echo "pack: js/dist is missing: run bash js/scripts/build.sh" >&2; exit 1; }

STAGE="$(mktemp -d "${TMPDIR:-/tmp}/eventlite-pack.XXXXXX")"
trap 'rm -rf "$STAGE"' EXIT
cp -R "$JS/package.json" "$JS/README.md" "$JS/dist" "$STAGE/"

PLATFORMS=()
for manifest in "$JS"/addon/npm/*/package.json; do
    dir="$(dirname "$manifest")"
    if compgen -G "$dir/*.node" >/dev/null; then PLATFORMS+=("$dir"); fi
done
node - "$STAGE/package.json" "${PLATFORMS[@]}" <<'JS'
const { readFileSync, writeFileSync } = require('node:fs');
const [target, ...platforms] = process.argv.slice(2);
const manifest = JSON.parse(readFileSync(target, 'utf8'));
manifest.optionalDependencies = {};
for (const dir of platforms) {
  const platform = JSON.parse(readFileSync(`${dir}/package.json`, 'utf8'));
  if (platform.version !== manifest.version) throw new Error(`${platform.name} is ${platform.version}, not ${manifest.version}`);
  manifest.optionalDependencies[platform.name] = platform.version;
}
writeFileSync(target, `${JSON.stringify(manifest, null, 2)}\n`);
JS
(cd "$STAGE" && echo "$OUT/$(npm pack --silent --pack-destination "$OUT" | tail -n 1)")
for dir in "${PLATFORMS[@]}"; do
    (cd "$dir" && echo "$OUT/$(npm pack --silent --pack-destination "$OUT" | tail -n 1)")
done
