// The browser benchmark: `node js/bench/run.mjs` (after `bash js/scripts/build.sh` and
// `bash js/scripts/build.sh --bench-wasm`; `bash js/bench/run.sh` does all three).
// Headless Debian Chromium, dedicated worker, OPFS. Prints each workload for EventLite and for raw SQLite in the same
// worker, with the ratio, then the same workloads through the package API from the main thread.
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { chromium } from 'playwright-core';

import { args, executablePath } from '../test/browser/chromium.mjs';
import { serve } from '../test/browser/server.mjs';

const js = join(dirname(fileURLToPath(import.meta.url)), '..');
const request = {
  single: Number(process.env.BENCH_SINGLE ?? 2000),
  singleFull: Number(process.env.BENCH_SINGLE_FULL ?? 500),
  batches: Number(process.env.BENCH_BATCHES ?? 300),
  total: Number(process.env.BENCH_TOTAL ?? 100_000),
  page: Number(process.env.BENCH_PAGE ?? 1000),
  repeats: Number(process.env.BENCH_REPEATS ?? 5),
  watch: Number(process.env.BENCH_WATCH ?? 1000),
};

// Cross-origin isolation gives workers a 5 µs performance.now() instead of 100 µs.
const server = await serve(js, '127.0.0.1', {
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-embedder-policy': 'require-corp',
});
// A regular profile on disk, as users have (`BENCH_PROFILE=incognito`: a Playwright newContext(), where every OPFS
// write is an IPC to the browser process, as in a private window).
const incognito = process.env.BENCH_PROFILE === 'incognito';
const profile = mkdtempSync(join(tmpdir(), 'eventlite-bench-'));
const context = incognito
  ? await (await chromium.launch({ executablePath, args })).newContext()
  : await chromium.launchPersistentContext(profile, { executablePath, args });
try {
  const page = await context.newPage();
  await page.goto(`http://127.0.0.1:${server.port}/bench/index.html`);
  await page.waitForFunction(() => window.benchReady === true);
  const { worker, pkg, isolated, userAgent } = await page.evaluate((r) => window.runBenchmark(r), request);

  const ms = (x) => `${x.toFixed(3)} ms`;
  const rate = (x) => `${Math.round(x).toLocaleString('en-US')} ev/s`;
  const row = (what, store, raw, ratio, minimal = '', minimalRatio = '') =>
    console.log(
      `${what.padEnd(44)} ${store.padStart(16)} ${raw.padStart(16)} ${ratio.padStart(8)} ${minimal.padStart(16)} ${minimalRatio.padStart(8)}`,
    );
  console.log(`eventlite browser benchmark — ${userAgent.match(/Chrome\/\S+/)?.[0]}, ${cpus().length} CPUs, load average ${loadavg().map((x) => x.toFixed(2)).join(' ')}, ${incognito ? 'incognito-like context (newContext)' : 'persistent profile'}, OPFS sahpool, WAL + EXCLUSIVE, cross-origin isolated: ${isolated}`);
  console.log(`\nIn one dedicated worker: EventLite (WasmStore, through its commit-writes layer) vs raw SQLite (the sahpool VFS alone, same pragmas) on the store's schema and on a minimal one (one table, UNIQUE (stream, version)); ratio = raw time / EventLite time (1.0 = as fast as raw)`);
  row('workload', 'EventLite', 'raw, store schema', 'ratio', 'raw, minimal', 'ratio');
  const { single, singleFull, batch, open } = worker;
  const p = (w, q) => [ms(w.store[q]), ms(w.raw[q]), (w.raw[q] / w.store[q]).toFixed(2), ms(w.minimal[q]), (w.minimal[q] / w.store[q]).toFixed(2)];
  row(`1-event append p50 (NORMAL, n=${single.count})`, ...p(single, 'p50'));
  row(`1-event append p95 (NORMAL)`, ...p(single, 'p95'));
  row(`1-event append p50 (FULL, n=${singleFull.count})`, ...p(singleFull, 'p50'));
  row(`1-event append p95 (FULL)`, ...p(singleFull, 'p95'));
  row(`100-event append throughput (${batch.events} events)`, rate(batch.storePerSecond), rate(batch.rawPerSecond), (batch.storePerSecond / batch.rawPerSecond).toFixed(2), rate(batch.minimalPerSecond), (batch.storePerSecond / batch.minimalPerSecond).toFixed(2));
  row(`open ${open.total / 1000}k-event store + first page of ${open.page} (p50 of ${request.repeats})`, ms(open.store.p50), ms(open.raw.p50), (open.raw.p50 / open.store.p50).toFixed(2));
  console.log(`\nOPFS access-handle calls per commit, counted in the worker (mean, max in brackets):`);
  const calls = (x, key, max) => `${x[key].toFixed(2)} (${x[max]})`;
  const io = (label, w) => {
    row(`${label}: write()`, calls(w.io.store, 'writes', 'maxWrites'), calls(w.io.raw, 'writes', 'maxWrites'), '', calls(w.io.minimal, 'writes', 'maxWrites'));
    row(`${label}: flush()`, calls(w.io.store, 'flushes', 'maxFlushes'), calls(w.io.raw, 'flushes', 'maxFlushes'), '', calls(w.io.minimal, 'flushes', 'maxFlushes'));
  };
  io('1-event append, NORMAL', single);
  io('1-event append, FULL', singleFull);
  io('100-event append, NORMAL', batch);
  console.log(`\nEventLite on a memory store in the same worker (no OPFS I/O: the store's own cost):`);
  row('1-event append p50 / p95', `${ms(worker.memory.single.p50)} / ${ms(worker.memory.single.p95)}`, '', '');
  row('100-event append throughput', rate(worker.memory.batchPerSecond), '', '');
  console.log(`\nThrough the package API from the main thread (encode, postMessage, worker commit, answer):`);
  row('1-event append p50', ms(pkg.single.p50), '', '');
  row('1-event append p95', ms(pkg.single.p95), '', '');
  row('100-event append throughput', rate(pkg.batchPerSecond), '', '');
  row(`cold open of the ${open.total / 1000}k store + first page (p50 of ${request.repeats})`, ms(pkg.coldOpen.p50), '', '');
  row('  (new worker, wasm compile, OPFS, open, read) p95', ms(pkg.coldOpen.p95), '', '');
  const { watch } = pkg;
  console.log(`\nWatched query over a projection, through the package (${watch.count} appends, one at a time, ${watch.calls} callbacks):`);
  row('append call -> callback p50 / p99', `${ms(watch.fromCall.p50)} / ${ms(watch.fromCall.p99)}`, '', '');
  row('append answered -> callback p50 / p99', `${ms(watch.fromAnswer.p50)} / ${ms(watch.fromAnswer.p99)}`, '', '');
  console.log(`\nstorageMode: ${pkg.mode}`);
} finally {
  await (context.browser() ?? context).close();
  await context.close().catch(() => {});
  await server.close();
  rmSync(profile, { recursive: true, force: true, maxRetries: 20, retryDelay: 100 });
}
