// DESIGN.md §6's workload on Emmett's SQLite event store (@event-driven-io/emmett-sqlite 0.42, over the `sqlite3`
// package), for scripts/bench-workload.sh: one JSON line per driver per round with the same figures as
// core/benches/workload.rs (events per second): `single`, `batch`, `read`.
//
// The workload (as in workload.rs): 100 streams; single-event appends round-robin over them, 50 per stream, each with
// `expectedStreamVersion` the stream's exact version; then 50 batches of 100 events, each one `appendToStream` on one
// of the streams with its exact version; then every stream read back with `readStream` (each stream holds at most
// 150 events, one page), READ_PASSES times. A fresh file per round; Emmett sets `journal_mode = WAL` itself.
//
// Two drivers, both through `getSQLiteEventStore`, the documented entry point:
// - `pool`: `getSQLiteEventStore({ fileName })`, as the docs show it. For a file its pool opens a new connection for
//   every call (and closes it after), so each call also pays the open and `PRAGMA journal_mode`; `synchronous`
//   stays at SQLite's default, FULL, since no connection outlives a call to set it on.
// - `connection`: `getSQLiteEventStore({ fileName, connectionOptions: { singleton: true, connection } })` with one
//   `sqliteConnection({ fileName })` made by this script, on which it sets `synchronous = NORMAL` like every other
//   implementation in the comparison.
//
// Usage: node emmett_workload.mjs [the npm directory holding node_modules; default ../../../target/bench-peers/node]
// Environment: EVENTLITE_BENCH_SCALE (single appends per stream = 50 x scale), EVENTLITE_BENCH_ROUNDS (default 3),
// EMMETT_DRIVERS (default pool,connection).

import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const nodeDir = resolve(process.argv[2] ?? join(here, '../../../target/bench-peers/node'));
const packageDir = join(nodeDir, 'node_modules/@event-driven-io/emmett-sqlite');
const { getSQLiteEventStore, sqliteConnection } = await import(pathToFileURL(join(packageDir, 'dist/index.js')).href);
const emmettVersion = JSON.parse(readFileSync(join(packageDir, 'package.json'), 'utf8')).version;

const STREAMS = 100;
const BATCHES = 50;
const BATCH_SIZE = 100;
const READ_PASSES = 10;
const SCALE = Number(process.env.EVENTLITE_BENCH_SCALE ?? '1');
const ROUNDS = Math.max(1, Math.floor(Number(process.env.EVENTLITE_BENCH_ROUNDS ?? '3')));
const SINGLES_PER_STREAM = Math.max(1, Math.floor(50 * SCALE));
const TOTAL = STREAMS * SINGLES_PER_STREAM + BATCHES * BATCH_SIZE;

// The fields of workload.rs's ~80-byte JSON payload.
const data = (n) => ({ orderId: `order-${n}`, amount: n % 977, currency: 'EUR', note: 'benchmark event' });
const placed = (n) => ({ type: 'Placed', data: data(n) });
const streamName = (s) => `order-${s}`;

function singleAppends() {
  const appends = [];
  for (let i = 0; i < SINGLES_PER_STREAM; i++) for (let s = 0; s < STREAMS; s++) appends.push([s, i]);
  return appends;
}

function batchAppends() {
  const appends = [];
  for (let b = 0; b < BATCHES; b++) appends.push([b % STREAMS, SINGLES_PER_STREAM + Math.floor(b / STREAMS) * BATCH_SIZE]);
  return appends;
}

const SYNCHRONOUS = ['OFF', 'NORMAL', 'FULL', 'EXTRA'];

async function pragmas(connection) {
  const journal = await connection.querySingle('PRAGMA journal_mode');
  const synchronous = await connection.querySingle('PRAGMA synchronous');
  return { journal_mode: journal.journal_mode, synchronous: SYNCHRONOUS[synchronous.synchronous] };
}

// Where a round got to, for the report of a failure.
let progress = 'open';

