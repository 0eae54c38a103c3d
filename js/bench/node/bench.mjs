// The Node benchmark (one run): file stores through the package and its Node-API addon, against core called from
// Rust (examples/core_bench.rs, the same work) and against better-sqlite3 doing the minimal-schema insert and read.
// Every side uses a fresh file in WAL mode with synchronous=NORMAL (the store's default durability).
// Usage: node bench.mjs <eventlite entry (dist/node.js of the installed package)> <core_bench binary> [events]
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

import Database from 'better-sqlite3';

const [entry, coreBench, count = '5000'] = process.argv.slice(2);
const EVENTS = Number(count);
const STREAMS = 100;
const { openEventStore } = await import(pathToFileURL(entry).href);
const directory = mkdtempSync(join(tmpdir(), 'eventlite-bench-'));
const rate = (n, started) => n / ((performance.now() - started) / 1000);

async function addon(round) {
  const store = await openEventStore({ path: join(directory, `addon-${round}.db`) });
  if (store.storageMode !== 'file') throw new Error(`not a file store: ${store.storageMode}`);
  let started = performance.now();
  for (let i = 0; i < EVENTS; i++) {
    const expectedVersion = Math.floor(i / STREAMS);
    await store.appendToStream(`single-${i % STREAMS}`, [{ type: 'E', data: { n: i } }], { expectedVersion });
  }
  const append1 = rate(EVENTS, started);
  started = performance.now();
  for (let b = 0; b < EVENTS / 100; b++) {
    const batch = Array.from({ length: 100 }, (_, n) => ({ type: 'E', data: { n } }));
    await store.appendToStream(`batch-${b}`, batch, { expectedVersion: 'no_stream' });
  }
  const append100 = rate(EVENTS, started);
  started = performance.now();
  let read = 0;
  for (let s = 0; s < STREAMS; s++) read += (await store.readStream(`single-${s}`)).events.length;
  if (read !== EVENTS) throw new Error(`read ${read}`);
  const readStream = rate(read, started);
  started = performance.now();
  let after = 0;
  read = 0;
  for (;;) {
    const { events } = await store.readAll({ after, maxCount: 1000 });
    if (events.length === 0) break;
    after = events.at(-1).position;
    read += events.length;
  }
  const readAll = rate(read, started);
  await store.close();
  return { append1, append100, readStream, readAll };
}

/** The addon's classes called directly, without the package's layers (validation, promises, the host): where the
 * package's own cost is, against `addon`. Reads include JSON.parse of each page, as the package does. */
function addonDirect(round) {
  const { WasmStore } = createRequire(entry)('@eventlite/node-linux-x64-gnu');
  const store = WasmStore.openFile(join(directory, `direct-${round}.db`), {});
  let started = performance.now();
  for (let i = 0; i < EVENTS; i++) {
    const batch = JSON.stringify([{ type: 'E', data: { n: i } }]);
    store.appendToStream(`single-${i % STREAMS}`, batch, Math.floor(i / STREAMS));
  }
  const append1 = rate(EVENTS, started);
  started = performance.now();
  for (let b = 0; b < EVENTS / 100; b++) {
    const batch = JSON.stringify(Array.from({ length: 100 }, (_, n) => ({ type: 'E', data: { n } })));
    store.appendToStream(`batch-${b}`, batch, 'no_stream');
  }
  const append100 = rate(EVENTS, started);
  started = performance.now();
  let read = 0;
  for (let s = 0; s < STREAMS; s++) read += JSON.parse(store.readStream(`single-${s}`, undefined).events).length;
  const readStream = rate(read, started);
  started = performance.now();
  let after = 0;
  read = 0;
  for (;;) {
    const events = JSON.parse(store.readAll({ fromPosition: after, maxCount: 1000 }).events);
    if (events.length === 0) break;
    after = events.at(-1).position;
    read += events.length;
  }
  const readAll = rate(read, started);
  store.close();
  return { append1, append100, readStream, readAll };
}

