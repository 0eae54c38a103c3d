// Where the wasm's bytes are: function body sizes by name (from the name section), the largest functions and the
// sum per crate, plus the data section. Needs a wasm with names, i.e. before wasm-opt:
//   EVENTLITE_WASM_OPT=0 bash js/scripts/build.sh && node js/scripts/wasm-top.mjs js/dist/wasm/eventlite_wasm_bg.wasm
// Usage: node js/scripts/wasm-top.mjs FILE.wasm [--top N] [--grep REGEX]  (--grep: the sum and count of matching names)
import { readFileSync } from 'node:fs';

const args = process.argv.slice(2);
const option = (name, fallback) => (args.includes(name) ? args[args.indexOf(name) + 1] : fallback);
const bytes = readFileSync(args[0]);
let at = 8;
const leb = () => {
  let value = 0;
  let shift = 0;
  let byte;
  do {
    byte = bytes[at++];
    value += (byte & 0x7f) * 2 ** shift;
    shift += 7;
  } while (byte & 0x80);
  return value;
};

let imported = 0;
const bodies = [];
const names = new Map();
const sections = [];
while (at < bytes.length) {
  const id = bytes[at++];
  const length = leb();
  const end = at + length;
  let label = String(id);
  if (id === 0) {
    const nameLength = leb();
    label = bytes.subarray(at, at + nameLength).toString();
    at += nameLength;
    while (label === 'name' && at < end) {
      const sub = bytes[at++];
      const subEnd = leb() + at;
      if (sub === 1) {
        for (let count = leb(); count > 0; count--) {
          const index = leb();
          const size = leb();
          names.set(index, bytes.subarray(at, at + size).toString());
          at += size;
        }
      }
      at = subEnd;
    }
  } else if (id === 2) {
    for (let count = leb(); count > 0; count--) {
      for (let field = 0; field < 2; field++) {
        const size = leb(); // module and field names (`at += leb()` would add to the old offset)
        at += size;
      }
      const kind = bytes[at++];
      if (kind === 0) {
        leb();
        imported++;
      } else if (kind === 1 || kind === 2) {
        if (kind === 1) at++;
        const flags = bytes[at++];
        leb();
        if (flags & 1) leb();
      } else if (kind === 3) {
        at += 2;
      } else {
        at++;
        leb();
      }
    }
  } else if (id === 10) {
    for (let count = leb(); count > 0; count--) {
      const size = leb();
      bodies.push(size);
      at += size;
    }
  }
  sections.push(`${{ 1: 'type', 2: 'import', 3: 'function', 7: 'export', 10: 'code', 11: 'data' }[id] ?? label} ${length}`);
  at = end;
}
if (names.size === 0) console.error('wasm-top: no name section (wasm-opt drops it): build with EVENTLITE_WASM_OPT=0');

// Rust symbols carry their crate (`serde_json::de::...`, `<&mut serde_json::de::Deserializer<R> as ...>`, with a
// `[hash]` for std's crates); the rest is C (SQLite and the libc shim) or wasm-bindgen's generated shims.
const crate = (name) => {
  if (!name.includes('::')) return /^(__wbg|__wbindgen|__externref|__rust|rust_)/.test(name) ? 'wasm-bindgen shims' : 'C: SQLite + libc shim';
  const match = name.replace(/\[[0-9a-f]{16}\]/g, '').match(/^[<&_ ]*(?:mut |dyn )?([A-Za-z0-9_]+)::/);
  return match ? match[1] : 'other';
};
const functions = bodies.map((size, index) => [size, names.get(index + imported) ?? `f${index + imported}`]);
const code = bodies.reduce((sum, size) => sum + size, 0);
console.log(`sections (bytes): ${sections.join(', ')}`);

const pattern = option('--grep');
if (pattern) {
  const matching = functions.filter(([, name]) => new RegExp(pattern).test(name));
  console.log(`${matching.reduce((sum, [size]) => sum + size, 0)} bytes in ${matching.length} functions matching /${pattern}/`);
  process.exit(0);
}
const perCrate = new Map();
for (const [size, name] of functions) perCrate.set(crate(name), (perCrate.get(crate(name)) ?? 0) + size);
console.log(`\ncode by crate (${code} bytes of function bodies):`);
for (const [name, size] of [...perCrate].sort((a, b) => b[1] - a[1]).slice(0, 30)) {
  console.log(`${String(size).padStart(9)} ${((100 * size) / code).toFixed(1).padStart(5)}%  ${name}`);
}
console.log('\nlargest functions:');
for (const [size, name] of functions.sort((a, b) => b[0] - a[0]).slice(0, Number(option('--top', 30)))) {
  console.log(`${String(size).padStart(9)}  ${name.slice(0, 160)}`);
}
