// One log across platforms: a real `eventlite serve`, and three devices on one tenant — Python (the wheel), Kotlin
// (the generated bindings on the JVM) and a browser (the npm package in Chromium, OPFS) — go offline, append to the
// same streams (some `Any`, some `NoStream` / `Exact`), come online one after the other, and end with identical
// logs, equal to the server's. The device that lost a race sees its conflict through its own platform's API.
//
// Run by scripts/test-cross-platform.sh, which builds what it needs and sets:
//   EVENTLITE_BIN      the server binary
//   EVENTLITE_PYTHON   a Python with the `eventlite` wheel installed
//   EVENTLITE_KOTLIN   the `java` command line (classpath and JNA library path) that runs the Kotlin device's main
//   WWW_DIST           the built demo app, which the browser device opens (it exposes the package's store and sync)
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

import { startServer } from '../../www/test/server.mjs';

const run = promisify(execFile);
const require = createRequire(new URL('../../www/package.json', import.meta.url));
const { chromium } = require('playwright-core');

const HERE = fileURLToPath(new URL('.', import.meta.url));
const TOKEN = 'e2e-token';
const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run scripts/test-cross-platform.sh`);
  return value;
};

let server;
let browser;
let scratch;
const devices = {};

/** Operations as the device programs take them: one per line, `stream TAB type TAB expectation TAB data`. */
function operationLines(operations) {
  const expectation = (expected) => (typeof expected === 'object' ? String(expected.exact) : expected);
  return operations
    .map(({ stream, type, data, expected }) => [stream, type, expectation(expected), JSON.stringify(data)].join('\t'))
    .join('\n');
}

/** A device driven through a command-line program: `<program> <command> <store> <url> <token> [operations]`,
 * answering one JSON line. */
function processDevice(name, argv) {
  const store = join(scratch, `${name}.db`);
  const call = async (command, argument) => {
    const args = [...argv.slice(1), command, store, server.url, TOKEN];
    if (argument !== undefined) args.push(operationLines(argument));
    try {
      const { stdout } = await run(argv[0], args, { maxBuffer: 16 * 1024 * 1024, timeout: 120_000 });
      return JSON.parse(stdout.trim().split('\n').at(-1));
    } catch (error) {
      throw new Error(`${name} ${command} failed: ${error.message}\n${error.stdout ?? ''}\n${error.stderr ?? ''}`);
    }
  };
  return {
    name,
    append: (operations) => call('append', operations),
    sync: () => call('sync'),
    dump: () => call('dump'),
  };
}

/** The browser device: the demo page (offline at first) and its `window.demo` handle on the package. */
async function browserDevice(name) {
  const context = await browser.newContext();
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (error) => errors.push(error));
  await page.goto(`${server.url}/?offline=1&token=${TOKEN}&store=e2e-${name}`);
  await page.waitForSelector('body[data-ready="true"]');
  const storageMode = await page.evaluate(() => window.demo.store.storageMode);
  assert.equal(storageMode, 'opfs', 'the browser device persists to OPFS');
  return {
    name,
    errors,
    append: (operations) =>
      page.evaluate(async (operations) => {
        const results = [];
        for (const { stream, type, data, expected } of operations) {
          try {
            const expectedVersion = typeof expected === 'object' ? expected.exact : expected;
            const result = await window.demo.store.appendToStream(stream, [{ type, data }], { expectedVersion });
            results.push({ ok: true, version: Number(result.streamVersion ?? result.version) });
          } catch (error) {
            results.push({ ok: false, code: error.code });
          }
        }
        return { results };
      }, operations),
    sync: () =>
      page.evaluate(async () => {
        const { sync } = window.demo;
        // Conflicts as the app hears of them: the 'conflict' event, from every round (going online starts one).
        const heard = [];
        const stop = sync.on('conflict', (conflicts) => heard.push(...conflicts));
        try {
          if (sync.status.state === 'offline') await sync.setOnline(true);
          const report = await sync.syncNow();
          return {
            pushed: report.pushed,
            pulled: report.pulled,
            conflicts: heard.map((conflict) => ({ eventId: conflict.eventId, stream: conflict.stream, code: conflict.code })),
          };
        } finally {
          stop();
        }
      }),
    dump: () =>
      page.evaluate(async () => {
        const { store, sync } = window.demo;
        const log = [];
        let fromPosition = 0;
        for (;;) {
          const page = await store.readAll({ fromPosition, maxCount: 1000 });
          if (page.events.length === 0) break;
          for (const event of page.events) {
            log.push({ eventId: event.eventId, stream: event.stream, version: Number(event.version), type: event.type });
          }
          fromPosition = page.events.at(-1).position;
        }
        const conflicts = (await sync.conflicts()).map((conflict) => ({
          eventId: conflict.eventId,
          stream: conflict.stream,
          code: conflict.code,
        }));
        const status = sync.status;
        return { log, conflicts, pending: status.pending };
      }),
  };
}

before(async () => {
  scratch = mkdtempSync(join(tmpdir(), 'eventlite-e2e-'));
  server = await startServer({ staticDir: env('WWW_DIST'), tokens: `${TOKEN}:e2e` });
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-dev-shm-usage'],
  });
  devices.python = processDevice('python', [env('EVENTLITE_PYTHON'), join(HERE, 'devices', 'device.py')]);
  devices.kotlin = processDevice('kotlin', env('EVENTLITE_KOTLIN').split(' '));
  devices.browser = await browserDevice('browser');
});

after(async () => {
  await browser?.close();
  await server?.stop();
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

/** What every device appends while offline. */
function offlineWork(name) {
  return [
    // Everyone adds to the shared list: `Any` is rebased after the others, never a conflict.
    { stream: 'list-1', type: 'ItemAdded', data: { by: name }, expected: 'any' },
    // Everyone creates the same document: only the first to sync wins, the others get a conflict.
    { stream: 'doc-1', type: 'DocCreated', data: { by: name }, expected: 'no_stream' },
    // A stream of its own, with exact versions: no conflict.
    { stream: `own-${name}`, type: 'Noted', data: { n: 1 }, expected: { exact: 0 } },
    { stream: `own-${name}`, type: 'Noted', data: { n: 2 }, expected: { exact: 1 } },
    // Binary-safe, non-ASCII data crosses every platform unchanged.
    { stream: 'list-1', type: 'ItemAdded', data: { by: name, title: 'crème brûlée ☕', tags: ['a', 1, null] }, expected: 'any' },
  ];
}

const key = (event) => `${event.eventId}|${event.stream}|${event.version}|${event.type}`;

test('three platforms append offline, sync, and end with the server log; the losers see their conflict', async () => {
  const order = ['python', 'kotlin', 'browser'];
  for (const name of order) {
    const { results } = await devices[name].append(offlineWork(name));
    assert.ok(results.every((result) => result.ok), `${name} appended offline: ${JSON.stringify(results)}`);
  }
  for (const name of order) {
    const { log, pending } = await devices[name].dump();
    assert.equal(log.length, 5, `${name} holds its own five events`);
    assert.equal(pending, 5, `${name}: all pending while offline`);
  }
  assert.equal((await server.pullAll(TOKEN)).length, 0, 'nothing reached the server while the devices were offline');

  const reports = {};
  for (const name of order) reports[name] = await devices[name].sync();
  assert.deepEqual(reports.python.conflicts, [], 'the first device to sync wins every race');
  for (const loser of ['kotlin', 'browser']) {
    assert.deepEqual(
      reports[loser].conflicts.map((conflict) => [conflict.stream, conflict.code]),
      [['doc-1', 'WRONG_EXPECTED_VERSION']],
      `${loser} lost doc-1`,
    );
  }
  // A second pass brings everyone the events pushed after their first sync.
  for (const name of order) await devices[name].sync();

  const serverLog = (await server.pullAll(TOKEN)).map((event) =>
    key({ eventId: event.event_id, stream: event.stream, version: event.version, type: event.type }),
  );
  assert.equal(serverLog.length, 3 * 5 - 2, 'every event but the two losing DocCreated');
  for (const name of order) {
    const { log, conflicts, pending } = await devices[name].dump();
    assert.deepEqual(log.map(key), serverLog, `${name}'s log is the server's, event for event and version for version`);
    assert.equal(pending, 0, `${name} has nothing pending`);
    const expected = name === 'python' ? [] : [['doc-1', 'WRONG_EXPECTED_VERSION']];
    assert.deepEqual(
      conflicts.map((conflict) => [conflict.stream, conflict.code]),
      expected,
      `${name}'s conflicts list, read through its own API`,
    );
  }
  const winner = (await devices.python.dump()).log.find((event) => event.stream === 'doc-1');
  assert.equal(winner.version, 1);
  assert.deepEqual(devices.browser.errors, [], 'no uncaught error in the page');
});
