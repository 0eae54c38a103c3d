// The benchmark's dedicated worker: EventLite (WasmStore, the package's wasm) and raw SQLite (RawSqlite, the same
// wasm build with the `bench-baseline` feature) side by side, in this one worker, on OPFS (sahpool, WAL,
// locking_mode=EXCLUSIVE, synchronous NORMAL unless stated). Raw SQLite runs twice: on the store's schema (the same
// tables and indexes, written by hand) and on a minimal one (one table, `UNIQUE (stream, version)`), the "raw
// sqlite-wasm inserting one row" of the goals. Posts the figures back to the page.
import init, { RawSqlite, WasmStore } from './wasm/eventlite_wasm.js';

// Every OPFS write and flush of this worker, counted where both the store (through its commit-writes layer) and raw
// SQLite (the sahpool VFS alone) end: the access handle. One counter for both; a wrapper call costs nanoseconds.
const io = { writes: 0, flushes: 0 };
const handle = self.FileSystemSyncAccessHandle?.prototype;
if (handle) {
  const { write, flush } = handle;
  handle.write = function (...args) {
    io.writes++;
    return write.apply(this, args);
  };
  handle.flush = function (...args) {
    io.flushes++;
    return flush.apply(this, args);
  };
}

/** Counts OPFS calls per commit: `measure(f)` runs `f` and adds its writes and flushes. */
function ioCounter() {
  const writes = [];
  const flushes = [];
  return {
    measure(f) {
      const [w, fl] = [io.writes, io.flushes];
      f();
      writes.push(io.writes - w);
      flushes.push(io.flushes - fl);
    },
    summary() {
      const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
      return { writes: mean(writes), maxWrites: Math.max(...writes), flushes: mean(flushes), maxFlushes: Math.max(...flushes) };
    },
  };
}

const now = () => performance.now();
const run = Date.now().toString(36);
let names = 0;
const fresh = (label) => `bench-${run}-${label}-${++names}`;

function quantiles(samples) {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
  return { p50: at(0.5), p95: at(0.95), mean: samples.reduce((a, b) => a + b, 0) / samples.length };
}

const payload = 'x'.repeat(64);
const data = (n) => `{"n":${n},"payload":"${payload}"}`;
const batchJson = (from, count) =>
  `[${Array.from({ length: count }, (_, i) => `{"type":"Benched","data":${data(from + i)}}`).join(',')}]`;

// The same row the store writes, written by hand. Ids are time-ordered like the store's UUID v7 (so both grow the
// `UNIQUE (event_id)` index at its end) and made before the clock starts; the time comes from SQLite, as on wasm.
const RAW_INSERT = `INSERT INTO events (event_id, stream, version, category, event_type, content_type, data, metadata,
  recorded_at) VALUES (unhex(?5), ?1, ?2, ?3, 'Benched', NULL, ?4, NULL, CAST(unixepoch('subsec') * 1000 AS INTEGER))`;
let idCounter = 0;
const rawId = () => Date.now().toString(16).padStart(12, '0') + (++idCounter).toString(16).padStart(20, '0');
const rawRows = (stream, fromVersion, count) =>
  JSON.stringify(
    Array.from({ length: count }, (_, i) => [stream, fromVersion + i, stream.split('-')[0], data(fromVersion + i), rawId()]),
  );

const MINIMAL_SCHEMA = `CREATE TABLE events (position INTEGER PRIMARY KEY, stream TEXT NOT NULL,
  version INTEGER NOT NULL, type TEXT NOT NULL, data TEXT NOT NULL, UNIQUE (stream, version))`;
const MINIMAL_INSERT = `INSERT INTO events (stream, version, type, data) VALUES (?1, ?2, 'Benched', ?3)`;
const minimalRows = (stream, fromVersion, count) =>
  JSON.stringify(Array.from({ length: count }, (_, i) => [stream, fromVersion + i, data(fromVersion + i)]));

/** A raw connection on a fresh file with the minimal schema. */
async function rawMinimal(label, synchronous) {
  const raw = await RawSqlite.openOpfs(fresh(label), synchronous);
  raw.exec(MINIMAL_SCHEMA);
  return raw;
}

/** A raw connection on a file whose schema the store created (so both write the same tables and indexes). */
async function rawOnStoreSchema(label, synchronous) {
  const name = fresh(label);
  const store = await WasmStore.openOpfs(name, { synchronous });
  store.close();
  store.free();
  return RawSqlite.openOpfs(name, synchronous);
}

