// The demo app in Debian's Chromium syncing through the Durable Object backend (server/edge/ under `wrangler dev`,
// which scripts/test-edge.sh starts and names in EVENTLITE_TEST_EDGE_URL, with CORS for any origin). The page is
// served by `eventlite serve --static-dir www/dist` on another port, so every sync call is a cross-origin call to
// the edge (`?server=`). Two browser contexts are two devices: offline then online, convergence with the edge's
// log, a live update (the edge's SSE through the package's streamed fetch), and a conflict.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';

import { chromium } from 'playwright-core';

import { addTodo, goOnline, localLog, renameTodo, waitFor } from './page.mjs';

import { startServer } from './server.mjs';

const DIST = fileURLToPath(new URL('../dist', import.meta.url));
const EDGE = process.env.EVENTLITE_TEST_EDGE_URL;
const TOKEN = process.env.EVENTLITE_TEST_EDGE_TOKEN ?? 'demo-token';
const executablePath = process.env.CHROMIUM ?? '/usr/bin/chromium';
const args = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-dev-shm-usage'];

let site;
let browser;
const devices = {};

async function openDevice(name) {
  const context = await browser.newContext();
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (error) => errors.push(error));
  const query = new URLSearchParams({ offline: '1', server: EDGE, token: TOKEN });
  await page.goto(`${site.url}/?${query}`);
  await page.waitForSelector('body[data-ready="true"]');
  devices[name] = { context, page, errors };
  return page;
}

/** The tenant's whole log on the edge, through its pull endpoint. */
async function edgeLog() {
  const events = [];
  let after = '';
  for (;;) {
    const response = await fetch(`${EDGE}/v1/pull?limit=1000&after=${encodeURIComponent(after)}`, {
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    assert.equal(response.status, 200, await response.clone().text());
    const page = await response.json();
    events.push(...page.events);
    after = page.cursor;
    if (!page.more) break;
  }
  return events.map(({ event_id, stream, version, type, data }) => ({ eventId: event_id, stream, version, type, data }));
}

before(async () => {
  assert.ok(EDGE, 'EVENTLITE_TEST_EDGE_URL: the edge under wrangler dev (scripts/test-edge.sh starts it)');
  assert.ok(existsSync(`${DIST}/index.html`), 'www/dist is missing: build it (scripts/test-edge.sh does)');
  // Only the page comes from here; its tokens are never used.
  site = await startServer({ staticDir: DIST, tokens: 'unused-token:unused' });
  browser = await chromium.launch({ executablePath, args });
});

after(async () => {
  await browser?.close();
  await site?.stop();
});

describe('demo app: two devices in Chromium through the Durable Object backend', { timeout: 120_000 }, () => {
  test('both append offline, go online and converge to the edge log', async () => {
    assert.deepEqual(await edgeLog(), [], 'the tenant starts empty');
    const a = await openDevice('a');
    const b = await openDevice('b');
    await addTodo(a, 'milk');
    await addTodo(a, 'eggs');
    await addTodo(b, 'bread');
    await waitFor(a, 'pending', '2');
    await waitFor(b, 'pending', '1');
    await goOnline(a, true);
    await goOnline(b, true);
    for (const page of [a, b]) {
      await waitFor(page, 'pending', '0');
      await page.waitForFunction(() => document.querySelectorAll('[data-testid="todo"]').length === 3);
      await waitFor(page, 'confirmed', '3');
      await waitFor(page, 'sync-state', 'online');
    }
    const log = await edgeLog();
    assert.equal(log.length, 3);
    assert.deepEqual(await localLog(a), log);
    assert.deepEqual(await localLog(b), log);
  });

  test('online: a todo added on one device appears on the other live, no reload', async () => {
    const { page: a } = devices.a;
    const { page: b } = devices.b;
    await addTodo(a, 'butter');
    await b.locator('[data-testid="todo-title"]', { hasText: 'butter' }).waitFor();
    await waitFor(a, 'pending', '0');
    await waitFor(b, 'pending', '0');
    assert.deepEqual(await localLog(b), await edgeLog());
  });

  test('concurrent renames of one todo: the second device to sync shows a conflict, both converge', async () => {
    const { page: a } = devices.a;
    const { page: b } = devices.b;
    await goOnline(a, false);
    await goOnline(b, false);
    await renameTodo(a, 'milk', 'oat milk');
    await renameTodo(b, 'milk', 'almond milk');
    await goOnline(a, true);
    await waitFor(a, 'pending', '0');
    await goOnline(b, true);
    await waitFor(b, 'conflict-count', '1');
    const conflict = b.locator('[data-testid="conflict"]');
    assert.match(await conflict.textContent(), /WRONG_EXPECTED_VERSION/);
    assert.match(await conflict.textContent(), /almond milk/);
    await b.locator('[data-testid="todo-title"]', { hasText: 'oat milk' }).waitFor();
    await waitFor(b, 'pending', '0');
    const log = await edgeLog();
    assert.equal(log.length, 5);
    await a.waitForFunction(() => document.querySelectorAll('[data-testid="log-row"]').length === 5);
    assert.deepEqual(await localLog(a), log);
    assert.deepEqual(await localLog(b), log);
    for (const { errors } of Object.values(devices)) assert.deepEqual(errors, []);
  });
});
