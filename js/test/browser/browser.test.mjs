// The package in Chromium, as a web app uses it: installed from the packed tarball, built (and served by the dev
// server) by Vite with no configuration, the store in a dedicated worker over OPFS. Proves: Vite packaging,
// persistence across reload and browser relaunch (even SIGKILL), the worker boundary (errors, subscriptions),
// storage modes, and the single-owner lock.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import { buildApp } from './app.mjs';
import { launch, launchOwned, openApp } from './chromium.mjs';
import { serve } from './server.mjs';

let server;
let base;
let browser;
let distDir;

before(async () => {
  distDir = await buildApp();
  server = await serve(distDir);
  base = `http://127.0.0.1:${server.port}/`;
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await server?.close();
});

let counter = 0;
const unique = (prefix) => `${prefix}-${process.pid}-${++counter}`;

async function newApp() {
  const context = await browser.newContext();
  const page = await context.newPage();
  const errors = await openApp(page, base);
  return { page, errors, context };
}

describe('Vite packaging', () => {
  test('the app builds with no config: worker and wasm become hashed assets', () => {
    const assets = readdirSync(join(distDir, 'assets'));
    assert.ok(assets.some((name) => /^eventlite_wasm_bg-.*\.wasm$/.test(name)), assets.join(' '));
    assert.ok(assets.some((name) => /^worker-.*\.js$/.test(name)), assets.join(' '));
    assert.ok(existsSync(join(distDir, 'index.html')));
  });
});

describe('Vite dev server', () => {
  test('the dev server (dependency pre-bundling included) serves a page that stores events in OPFS', async () => {
    const { createServer } = await import('vite');
    const { appDir } = await import('./app.mjs');
    const dev = await createServer({
      root: appDir,
      configFile: false,
      logLevel: 'warn',
      server: { host: '127.0.0.1', port: 0 },
    });
    await dev.listen();
    try {
      const context = await browser.newContext();
      const page = await context.newPage();
      const errors = await openApp(page, dev.resolvedUrls.local[0]);
      // The dev server may reload the page once after pre-bundling the package on first request.
      await page.waitForLoadState('networkidle');
      await page.waitForFunction(() => window.eventlite !== undefined);
      const result = await page.evaluate(async (name) => {
        const store = await window.eventlite.openEventStore({ name });
        await store.appendToStream('a-1', [{ type: 'A', data: { dev: true } }]);
        const { events } = await store.readStream('a-1');
        await store.close();
        return [store.storageMode, events.map((e) => e.data)];
      }, unique('dev'));
      assert.deepEqual(result, ['opfs', [{ dev: true }]]);
      assert.deepEqual(errors, []);
      await context.close();
    } finally {
      await dev.close();
    }
  });
});

