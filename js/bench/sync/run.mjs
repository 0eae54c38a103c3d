// The first sync of a new device in the browser, through the package: `node js/bench/sync/run.mjs` (after
// `bash js/scripts/build.sh`, which builds js/dist, and a release build of the server:
// `cargo build --release -p eventlite-server --bin eventlite`).
//
// A real `eventlite serve` (embedded SQLite, a temporary data directory) is seeded with N events through
// `POST /v1/push` in batches of 1,000; it also serves this page and the package (`--static-dir`), so the page and the
// sync server share an origin (no CORS preflights). Headless Debian Chromium in a persistent profile opens an empty
// store with `openEventStore` from the page, calls `store.sync(...)` and waits until `status.confirmedThrough` reaches
// N. The store's worker gets its `fetch` wrapped from here (`worker.evaluate`), which times each push and pull to the
// body's last byte, so the rest of the sync's time is the worker's own (decode, apply, OPFS commit). Each run uses a
// fresh store; the figure is the median of the runs. Then the pull half alone (fetch on the page, nothing applied)
// and the native client (`eventlite sync` into an empty store file).
//
// Knobs: BENCH_SYNC_EVENTS (default 100000), BENCH_SYNC_RUNS (3), BENCH_SYNC_BATCH (the sync's batchSize; default:
// the package's, 500), BENCH_SYNC_STORAGE (`opfs`, default, or `memory`: the same sync without OPFS I/O),
// BENCH_SYNC_DIST (a built package's dist/ directory, default js/dist), EVENTLITE_BIN (default $CARGO_TARGET_DIR or
// target/, then release/eventlite), CHROMIUM.
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';

import { chromium } from 'playwright-core';

import { args, executablePath } from '../../test/browser/chromium.mjs';

const js = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const root = join(js, '..');
const total = Number(process.env.BENCH_SYNC_EVENTS ?? 100_000);
const runs = Number(process.env.BENCH_SYNC_RUNS ?? 3);
const storage = process.env.BENCH_SYNC_STORAGE ?? 'opfs';
const batchSize = process.env.BENCH_SYNC_BATCH ? Number(process.env.BENCH_SYNC_BATCH) : undefined;
const bin = process.env.EVENTLITE_BIN ?? join(process.env.CARGO_TARGET_DIR ?? join(root, 'target'), 'release', 'eventlite');
const TOKEN = 'bench-token';
const PUSH = 1000;

if (!existsSync(bin)) throw new Error(`no eventlite binary at ${bin}: cargo build --release -p eventlite-server --bin eventlite`);
const dist = process.env.BENCH_SYNC_DIST ?? join(js, 'dist');
if (!existsSync(join(dist, 'browser.js'))) throw new Error(`no package at ${dist}: bash js/scripts/build.sh`);

// What the server serves: this page and the package, copied (the server follows no symlink out of its root).
const site = mkdtempSync(join(tmpdir(), 'eventlite-syncbench-site-'));
cpSync(dirname(fileURLToPath(import.meta.url)), join(site, 'bench', 'sync'), { recursive: true });
cpSync(dist, join(site, 'dist'), { recursive: true });

