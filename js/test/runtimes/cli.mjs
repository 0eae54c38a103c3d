// Runs suite.mjs in the runtime that runs this file (Node, Deno or Bun) over the installed `eventlite` package.
// Usage: <runtime> cli.mjs [memory|file] ; prints one line per check and 'N passed, N failed'; exits 1 on a failure.
// `file`: every store is file-backed (`path` in a fresh temporary directory), through the Node-API addon.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import process from 'node:process';

import * as lib from 'eventlite';

import { report, run } from './suite.mjs';

const runtime = globalThis.Deno ? 'deno' : globalThis.Bun ? 'bun' : 'node';
const mode = process.argv[2] ?? 'memory';
const dir = mkdtempSync(join(tmpdir(), `eventlite-${runtime}-`));
let count = 0;
const open = (options = {}) => {
  count += 1;
  const path = mode === 'file' ? { path: join(dir, `store-${count}.db`) } : {};
  return lib.openEventStore({ name: `test-${count}`, ...path, ...options });
};

const failed = report(`${runtime} ${mode}`, await run(lib, open, mode));
rmSync(dir, { recursive: true, force: true });
process.exit(failed === 0 ? 0 : 1);