async function singleAppends(count, synchronous) {
  const store = await WasmStore.openOpfs(fresh('single'), { synchronous });
  const raw = await rawOnStoreSchema('single-raw', synchronous);
  const minimal = await rawMinimal('single-min', synchronous);
  const times = { store: [], raw: [], minimal: [] };
  const writes = { store: ioCounter(), raw: ioCounter(), minimal: ioCounter() };
  for (let i = 0; i < count + 50; i++) {
    // Interleaved, so all see the same machine state; the first 50 of each are warm-up. Inputs are made first.
    const events = batchJson(i, 1);
    const rows = rawRows('bench-1', i + 1, 1);
    const minRows = minimalRows('bench-1', i + 1, 1);
    const runs = {
      store: () => store.appendToStream('bench-1', events, i), // Exact(i): the optimistic-concurrency check
      raw: () => raw.insertRows(RAW_INSERT, rows),
      minimal: () => minimal.insertRows(MINIMAL_INSERT, minRows),
    };
    for (const [who, run] of Object.entries(runs)) {
      if (i < 50) {
        run();
        continue;
      }
      const t = now();
      writes[who].measure(run);
      times[who].push(now() - t);
    }
  }
  store.close();
  raw.close();
  minimal.close();
  return {
    count,
    store: quantiles(times.store),
    raw: quantiles(times.raw),
    minimal: quantiles(times.minimal),
    io: { store: writes.store.summary(), raw: writes.raw.summary(), minimal: writes.minimal.summary() },
  };
}

async function batchAppends(batches, size) {
  const store = await WasmStore.openOpfs(fresh('batch'), { synchronous: 'normal' });
  const raw = await rawOnStoreSchema('batch-raw', 'normal');
  const minimal = await rawMinimal('batch-min', 'normal');
  const ms = { store: 0, raw: 0, minimal: 0 };
  const writes = { store: ioCounter(), raw: ioCounter(), minimal: ioCounter() };
  for (let b = 0; b < batches + 5; b++) {
    const events = batchJson(b * size, size);
    const rows = rawRows('bulk-1', b * size + 1, size);
    const minRows = minimalRows('bulk-1', b * size + 1, size);
    const runs = {
      store: () => store.appendToStream('bulk-1', events, b * size),
      raw: () => raw.insertRows(RAW_INSERT, rows),
      minimal: () => minimal.insertRows(MINIMAL_INSERT, minRows),
    };
    for (const [who, run] of Object.entries(runs)) {
      if (b < 5) {
        run();
        continue;
      }
      const t = now();
      writes[who].measure(run);
      ms[who] += now() - t;
    }
  }
  store.close();
  raw.close();
  minimal.close();
  const events = batches * size;
  const perSecond = (x) => (events / x) * 1000;
  return {
    events,
    size,
    storePerSecond: perSecond(ms.store),
    rawPerSecond: perSecond(ms.raw),
    minimalPerSecond: perSecond(ms.minimal),
    io: { store: writes.store.summary(), raw: writes.raw.summary(), minimal: writes.minimal.summary() },
  };
}

async function openLargeStore(total, page, repeats) {
  const name = fresh('large');
  const store = await WasmStore.openOpfs(name, {});
  const streams = 100;
  for (let i = 0; i < total / 1000; i++) {
    store.appendToStream(`large-${i % streams}`, batchJson(i * 1000, 1000), 'any');
  }
  store.close();
  store.free();
  const storeTimes = [];
  const rawTimes = [];
  let rows = 0;
  for (let r = 0; r < repeats; r++) {
    let t = now();
    const opened = await WasmStore.openOpfs(name, {});
    const first = opened.readAll({ maxCount: page });
    rows = JSON.parse(first.events).length;
    storeTimes.push(now() - t);
    opened.close();
    opened.free();
    t = now();
    const raw = await RawSqlite.openOpfs(name, 'normal');
    raw.queryCount(`SELECT position, event_id, stream, version, event_type, content_type, data, metadata, recorded_at
      FROM events ORDER BY position LIMIT ${page}`);
    rawTimes.push(now() - t);
    raw.close();
  }
  return { name, total, page, rows, store: quantiles(storeTimes), raw: quantiles(rawTimes) };
}

/** The same appends on a memory store in this worker: what EventLite costs without OPFS I/O. */
function memoryAppends(count, batches) {
  const store = WasmStore.openMemory({});
  const times = [];
  for (let i = 0; i < count + 50; i++) {
    const events = batchJson(i, 1);
    const t = now();
    store.appendToStream('bench-1', events, i);
    if (i >= 50) times.push(now() - t);
  }
  let ms = 0;
  for (let b = 0; b < batches; b++) {
    const events = batchJson(b * 100, 100);
    const t = now();
    store.appendToStream('bulk-1', events, b * 100);
    ms += now() - t;
  }
  store.close();
  return { single: quantiles(times), batchPerSecond: ((batches * 100) / ms) * 1000 };
}

self.onmessage = async ({ data: request }) => {
  try {
    await init();
    const results = {
      single: await singleAppends(request.single, 'normal'),
      singleFull: await singleAppends(request.singleFull, 'full'),
      batch: await batchAppends(request.batches, 100),
      open: await openLargeStore(request.total, request.page, request.repeats),
      memory: memoryAppends(request.single, request.batches),
    };
    self.postMessage({ ok: true, results });
  } catch (error) {
    self.postMessage({ ok: false, error: `${error?.code ?? ""} ${error?.message ?? error} ${error?.stack ?? ""}` });
  }
};