const load = () => loadavg().map((x) => x.toFixed(2)).join(' / ');
const rate = (events, ms) => Math.round((events / ms) * 1000);
const fmt = (x) => x.toLocaleString('en-US');
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** A UUID v7 (time-ordered), as the package makes them. */
function uuidv7() {
  const bytes = randomBytes(16);
  const ms = BigInt(Date.now());
  for (let i = 0; i < 6; i++) bytes[i] = Number((ms >> BigInt(8 * (5 - i))) & 0xffn);
  bytes[6] = 0x70 | (bytes[6] & 0x0f);
  bytes[8] = 0x80 | (bytes[8] & 0x3f);
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** Starts `eventlite serve` on a free port, serving `site` as static files; resolves with `{ url, dataDir, stop }`. */
async function startServer() {
  const dataDir = mkdtempSync(join(tmpdir(), 'eventlite-syncbench-'));
  const child = spawn(bin, ['serve', '--listen', '127.0.0.1:0', '--data-dir', dataDir, '--static-dir', site], {
    env: { ...process.env, EVENTLITE_TOKENS: `${TOKEN}:bench`, RUST_LOG: 'info,tower_http=warn', NO_COLOR: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const url = await new Promise((resolve, reject) => {
    const onData = (chunk) => {
      output += chunk;
      const match = /address=(127\.0\.0\.1:\d+)/.exec(output);
      if (match) resolve(`http://${match[1]}`);
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', (code) => reject(new Error(`the server exited with ${code}:\n${output}`)));
  });
  const exited = new Promise((done) => child.on('exit', done));
  return {
    url,
    dataDir,
    async stop() {
      child.kill('SIGTERM');
      await exited;
      rmSync(dataDir, { recursive: true, force: true, maxRetries: 20, retryDelay: 100 });
    },
  };
}

/** Pushes `total` events in batches of 1,000, the server sync bench's events (~150 bytes, 1,000 streams, `any`). */
async function seed(url) {
  const replica = uuidv7();
  for (let b = 0; b < total / PUSH; b++) {
    const events = [];
    for (let i = 0; i < PUSH; i++) {
      const n = b * PUSH + i;
      events.push({
        event_id: uuidv7(),
        stream: `order-${n % 1000}`,
        type: 'OrderLineAdded',
        expected: 'any',
        data: { sku: `sku-${n}`, quantity: n % 7, price: 1999 },
        metadata: { correlationId: 'bench' },
      });
    }
    const response = await fetch(`${url}/v1/push`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ replica_id: replica, events }),
    });
    if (response.status !== 200) throw new Error(`push: ${response.status} ${await response.text()}`);
    await response.arrayBuffer();
  }
}

/** `eventlite sync` of an empty store file against the server, timed from outside (process start included). */
function nativeSync(url) {
  const dir = mkdtempSync(join(tmpdir(), 'eventlite-syncbench-native-'));
  try {
    const started = performance.now();
    const result = spawnSync(bin, ['sync', '--store', join(dir, 'device.db'), '--server', url, '--token', TOKEN], { encoding: 'utf8' });
    const ms = performance.now() - started;
    if (result.status !== 0) return { error: (result.stderr || result.stdout).trim().split('\n').slice(-3).join(' ') };
    return { ms, output: result.stdout.trim().split('\n').slice(-2).join(' ') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const server = await startServer();
const profile = mkdtempSync(join(tmpdir(), 'eventlite-syncbench-profile-'));
let context;
try {
  console.log(`eventlite first-sync benchmark: ${fmt(total)} events, ${runs} runs, batchSize ${batchSize ?? 'default (500)'}, ${cpus().length} CPUs, load average ${load()} at the start`);
  const seeding = performance.now();
  await seed(server.url);
  const seedMs = performance.now() - seeding;
  console.log(`seeded ${fmt(total)} events through POST /v1/push in ${(seedMs / 1000).toFixed(1)} s (${fmt(rate(total, seedMs))} ev/s)`);

  context = await chromium.launchPersistentContext(profile, { executablePath, args });
  const page = await context.newPage();
  page.on('pageerror', (error) => console.error('page error:', error));
  await page.goto(`${server.url}/bench/sync/index.html`);
  await page.waitForFunction(() => window.benchReady === true);
  console.log(`${await page.evaluate(() => navigator.userAgent.match(/Chrome\/\S+/)?.[0])}, persistent profile, OPFS, page served by the sync server, package from ${dist}`);

  const rates = [];
  for (let run = 1; run <= runs; run++) {
    const name = `first-sync-${run}-${Date.now().toString(36)}`;
    const opened = await page.evaluate((request) => window.openStore(request), { name, storage });
    if (opened.mode !== storage) throw new Error(`asked for ${storage}, got ${opened.mode}`);
    // The store's worker: its pushes' and pulls' fetch calls are timed there (request to last byte of the body), so
    // the rest of the sync's time is the worker's own work (decoding, applying, committing to OPFS) and messages.
    const worker = page.workers().at(-1);
    await worker.evaluate(() => {
      const fetchTimes = (self.benchFetch = { ms: 0, calls: 0, bytes: 0 });
      const original = self.fetch;
      self.fetch = async (input, init) => {
        if (!String(input).includes('/v1/pull') && !String(input).includes('/v1/push')) return original(input, init);
        const started = performance.now();
        const response = await original(input, init);
        const body = await response.arrayBuffer();
        fetchTimes.ms += performance.now() - started;
        fetchTimes.calls++;
        fetchTimes.bytes += body.byteLength;
        return new Response(body, { status: response.status, headers: response.headers });
      };
    });
    const r = await page.evaluate((request) => window.syncToEnd(request), { token: TOKEN, total, batchSize });
    const fetched = await worker.evaluate(() => self.benchFetch);
    await page.evaluate(() => window.closeStore());
    if (r.status.confirmedThrough !== total || r.last?.position !== total) throw new Error(`run ${run} ended short: ${JSON.stringify(r)}`);
    rates.push(rate(total, r.syncMs));
    const split = `; in the worker: ${fetched.calls} fetches ${(fetched.ms / 1000).toFixed(2)} s, the rest ${((r.syncMs - fetched.ms) / 1000).toFixed(2)} s (${fmt(rate(total, r.syncMs - fetched.ms))} ev/s)`;
    console.log(
      `run ${run}: open (${opened.mode}) ${opened.ms.toFixed(0)} ms, sync() -> caught up ${(r.syncMs / 1000).toFixed(2)} s = ${fmt(rate(total, r.syncMs))} ev/s (pull + apply)${split}, ${r.statuses} status notices, load average ${load()}`,
    );
  }
  console.log(`first sync through the package, p50 of ${runs}: ${fmt(median(rates))} ev/s (best ${fmt(Math.max(...rates))})`);

  const limit = batchSize ?? 500;
  const pulls = [];
  for (let i = 0; i < runs; i++) pulls.push(await page.evaluate((request) => window.pullOnly(request), { token: TOKEN, limit }));
  const pull = pulls.sort((a, b) => a.ms - b.ms)[Math.floor(runs / 2)];
  console.log(
    `pull alone from the page (fetch + body, ${pull.pages} pages of ${limit}, ${(pull.bytes / 1e6).toFixed(1)} MB), p50 of ${runs}: ${(pull.ms / 1000).toFixed(2)} s = ${fmt(rate(total, pull.ms))} ev/s; JSON.parse on the page besides: ${(pull.parseMs / 1000).toFixed(2)} s; load average ${load()}`,
  );

  const native = nativeSync(server.url);
  if (native.error) console.log(`native client (eventlite sync): not run: ${native.error}`);
  else console.log(`native client (eventlite sync into an empty store file, process included): ${(native.ms / 1000).toFixed(2)} s = ${fmt(rate(total, native.ms))} ev/s; ${native.output}`);
  console.log(`load average ${load()} at the end`);
} finally {
  await context?.close().catch(() => {});
  await server.stop();
  rmSync(profile, { recursive: true, force: true, maxRetries: 20, retryDelay: 100 });
  rmSync(site, { recursive: true, force: true });
}
