// The benchmark page. Part 1 runs in bench/worker.js (store vs raw SQLite in one worker). Part 2 measures what an
// app sees through the package from the main thread: encode, postMessage, the worker's commit, the answer; and the
// cold open of a 100k-event store (new worker, wasm compile, OPFS, open, first page); and how long after an append
// a watched query over a projection calls back.
import { openEventStore } from '../dist/browser.js';

function quantiles(samples) {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
  return { p50: at(0.5), p95: at(0.95), p99: at(0.99), mean: samples.reduce((a, b) => a + b, 0) / samples.length };
}

/**
 * Watch latency through the package: a projection folds each append into a table, a watched query over it calls
 * back. Measured from the `appendToStream` call (so the request's trip to the worker is included: an upper bound of
 * commit -> callback) and from the append's answer reaching the page (the commit is before it) to the callback
 * with that append's rows. One append at a time, a fresh OPFS store.
 */
async function watchLatency(request) {
  const store = await openEventStore({ name: `watch-${Date.now().toString(36)}` });
  await store.registerProjection({
    name: 'bench',
    version: 1,
    setup: 'CREATE TABLE bench_rows (n INTEGER PRIMARY KEY, payload TEXT NOT NULL)',
    handlers: [{ type: 'Benched', statements: ["INSERT INTO bench_rows VALUES (:data ->> '$.n', :data ->> '$.payload')"] }],
  });
  let expect;
  const first = new Promise((resolve) => (expect = resolve));
  const watch = await store.watch('SELECT count(*) AS count, max(n) AS last FROM bench_rows', (rows) => expect(rows[0]));
  await first; // the rows at opening
  const fromCall = [];
  const fromAnswer = [];
  let calls = 0;
  for (let i = 0; i < request.watch + 50; i++) {
    const called = new Promise((resolve) => {
      expect = (row) => {
        calls++;
        if (row.count === i + 1) resolve(performance.now());
      };
    });
    const start = performance.now();
    let answered = 0;
    const append = store.appendToStream('bench-1', [{ type: 'Benched', data: { n: i, payload: 'x'.repeat(64) } }]);
    const [callback] = await Promise.all([called, append.then(() => (answered = performance.now()))]);
    if (i >= 50) {
      fromCall.push(callback - start);
      fromAnswer.push(callback - answered);
    }
  }
  await watch.stop();
  await store.close();
  return { count: request.watch, calls: calls - 50, fromCall: quantiles(fromCall), fromAnswer: quantiles(fromAnswer) };
}

async function inWorker(request) {
  const worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
  const reply = await new Promise((resolve) => {
    worker.onmessage = (event) => resolve(event.data);
    worker.onerror = (event) => resolve({ ok: false, error: event.message });
    worker.postMessage(request);
  });
  worker.terminate();
  if (!reply.ok) throw new Error(reply.error);
  return reply.results;
}

async function throughPackage(request, largeName) {
  const store = await openEventStore({ name: `pkg-${Date.now().toString(36)}` });
  const times = [];
  for (let i = 0; i < request.single + 50; i++) {
    const t = performance.now();
    await store.appendToStream('bench-1', [{ type: 'Benched', data: { n: i, payload: 'x'.repeat(64) } }], {
      expectedVersion: i,
    });
    if (i >= 50) times.push(performance.now() - t);
  }
  const batch = Array.from({ length: 100 }, (_, n) => ({ type: 'Benched', data: { n, payload: 'x'.repeat(64) } }));
  let batchMs = 0;
  for (let b = 0; b < request.batches; b++) {
    const t = performance.now();
    await store.appendToStream('bulk-1', batch);
    batchMs += performance.now() - t;
  }
  await store.close();
  const opens = [];
  for (let r = 0; r < request.repeats; r++) {
    const t = performance.now();
    const large = await openEventStore({ name: largeName });
    const page = await large.readAll({ maxCount: request.page });
    opens.push(performance.now() - t);
    if (page.events.length !== request.page) throw new Error(`first page has ${page.events.length} events`);
    await large.close();
  }
  return {
    mode: store.storageMode,
    single: quantiles(times),
    batchPerSecond: ((request.batches * 100) / batchMs) * 1000,
    coldOpen: quantiles(opens),
  };
}

window.runBenchmark = async (request) => {
  const worker = await inWorker(request);
  const pkg = await throughPackage(request, worker.open.name);
  pkg.watch = await watchLatency(request);
  return { worker, pkg, isolated: self.crossOriginIsolated, userAgent: navigator.userAgent };
};
window.benchReady = true;