describe('OPFS persistence', () => {
  test('a page appends, reloads, and reads every acknowledged event back', async () => {
    const { page, errors, context } = await newApp();
    const name = unique('reload');
    const appended = await page.evaluate(async (name) => {
      const { openEventStore, NO_STREAM } = window.eventlite;
      const store = await openEventStore({ name });
      const first = await store.appendToStream('order-1', [{ type: 'Placed', data: { total: 42 } }], {
        expectedVersion: NO_STREAM,
      });
      for (let i = 0; i < 49; i++) {
        await store.appendToStream('counter-1', [{ type: 'Incremented', data: { i } }]);
      }
      await store.appendToStream('bulk-1', Array.from({ length: 500 }, (_, i) => ({ type: 'Loaded', data: { i } })));
      // No close: the page is reloaded with the store open, as a user closing the tab would.
      return { mode: store.storageMode, first };
    }, name);
    assert.equal(appended.mode, 'opfs');
    assert.equal(appended.first.streamVersion, 1);

    await page.reload();
    await page.waitForFunction(() => window.eventlite !== undefined);
    const read = await page.evaluate(async (name) => {
      const store = await window.eventlite.openEventStore({ name });
      const order = await store.readStream('order-1');
      return {
        mode: store.storageMode,
        order: order.events.map((e) => [e.type, e.data.total, e.version]),
        counter: await store.streamVersion('counter-1'),
        bulk: await store.streamVersion('bulk-1'),
        head: await store.headPosition(),
      };
    }, name);
    assert.deepEqual(read, { mode: 'opfs', order: [['Placed', 42, 1]], counter: 49, bulk: 500, head: 550 });
    assert.deepEqual(errors, []);
    await context.close();
  });

  test('a relaunched browser finds every event acknowledged before a SIGKILL', async () => {
    const profile = mkdtempSync(join(tmpdir(), 'eventlite-profile-'));
    try {
      const name = unique('kill');
      const first = await launchOwned(profile);
      await openApp(first.page, base);
      const acknowledged = await first.page.evaluate(async (name) => {
        const store = await window.eventlite.openEventStore({ name });
        let version = 0;
        for (let i = 0; i < 100; i++) {
          version = (await store.appendToStream('acked-1', [{ type: 'Acked', data: { i } }])).streamVersion;
        }
        return version;
      }, name);
      assert.equal(acknowledged, 100);
      await first.kill();

      const second = await launchOwned(profile);
      await openApp(second.page, base);
      const found = await second.page.evaluate(async (name) => {
        const store = await window.eventlite.openEventStore({ name });
        const { events } = await store.readStream('acked-1');
        return { mode: store.storageMode, data: events.map((e) => e.data.i) };
      }, name);
      await second.close();
      assert.equal(found.mode, 'opfs');
      assert.deepEqual(found.data, Array.from({ length: 100 }, (_, i) => i));
    } finally {
      // Chromium's helper processes may still be writing the profile for a moment after the browser exits.
      rmSync(profile, { recursive: true, force: true, maxRetries: 20, retryDelay: 100 });
    }
  });

  test('persistence: persisted() reports navigator.storage.persisted(); storage: persistent needs it granted', async () => {
    const { page, context } = await newApp();
    const result = await page.evaluate(async (name) => {
      const { openEventStore } = window.eventlite;
      const store = await openEventStore({ name });
      const before = [store.storageMode, await store.persisted(), await navigator.storage.persisted()];
      const granted = await store.requestPersistence();
      let persistent;
      try {
        const strict = await openEventStore({ name: `${name}-p`, storage: 'persistent' });
        persistent = [strict.storageMode, await strict.persisted()];
      } catch (error) {
        persistent = [error.code];
      }
      return { before, granted, after: [await store.persisted(), await navigator.storage.persisted()], persistent };
    }, unique('persist'));
    assert.deepEqual(result.before.slice(0, 1), ['opfs']);
    assert.equal(result.before[1], result.before[2], 'persisted() is the browser\'s answer');
    assert.deepEqual(result.after, [result.granted, result.granted]);
    assert.deepEqual(result.persistent, result.granted ? ['opfs', true] : ['STORAGE_UNAVAILABLE']);
    await context.close();
  });

  test("storage: 'memory' keeps nothing across a reload and says so", async () => {
    const { page, context } = await newApp();
    const name = unique('memory');
    const mode = await page.evaluate(async (name) => {
      const store = await window.eventlite.openEventStore({ name, storage: 'memory' });
      await store.appendToStream('a-1', [{ type: 'A', data: 1 }]);
      return store.storageMode;
    }, name);
    assert.equal(mode, 'memory');
    await page.reload();
    await page.waitForFunction(() => window.eventlite !== undefined);
    const version = await page.evaluate(async (name) => {
      const store = await window.eventlite.openEventStore({ name, storage: 'memory' });
      return store.streamVersion('a-1');
    }, name);
    assert.equal(version, 0);
    await context.close();
  });

  test('without OPFS (an insecure origin) the store says memory, and refuses to pretend when OPFS is required', async () => {
    const address = Object.values(networkInterfaces())
      .flat()
      .find((entry) => entry && entry.family === 'IPv4' && !entry.internal)?.address;
    assert.ok(address, 'this test needs a non-loopback IPv4 address to reach the page from an insecure origin');
    const context = await browser.newContext();
    const page = await context.newPage();
    const warnings = [];
    page.on('console', (message) => message.type() === 'warning' && warnings.push(message.text()));
    await openApp(page, `http://${address}:${server.port}/`);
    const result = await page.evaluate(async () => {
      const store = await window.eventlite.openEventStore({ name: 'insecure' });
      await store.appendToStream('a-1', [{ type: 'A', data: 1 }]);
      await window.eventlite.openEventStore({ name: 'insecure-3' }); // warned once per page, not per store
      const refusals = [];
      for (const storage of ['opfs', 'persistent']) {
        try {
          await window.eventlite.openEventStore({ name: 'insecure-2', storage });
        } catch (error) {
          refusals.push([error.name, error.code]);
        }
      }
      return {
        secure: window.isSecureContext,
        mode: store.storageMode,
        persisted: await store.persisted(),
        version: await store.streamVersion('a-1'),
        refusals,
      };
    });
    assert.deepEqual(result, {
      secure: false,
      mode: 'memory',
      persisted: false,
      version: 1,
      refusals: [
        ['StorageUnavailableError', 'STORAGE_UNAVAILABLE'],
        ['StorageUnavailableError', 'STORAGE_UNAVAILABLE'],
      ],
    });
    assert.equal(warnings.length, 1, warnings.join('\n'));
    assert.match(warnings[0], /"insecure" is in memory: its events are lost .* because this page is not a secure context/);
    await context.close();
  });

});

