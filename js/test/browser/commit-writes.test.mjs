// The store's commit-writes layer (wasm/src/opfs/commit_writes.rs) in Chromium, through the built package (js/dist,
// served as is): a 1-event commit reaches OPFS as one access-handle write, counted in the package's own worker; and
// every append acknowledged to the page is there after the browser is SIGKILLed in the middle of a stream of appends.
// Counts, never times.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';

import { launch, launchOwned, openApp } from './chromium.mjs';
import { serve } from './server.mjs';

const js = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
let server;
let url;
let browser;

before(async () => {
  server = await serve(js, '127.0.0.1');
  url = `http://127.0.0.1:${server.port}/test/browser/commit-writes.html`;
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await server?.close();
});

let counter = 0;
const unique = (prefix) => `${prefix}-${process.pid}-${++counter}`;

/** Opens store `name` on a new page; resolves with the page and the package's worker, its OPFS calls counted. */
async function openCounted(name, options) {
  const page = await browser.newPage();
  await openApp(page, url);
  const spawned = page.waitForEvent('worker', (worker) => worker.url().endsWith('/worker.js'));
  const mode = await page.evaluate(async ([name, options]) => {
    window.store = await window.eventlite.openEventStore({ name, ...options });
    return window.store.storageMode;
  }, [name, options]);
  assert.equal(mode, 'opfs');
  const worker = await spawned;
  // Counted at the access handle, where the sahpool VFS below the layer writes.
  await worker.evaluate(() => {
    self.opfsCalls = { writes: 0, flushes: 0 };
    const handle = FileSystemSyncAccessHandle.prototype;
    const { write, flush } = handle;
    handle.write = function (...args) {
      self.opfsCalls.writes++;
      return write.apply(this, args);
    };
    handle.flush = function (...args) {
      self.opfsCalls.flushes++;
      return flush.apply(this, args);
    };
  });
  return { page, worker };
}

/** The OPFS writes and flushes of each of `count` 1-event appends (after 5 uncounted ones). */
async function callsPerAppend(page, worker, count) {
  const calls = [];
  for (let i = 0; i < count + 5; i++) {
    const before = await worker.evaluate(() => ({ ...self.opfsCalls }));
    await page.evaluate((i) => window.store.appendToStream('counted-1', [{ type: 'Counted', data: { i } }]), i);
    const after = await worker.evaluate(() => ({ ...self.opfsCalls }));
    if (i >= 5) calls.push({ writes: after.writes - before.writes, flushes: after.flushes - before.flushes });
  }
  return calls;
}

describe('commit writes (OPFS)', () => {
  test('a 1-event append is one OPFS write under synchronous NORMAL, and no flush', async () => {
    const { page, worker } = await openCounted(unique('one-write'), {});
    const calls = await callsPerAppend(page, worker, 20);
    // Raw sqlite-wasm on the same VFS makes two writes per WAL frame: at least 4 for a 1-row insert.
    assert.deepEqual(calls, Array.from({ length: 20 }, () => ({ writes: 1, flushes: 0 })));
    await page.close();
  });

  test('under synchronous FULL a 1-event append is at most three OPFS writes and one flush', async () => {
    const { page, worker } = await openCounted(unique('full'), { synchronous: 'full' });
    const calls = await callsPerAppend(page, worker, 20);
    // The commit, then (when SQLite pads it to a sector boundary) the padding before and after the sync point.
    for (const { writes, flushes } of calls) {
      assert.ok(writes >= 1 && writes <= 3, JSON.stringify(calls));
      assert.equal(flushes, 1, JSON.stringify(calls));
    }
    await page.close();
  });

  test('every append acknowledged before a SIGKILL in the middle of appending is there after relaunch', async () => {
    const profile = mkdtempSync(join(tmpdir(), 'eventlite-commit-writes-'));
    try {
      const name = unique('kill-mid');
      const first = await launchOwned(profile);
      let acknowledged = 0;
      let reached;
      const enough = new Promise((resolve) => (reached = resolve));
      await first.page.exposeFunction('acknowledge', (version) => {
        acknowledged = Math.max(acknowledged, version);
        if (acknowledged >= 150) reached();
      });
      await openApp(first.page, url);
      // Appends (single events and batches of 25) until the browser dies; each answer is reported to this process.
      first.page
        .evaluate(async (name) => {
          const store = await window.eventlite.openEventStore({ name });
          for (let i = 0; ; i++) {
            const events = Array.from({ length: i % 10 === 9 ? 25 : 1 }, (_, k) => ({ type: 'Acked', data: { i, k } }));
            const { streamVersion } = await store.appendToStream('acked-1', events);
            window.acknowledge(streamVersion);
          }
        }, name)
        .catch(() => {});
      await enough;
      await first.kill();
      assert.ok(acknowledged >= 150);

      const second = await launchOwned(profile);
      await openApp(second.page, url);
      const found = await second.page.evaluate(async (name) => {
        const store = await window.eventlite.openEventStore({ name });
        const versions = [];
        for (let from = 1; ; ) {
          const { events } = await store.readStream('acked-1', { fromVersion: from, maxCount: 1000 });
          if (events.length === 0) break;
          versions.push(...events.map((e) => e.version));
          from = events[events.length - 1].version + 1;
        }
        return { mode: store.storageMode, versions };
      }, name);
      await second.close();
      assert.equal(found.mode, 'opfs');
      assert.ok(found.versions.length >= acknowledged, `${found.versions.length} found, ${acknowledged} acknowledged`);
      assert.deepEqual(found.versions, Array.from({ length: found.versions.length }, (_, i) => i + 1));
      // No partial batch: the stream ends where one of the appends ended.
      const ends = [];
      for (let i = 0, version = 0; version < found.versions.length; i++) ends.push((version += i % 10 === 9 ? 25 : 1));
      assert.equal(ends.at(-1), found.versions.length);
    } finally {
      rmSync(profile, { recursive: true, force: true, maxRetries: 20, retryDelay: 100 });
    }
  });
});
