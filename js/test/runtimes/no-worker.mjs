// The browser entry where there is no Worker (a service worker, an edge runtime whose bundler picked the `browser`
// condition): run here in Deno with its Worker removed, importing dist/browser.js by path. The store must run
// in-process over memory, the wasm fetched next to the glue.
import process from 'node:process';

import { report, run } from './suite.mjs';

delete globalThis.Worker;
const lib = await import(new URL('./node_modules/eventlite/dist/browser.js', import.meta.url).href);
let count = 0;
const warnings = [];
console.warn = (message) => warnings.push(String(message));
const open = (options = {}) => lib.openEventStore({ name: `test-${++count}`, ...options });
const results = await run(lib, open, 'memory');
const warned = warnings.some((w) => w.includes('cannot start a dedicated worker'));
results.push({ name: 'the memory fallback is said on the console', ok: warned, error: `warnings: ${warnings}` });
process.exit(report('deno browser-entry', results) === 0 ? 0 : 1);