describe('several tabs', () => {
  async function twoTabs() {
    const context = await browser.newContext();
    const [a, b] = [await context.newPage(), await context.newPage()];
    await openApp(a, base);
    await openApp(b, base);
    return { context, a, b };
  }

  test('the second tab forwards to the first: appends, reads, subscriptions and errors cross tabs', async () => {
    const { context, a, b } = await twoTabs();
    const name = unique('tabs');
    const open = (page) =>
      page.evaluate(async (name) => {
        window.store = await window.eventlite.openEventStore({ name });
        window.seen = [];
        await window.store.subscribeToAll((event) => window.seen.push(event.data.from));
        return window.store.storageMode;
      }, name);
    assert.deepEqual([await open(a), await open(b)], ['opfs', 'opfs']);
    await b.evaluate(() => window.store.appendToStream('chat-1', [{ type: 'Said', data: { from: 'b' } }]));
    await a.evaluate(() => window.store.appendToStream('chat-1', [{ type: 'Said', data: { from: 'a' } }]));
    const waitSeen = (page) =>
      page.evaluate(async () => {
        for (let i = 0; i < 400 && window.seen.length < 2; i++) await new Promise((r) => setTimeout(r, 5));
        return window.seen;
      });
    assert.deepEqual(await waitSeen(a), ['b', 'a']);
    assert.deepEqual(await waitSeen(b), ['b', 'a']);
    const conflict = await b.evaluate(async () => {
      try {
        await window.store.appendToStream('chat-1', [{ type: 'Said', data: {} }], { expectedVersion: 0 });
      } catch (error) {
        return [error instanceof window.eventlite.WrongExpectedVersionError, error.expected, error.actual];
      }
    });
    assert.deepEqual(conflict, [true, 0, 2]);
    assert.equal(await a.evaluate(() => window.store.streamVersion('chat-1')), 2);
    await context.close();
  });

  test('watched queries across tabs: once per relevant commit in either tab, and reopened after a takeover', async () => {
    const { context, a, b } = await twoTabs();
    const name = unique('watch-tabs');
    const setup = (page) =>
      page.evaluate(async (name) => {
        window.store = await window.eventlite.openEventStore({ name });
        await window.store.registerProjection({
          name: 'said',
          version: 1,
          setup: 'CREATE TABLE said (who TEXT NOT NULL)',
          handlers: [{ type: 'Said', statements: ["INSERT INTO said VALUES (:data ->> '$.from')"] }],
        });
        window.calls = [];
        window.watch = await window.store.watch('SELECT who FROM said ORDER BY rowid', (rows) =>
          window.calls.push(rows.map((row) => row.who).join(',')),
        );
      }, name);
    await setup(a);
    await setup(b);
    const calls = (page, count) =>
      page.evaluate(async (count) => {
        for (let i = 0; i < 400 && window.calls.length < count; i++) await new Promise((r) => setTimeout(r, 5));
        await new Promise((r) => setTimeout(r, 100)); // and nothing more after it
        return window.calls;
      }, count);
    assert.deepEqual(await calls(b, 1), ['']);
    await a.evaluate(() => window.store.appendToStream('chat-1', [{ type: 'Said', data: { from: 'a' } }]));
    await b.evaluate(() => window.store.appendToStream('other-1', [{ type: 'Ignored', data: null }]));
    await b.evaluate(() => window.store.appendToStream('chat-1', [{ type: 'Said', data: { from: 'b' } }]));
    assert.deepEqual(await calls(a, 3), ['', 'a', 'a,b']);
    assert.deepEqual(await calls(b, 3), ['', 'a', 'a,b']);
    await a.close(); // b's worker takes the store over and opens b's watch again: it answers with the current rows
    await b.evaluate(() => window.store.appendToStream('chat-1', [{ type: 'Said', data: { from: 'b2' } }]));
    const afterTakeover = await calls(b, 5);
    assert.equal(afterTakeover.at(-1), 'a,b,b2');
    assert.deepEqual(afterTakeover.slice(0, 3), ['', 'a', 'a,b']);
    await b.evaluate(() => window.watch.stop());
    await b.evaluate(() => window.store.appendToStream('chat-1', [{ type: 'Said', data: { from: 'b3' } }]));
    assert.deepEqual(await calls(b, afterTakeover.length + 1), afterTakeover);
    await context.close();
  });

  test('when the owning tab closes, the other takes the store over: no acknowledged event is lost', async () => {
    const { context, a, b } = await twoTabs();
    const name = unique('takeover');
    await a.evaluate(async (name) => {
      window.store = await window.eventlite.openEventStore({ name });
      await window.store.appendToStream('log-1', [{ type: 'Logged', data: { n: 0 } }]);
    }, name);
    await b.evaluate(async (name) => {
      window.store = await window.eventlite.openEventStore({ name });
      window.seen = [];
      await window.store.subscribeToStream('log-1', (event) => window.seen.push(event.data.n));
      for (let n = 1; n <= 5; n++) await window.store.appendToStream('log-1', [{ type: 'Logged', data: { n } }]);
    }, name);
    await a.close(); // the owner's tab goes away with the store open
    const after = await b.evaluate(async () => {
      // Appends made while the store changes hands are re-sent to the new owner and resolve once committed there.
      for (let n = 6; n <= 10; n++) await window.store.appendToStream('log-1', [{ type: 'Logged', data: { n } }]);
      for (let i = 0; i < 400 && window.seen.length < 11; i++) await new Promise((r) => setTimeout(r, 5));
      const { events } = await window.store.readStream('log-1');
      return { stored: events.map((e) => e.data.n), seen: window.seen };
    });
    const all = Array.from({ length: 11 }, (_, n) => n);
    assert.deepEqual(after.stored, all);
    assert.deepEqual([...new Set(after.seen)], all, 'every event delivered, in order (at least once)');
    await context.close();
  });

  test('a takeover while a handler is busy: the old page stops, never two pages at once, position only moves on', async () => {
    const { context, a, b } = await twoTabs();
    const name = unique('busy');
    await a.evaluate(async (name) => {
      window.store = await window.eventlite.openEventStore({ name });
    }, name);
    await b.evaluate(async (name) => {
      window.store = await window.eventlite.openEventStore({ name });
      Object.assign(window, { seen: [], positions: [], running: 0, overlap: false });
      window.gate = new Promise((resolve) => (window.open = resolve));
      window.entered = new Promise((resolve) => (window.enter = resolve));
      window.sub = await window.store.subscribeToAll(async (event) => {
        if (window.running++) window.overlap = true;
        window.seen.push(event.data.n);
        window.positions.push(window.sub.position);
        if (event.data.n === 2) {
          window.enter();
          await window.gate; // busy in event 2 while the store changes hands
        }
        window.running--;
      });
      for (let n = 1; n <= 4; n++) await window.store.appendToStream('log-1', [{ type: 'Logged', data: { n } }]);
      await window.entered;
    }, name);
    await a.close();
    const after = await b.evaluate(async () => {
      await window.store.appendToStream('log-1', [{ type: 'Logged', data: { n: 5 } }]); // served by this tab now
      // Give a wrongly re-opened subscription every chance to start its page beside the busy one.
      for (let i = 0; i < 20; i++) await window.store.streamVersion('log-1');
      window.open();
      for (let i = 0; i < 400 && !window.seen.includes(5); i++) await new Promise((r) => setTimeout(r, 5));
      const positions = window.positions;
      return {
        seen: [...new Set(window.seen)],
        overlap: window.overlap,
        ordered: positions.every((p, i) => i === 0 || p >= positions[i - 1]),
        position: window.sub.position,
        last: (await window.store.readAll()).events.at(-1).position,
      };
    });
    assert.deepEqual(after.seen, [1, 2, 3, 4, 5]);
    assert.equal(after.overlap, false, 'two pages ran at once');
    assert.equal(after.ordered, true, 'the position moved backwards');
    assert.equal(after.position, after.last);
    await context.close();
  });

  test('followers get a fair share: three tabs appending in tight loops each commit a similar number', async () => {
    const context = await browser.newContext();
    const name = unique('fair');
    const tabs = [];
    for (let i = 0; i < 3; i++) {
      const page = await context.newPage();
      await openApp(page, base);
      await page.evaluate(async (name) => {
        window.store = await window.eventlite.openEventStore({ name });
      }, name);
      tabs.push(page);
    }
    const start = Date.now() + 500;
    const counts = await Promise.all(
      tabs.map((page, i) =>
        page.evaluate(
          async ([start, i]) => {
            while (Date.now() < start) await new Promise((r) => setTimeout(r, 1));
            let done = 0;
            let races = 0;
            while (Date.now() < start + 3000) {
              done++;
              // A read-then-append race on a shared stream: won by whoever's append lands first.
              const { version } = await window.store.readStream('shared-1', { before: 1 });
              try {
                await window.store.appendToStream('shared-1', [{ type: 'T', data: i }], { expectedVersion: version });
                races++;
              } catch {}
            }
            return [done, races];
          },
          [start, i],
        ),
      ),
    );
    console.log('attempts and races won per tab (owner first):', JSON.stringify(counts));
    // Fairness is about being served: every tab's calls complete at a similar rate (the defect: a follower got 0
    // of ~4,000), and every tab wins races. Who wins each race is timing on a loaded machine, so it is not compared.
    const attempts = counts.map(([done]) => done);
    const won = counts.map(([, races]) => races);
    assert.ok(Math.min(...attempts) >= Math.max(...attempts) / 4, `calls served per tab: ${attempts}`);
    assert.ok(won.every((races) => races > 0), `races won per tab: ${won}`);
    await context.close();
  });

  test('closing the owning store hands it to another tab, whose reads and writes carry on', async () => {
    const { context, a, b } = await twoTabs();
    const name = unique('handover');
    await a.evaluate(async (name) => {
      window.store = await window.eventlite.openEventStore({ name });
      await window.store.appendToStream('doc-1', [{ type: 'Edited', data: { by: 'a' } }]);
    }, name);
    const result = await b.evaluate(async (name) => {
      window.store = await window.eventlite.openEventStore({ name });
      return window.store.streamVersion('doc-1');
    }, name);
    assert.equal(result, 1);
    await a.evaluate(() => window.store.close()); // the tab stays open; its store does not
    const after = await b.evaluate(async () => {
      await window.store.appendToStream('doc-1', [{ type: 'Edited', data: { by: 'b' } }], { expectedVersion: 1 });
      const { events } = await window.store.readStream('doc-1');
      return { mode: window.store.storageMode, by: events.map((e) => e.data.by) };
    });
    assert.deepEqual(after, { mode: 'opfs', by: ['a', 'b'] });
    const reopened = await a.evaluate(async (name) => {
      const store = await window.eventlite.openEventStore({ name }); // now a follower of tab b
      return store.streamVersion('doc-1');
    }, name);
    assert.equal(reopened, 2);
    await context.close();
  });
});