async function round(driver, fileName) {
  progress = 'open';
  let connection;
  let eventStore;
  if (driver === 'connection') {
    connection = sqliteConnection({ fileName });
    await connection.command('PRAGMA synchronous = NORMAL');
    eventStore = getSQLiteEventStore({ fileName, connectionOptions: { singleton: true, connection } });
  } else {
    eventStore = getSQLiteEventStore({ fileName });
  }
  let n = 0;
  const singles = singleAppends().map(([s, version]) => [streamName(s), BigInt(version), [placed(n++)]]);
  const batches = batchAppends().map(([s, version]) => {
    const events = [];
    for (let k = 0; k < BATCH_SIZE; k++) events.push(placed(n++));
    return [streamName(s), BigInt(version), events];
  });

  let start = performance.now();
  for (const [index, [stream, expectedStreamVersion, events]] of singles.entries()) {
    progress = `single append ${index + 1} of ${singles.length}`;
    await eventStore.appendToStream(stream, events, { expectedStreamVersion });
  }
  const single = performance.now() - start;
  start = performance.now();
  for (const [index, [stream, expectedStreamVersion, events]] of batches.entries()) {
    progress = `batch ${index + 1} of ${batches.length}`;
    await eventStore.appendToStream(stream, events, { expectedStreamVersion });
  }
  const batch = performance.now() - start;
  progress = 'reads';
  start = performance.now();
  let seen = 0;
  for (let pass = 0; pass < READ_PASSES; pass++) {
    for (let s = 0; s < STREAMS; s++) {
      const { events } = await eventStore.readStream(streamName(s));
      seen += events.length;
    }
  }
  const read = performance.now() - start;
  if (seen !== TOTAL * READ_PASSES) throw new Error(`read ${seen} events, expected ${TOTAL * READ_PASSES}`);

  const probe = connection ?? sqliteConnection({ fileName });
  const settings = await pragmas(probe);
  probe.close();
  return { single, batch, read, ...settings };
}

const DRIVERS = {
  pool: `Emmett SQLite ${emmettVersion}, getSQLiteEventStore({ fileName })`,
  connection: `Emmett SQLite ${emmettVersion}, one ambient connection`,
};

// EMMETT_DRIVERS=connection (a comma-separated list) runs only some of them.
const drivers = Object.entries(DRIVERS).filter(
  ([driver]) => !process.env.EMMETT_DRIVERS || process.env.EMMETT_DRIVERS.split(',').includes(driver),
);

for (let r = 1; r <= ROUNDS; r++) {
  for (const [driver, label] of drivers) {
    const directory = mkdtempSync(join(tmpdir(), 'emmett-workload-'));
    let figures;
    try {
      figures = await round(driver, join(directory, 'workload.db'));
    } catch (error) {
      // Reported, not fatal: the other driver (and the other peers) still run.
      const message = `${error.message} (at ${progress})`;
      console.log(JSON.stringify({ impl: `emmett-${driver}`, label, round: r, error: message, version: emmettVersion }));
      rmSync(directory, { recursive: true, force: true });
      continue;
    }
    try {
      const perSecond = (events, ms) => Math.round(events / (ms / 1000));
      console.log(
        JSON.stringify({
          impl: `emmett-${driver}`,
          label,
          round: r,
          single: perSecond(STREAMS * SINGLES_PER_STREAM, figures.single),
          batch: perSecond(BATCHES * BATCH_SIZE, figures.batch),
          read: perSecond(TOTAL * READ_PASSES, figures.read),
          singles: STREAMS * SINGLES_PER_STREAM,
          batched: BATCHES * BATCH_SIZE,
          read_events: TOTAL * READ_PASSES,
          version: emmettVersion,
          journal_mode: figures.journal_mode,
          synchronous: figures.synchronous,
          node: process.version,
        }),
      );
    } finally {
      rmSync(directory, { recursive: true, force: true });
    }
  }
}