function betterSqlite(round) {
  const db = new Database(join(directory, `raw-${round}.db`));
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.exec(`CREATE TABLE events (position INTEGER PRIMARY KEY AUTOINCREMENT, stream TEXT NOT NULL,
    version INTEGER NOT NULL, type TEXT NOT NULL, data TEXT NOT NULL, UNIQUE (stream, version))`);
  const insert = db.prepare('INSERT INTO events (stream, version, type, data) VALUES (?, ?, ?, ?)');
  let started = performance.now();
  for (let i = 0; i < EVENTS; i++) {
    insert.run(`single-${i % STREAMS}`, Math.floor(i / STREAMS) + 1, 'E', JSON.stringify({ n: i }));
  }
  const append1 = rate(EVENTS, started);
  const batch = db.transaction((stream) => {
    for (let n = 0; n < 100; n++) insert.run(stream, n + 1, 'E', JSON.stringify({ n }));
  });
  started = performance.now();
  for (let b = 0; b < EVENTS / 100; b++) batch.immediate(`batch-${b}`);
  const append100 = rate(EVENTS, started);
  const byStream = db.prepare('SELECT position, stream, version, type, data FROM events WHERE stream = ? ORDER BY version');
  started = performance.now();
  let read = 0;
  for (let s = 0; s < STREAMS; s++) {
    read += byStream.all(`single-${s}`).map((row) => ({ ...row, data: JSON.parse(row.data) })).length;
  }
  const readStream = rate(read, started);
  const page = db.prepare('SELECT position, stream, version, type, data FROM events WHERE position > ? ORDER BY position LIMIT 1000');
  started = performance.now();
  let after = 0;
  read = 0;
  for (;;) {
    const rows = page.all(after).map((row) => ({ ...row, data: JSON.parse(row.data) }));
    if (rows.length === 0) break;
    after = rows.at(-1).position;
    read += rows.length;
  }
  const readAll = rate(read, started);
  db.close();
  return { append1, append100, readStream, readAll };
}

// The machine is shared: each side runs ROUNDS times, the sides taking turns, each round on fresh files; the best
// rate of each side is reported, so a burst of load elsewhere does not decide a ratio.
const ROUNDS = 3;
const runs = { addon: [], direct: [], core: [], raw: [] };
for (let round = 0; round < ROUNDS; round++) {
  runs.addon.push(await addon(round));
  runs.direct.push(addonDirect(round));
  const coreDirectory = join(directory, `core-${round}`);
  mkdirSync(coreDirectory);
  runs.core.push(JSON.parse(execFileSync(coreBench, [coreDirectory, String(EVENTS)], { encoding: 'utf8' })));
  runs.raw.push(betterSqlite(round));
}
const best = (list) => Object.fromEntries(Object.keys(list[0]).map((key) => [key, Math.max(...list.map((r) => r[key]))]));
const results = Object.fromEntries(Object.entries(runs).map(([side, list]) => [side, best(list)]));
rmSync(directory, { recursive: true, force: true });

const labels = {
  append1: 'append, 1 event per call (Exact), events/s',
  append100: 'append, 100 events per call, events/s',
  readStream: 'readStream, whole streams of 50, events/s',
  readAll: 'readAll, pages of 1,000, events/s',
};
const n = (value) => Math.round(value).toLocaleString('en-US');
console.log(
  `Node ${process.version}, ${EVENTS} events per workload, ${STREAMS} streams, WAL, synchronous=NORMAL, best of ${ROUNDS} alternating rounds`,
);
console.log(
  '| workload | package API (addon) | addon called directly | core from Rust | better-sqlite3 minimal | package / core | direct / core | package / better-sqlite3 |',
);
console.log('|---|---|---|---|---|---|---|---|');
for (const key of Object.keys(labels)) {
  const [a, d, c, r] = [results.addon[key], results.direct[key], results.core[key], results.raw[key]];
  const x = (ratio) => `${ratio.toFixed(2)}x`;
  console.log(`| ${labels[key]} | ${n(a)} | ${n(d)} | ${n(c)} | ${n(r)} | ${x(a / c)} | ${x(d / c)} | ${x(a / r)} |`);
}