describe('across the worker boundary', () => {
  test('errors keep their classes and details; bad input changes nothing', async () => {
    const { page, context } = await newApp();
    const result = await page.evaluate(async (name) => {
      const { openEventStore, NO_STREAM, WrongExpectedVersionError, InvalidArgumentError } = window.eventlite;
      const store = await openEventStore({ name });
      await store.appendToStream('a-1', [{ type: 'A', data: 1 }]);
      const outcomes = [];
      const attempt = async (label, call) => {
        try {
          await call();
          outcomes.push([label, 'ok']);
        } catch (error) {
          outcomes.push([label, error.code, error.argument ?? null, error instanceof InvalidArgumentError]);
          if (error instanceof WrongExpectedVersionError) outcomes.push(['details', error.expected, error.actual]);
        }
      };
      await attempt('conflict', () => store.appendToStream('a-1', [{ type: 'B', data: 1 }], { expectedVersion: NO_STREAM }));
      await attempt('function data', () => store.appendToStream('a-1', [{ type: 'B', data: () => 1 }]));
      await attempt('huge version', () => store.appendToStream('a-1', [], { expectedVersion: 2 ** 60 }));
      await attempt('bad stream', () => store.appendToStream('$all', [{ type: 'B', data: 1 }]));
      await attempt('function in a filter', () => store.readAll({ filter: { categories: [() => 1] } }));
      await attempt('bad type', () => store.appendToStream('a-1', [{ type: '', data: 1 }]));
      return { outcomes, version: await store.streamVersion('a-1'), head: await store.headPosition() };
    }, unique('errors'));
    assert.deepEqual(result.outcomes, [
      ['conflict', 'WRONG_EXPECTED_VERSION', null, false],
      ['details', 'no_stream', 1],
      ['function data', 'INVALID_ARGUMENT', 'events[0].data', true],
      ['huge version', 'INVALID_ARGUMENT', 'expectedVersion', true],
      ['bad stream', 'INVALID_ARGUMENT', 'stream', true],
      // Checked on the page, naming the element, before anything crosses to the worker.
      ['function in a filter', 'INVALID_ARGUMENT', 'options.filter.categories[0]', true],
      ['bad type', 'INVALID_ARGUMENT', 'events[0].type', true],
    ]);
    assert.deepEqual([result.version, result.head], [1, 1]);
    await context.close();
  });

  test('subscriptions: history then live, a throwing handler, unsubscribe, named resume after reload', async () => {
    const { page, context } = await newApp();
    const name = unique('subs');
    const first = await page.evaluate(async (name) => {
      const store = await window.eventlite.openEventStore({ name });
      await store.appendToStream('order-1', [{ type: 'Placed', data: 1 }, { type: 'Paid', data: 2 }]);
      const seen = [];
      const failures = [];
      const wait = async (n) => {
        for (let i = 0; i < 500 && seen.length < n; i++) await new Promise((resolve) => setTimeout(resolve, 5));
      };
      const subscription = await store.subscribeToAll(
        { name: 'projector', filter: { categories: ['order'] }, onError: (error, event) => failures.push(event.position) },
        (event) => {
          seen.push(event.position);
          if (event.type === 'Paid') throw new Error('handler bug');
        },
      );
      await wait(2);
      await store.appendToStream('user-1', [{ type: 'Joined', data: 0 }]);
      await store.appendToStream('order-2', [{ type: 'Placed', data: 3 }]);
      await wait(3);
      await subscription.unsubscribe();
      await store.appendToStream('order-3', [{ type: 'Placed', data: 4 }]);
      await new Promise((resolve) => setTimeout(resolve, 50));
      return { seen, failures, checkpoint: await store.loadCheckpoint('projector') };
    }, name);
    assert.deepEqual(first, { seen: [1, 2, 4], failures: [2], checkpoint: 4 });

    await page.reload();
    await page.waitForFunction(() => window.eventlite !== undefined);
    const resumed = await page.evaluate(async (name) => {
      const store = await window.eventlite.openEventStore({ name });
      const seen = [];
      await store.subscribeToAll({ name: 'projector', filter: { categories: ['order'] } }, (e) => seen.push(e.position));
      for (let i = 0; i < 500 && seen.length < 1; i++) await new Promise((resolve) => setTimeout(resolve, 5));
      return seen;
    }, name);
    assert.deepEqual(resumed, [5]);
    await context.close();
  });

  test('snapshots and aggregateStream through the worker', async () => {
    const { page, context } = await newApp();
    const result = await page.evaluate(async (name) => {
      const store = await window.eventlite.openEventStore({ name });
      await store.appendToStream('cart-1', [1, 2, 3, 4].map((amount) => ({ type: 'Added', data: { amount } })));
      await store.saveSnapshot('cart-1', 2, 100, 'v1');
      const aggregate = await store.aggregateStream('cart-1', {
        initial: 0,
        evolve: (sum, event) => sum + event.data.amount,
        schemaTag: 'v1',
      });
      const snapshot = await store.loadSnapshot('cart-1');
      await store.close();
      return { aggregate, snapshot: [snapshot.version, snapshot.state, snapshot.schemaTag] };
    }, unique('snap'));
    assert.deepEqual(result, {
      aggregate: { state: 107, version: 4, snapshotVersion: 2, eventsFolded: 2 },
      snapshot: [2, 100, 'v1'],
    });
    await context.close();
  });
});

