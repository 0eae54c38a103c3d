// Prints the package's size: the wasm and the JS a browser loads, raw and gzipped (level 9), and their total
// against the 350 KB target. With --vite, also what the Vite test app ships (its bundler minifies the JS), and
// ENFORCES the limit below on that total: exits 1 when it is over, or when the Vite build is missing or was built
// from another wasm than js/dist's (scripts/test-js.sh runs this after building both).
// Usage: node js/scripts/size.mjs [--vite] [--line LABEL]
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const js = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(js, 'dist');
const gz = (bytes) => gzipSync(bytes, { level: 9 }).length;
const kb = (n) => `${(n / 1024).toFixed(1)} KB`;

// The target is 350 KB (tracker issue 10). Until it is reached, LIMIT holds the package to the smallest Vite-shipped
// total measured (551.9 KB at 906a48a, 2026-12-01) plus 2%: docs/benchmarks.md ("Package size", issue 10) says, with
// measurements, what bounds it (SQLite is half the wasm, Rust the other half, per crate) and what was tried.
const TARGET = 350 * 1024;
const LIMIT = 563 * 1024;

function measure(files) {
  const raw = files.reduce((sum, file) => sum + readFileSync(file).length, 0);
  const zipped = files.reduce((sum, file) => sum + gz(readFileSync(file)), 0);
  return { raw, zipped };
}

function report(label, wasmFiles, jsFiles) {
  const wasm = measure(wasmFiles);
  const script = measure(jsFiles);
  const total = wasm.zipped + script.zipped;
  const line = process.argv.indexOf('--line');
  if (line !== -1) {
    // One markdown table row, for js/scripts/size-steps.sh.
    console.log(`| ${process.argv[line + 1]} | ${kb(wasm.raw)} | ${kb(wasm.zipped)} | ${kb(script.zipped)} | ${kb(total)} |`);
    return total;
  }
  console.log(`${label}`);
  console.log(`  wasm  ${kb(wasm.raw).padStart(10)} raw  ${kb(wasm.zipped).padStart(10)} gzipped`);
  console.log(`  JS    ${kb(script.raw).padStart(10)} raw  ${kb(script.zipped).padStart(10)} gzipped (${jsFiles.length} files)`);
  console.log(`  total ${kb(total).padStart(27)} gzipped; target ${kb(TARGET)}: ${total <= TARGET ? 'met' : 'NOT met'}`);
  return total;
}

// The browser entry's module graph: every module of js/dist (the page, worker and relay folders included) but the
// Node-only and edge-only ones (the in-process relay counts: the browser entry loads it where there is no Worker),
// and the optional `eventlite/react` entry (loaded only by apps that import it).
const nodeOnly = new Set(['node.js', 'addon.js', 'edge.js', 'react.js']);
const jsFiles = readdirSync(dist, { recursive: true })
  .filter((name) => name.endsWith('.js') && !nodeOnly.has(name))
  .map((name) => join(dist, name));
report('npm package (js/dist, as published: browser entry, worker, wasm-bindgen glue, wasm)', [join(dist, 'wasm', 'eventlite_wasm_bg.wasm')], jsFiles);

const viteAssets = join(js, 'test', 'vite-app', 'dist', 'assets');
if (process.argv.includes('--vite')) {
  const fail = (why) => {
    console.error(`size: ${why}`);
    process.exit(1);
  };
  if (!existsSync(viteAssets)) fail('no Vite build in js/test/vite-app/dist (scripts/test-js.sh browser builds it)');
  const assets = readdirSync(viteAssets).map((name) => join(viteAssets, name));
  const wasm = assets.filter((file) => file.endsWith('.wasm'));
  const published = readFileSync(join(dist, 'wasm', 'eventlite_wasm_bg.wasm'));
  if (wasm.length !== 1 || !readFileSync(wasm[0]).equals(published)) {
    fail('the Vite build does not ship js/dist\'s wasm: it is stale, rebuild it (scripts/test-js.sh browser)');
  }
  const total = report(
    'Vite app (js/test/vite-app/dist: what a page using the package downloads, JS minified by Vite)',
    wasm,
    assets.filter((file) => file.endsWith('.js')),
  );
  if (total > LIMIT) fail(`the Vite-shipped total, ${kb(total)} gzipped, is over the limit of ${kb(LIMIT)}`);
  console.log(`  limit ${kb(LIMIT).padStart(27)}: ok`);
}