describe('sync in the browser (a real eventlite serve)', () => {
  let syncServer;
  let plainServer;
  before(async () => {
    const { startServer } = await import('../../../www/test/server.mjs');
    syncServer = await startServer({ tokens: 'demo-token:demo', args: ['--allow-origin', new URL(base).origin] });
    plainServer = await startServer({ tokens: 'demo-token:demo' }); // no CORS headers
  });
  after(async () => {
    await syncServer?.stop();
    await plainServer?.stop();
  });

  const serverHas = async (eventId) => {
    for (let i = 0; i < 600; i++) {
      if ((await syncServer.pullAll()).some((event) => event.event_id === eventId)) return true;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    return false;
  };
  const openTab = async (context, name, sync) => {
    const page = await context.newPage();
    await openApp(page, base);
    await page.evaluate(
      async ([name, sync]) => {
        window.store = await window.eventlite.openEventStore({ name });
        if (sync) window.sync = await window.store.sync(sync);
      },
      [name, sync],
    );
    return page;
  };
  const append = (page, stream) =>
    page.evaluate(async (stream) => (await window.store.appendToStream(stream, [{ type: 'T', data: null }])).eventIds[0], stream);

  test('sync moves with the store to a new owner tab, also one that never called sync()', async () => {
    for (const syncing of [['a', 'c'], ['b']]) {
      const context = await browser.newContext();
      const name = unique('sync-owner');
      const options = { url: syncServer.url, token: 'demo-token' };
      const a = await openTab(context, name, syncing.includes('a') && options); // the owner
      const b = await openTab(context, name, syncing.includes('b') && options);
      const c = await openTab(context, name, syncing.includes('c') && options);
      assert.ok(await serverHas(await append(b, `before-${name}`)), `synced before the owner closed (${syncing})`);
      await a.close();
      assert.ok(await serverHas(await append(b, `after-${name}`)), `synced after the owner closed (${syncing})`);
      assert.ok(await serverHas(await append(c, `later-${name}`)), `synced from the third tab (${syncing})`);
      await context.close();
    }
  });

  test('a server on another origin without CORS headers: the status says so, not just "Failed to fetch"', async () => {
    const { page, context } = await newApp();
    const message = await page.evaluate(async ([name, url]) => {
      const store = await window.eventlite.openEventStore({ name });
      const sync = await store.sync({ url, token: 'demo-token' });
      for (let i = 0; i < 400 && !sync.status.lastError; i++) await new Promise((r) => setTimeout(r, 25));
      return [sync.status.lastError?.code, sync.status.lastError?.message];
    }, [unique('cors'), plainServer.url]);
    assert.equal(message[0], 'NETWORK');
    assert.match(message[1], new RegExp(`--allow-origin ${new URL(base).origin.replace(/\./g, '\\.')}`));
    await context.close();
  });
});
