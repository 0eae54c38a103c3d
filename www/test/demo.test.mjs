// The demo app in Debian's Chromium (playwright-core, never a downloaded browser), served by a real
// `eventlite serve --static-dir www/dist` on a free port with a temporary data directory. Two browser contexts are
// two devices (separate OPFS). Run by scripts/test-www.sh, which builds www/dist and the server first.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';

import { chromium } from 'playwright-core';

import { addTodo, goOnline, localLog, renameTodo, waitFor } from './page.mjs';

import { cliLog, startServer } from './server.mjs';

const DIST = fileURLToPath(new URL('../dist', import.meta.url));
const executablePath = process.env.CHROMIUM ?? '/usr/bin/chromium';
const args = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-dev-shm-usage'];

let server;
let browser;
const devices = {};

/** Opens the demo in a fresh context (a device); resolves once the page has opened its store and rendered. */
async function openDevice(name, query = '?offline=1') {
  const context = await browser.newContext();
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (error) => errors.push(error));
  await page.goto(`${server.url}/${query}`);
  await page.waitForSelector('body[data-ready="true"]');
  devices[name] = { context, page, errors };
  return page;
}

const text = (page, id) => page.locator(`[data-testid="${id}"]`).first().textContent();

/**
 * What the device shows and what its projection holds, next to a fold of its local log: the watched query's rows
 * must equal folding the log (after rebases and rejected events too), and the list must show them.
 */
function projected(page) {
  return page.evaluate(async () => {
    const { store } = window.demo;
    const rows = await store.query('SELECT stream, title, done, version FROM todos ORDER BY first_position');
    const folded = new Map();
    for (const event of (await store.readAll()).events) {
      if (!event.stream.startsWith('todo-')) continue;
      const todo = folded.get(event.stream) ?? { stream: event.stream, title: '', done: 0, version: 0 };
      if (event.type === 'TodoAdded' || event.type === 'TodoRenamed') todo.title = String(event.data?.title ?? '');
      if (event.type === 'TodoCompleted') todo.done = 1;
      todo.version = event.version;
      folded.set(event.stream, todo);
    }
    const shown = [...document.querySelectorAll('[data-testid="todo"]')].map((item) => ({
      stream: item.dataset.stream,
      title: item.querySelector('[data-testid="todo-title"]')?.textContent,
      done: item.classList.contains('done') ? 1 : 0,
    }));
    return { rows, folded: [...folded.values()], shown };
  });
}

/** Asserts that the device's projection equals the fold of its log and that its list shows it; returns the rows. */
async function assertProjected(page) {
  let { rows, folded, shown } = await projected(page);
  // The list renders the watch's rows a task after the commit: give it a moment to catch up with a query.
  for (let i = 0; i < 50 && JSON.stringify(shown.map((t) => t.title)) !== JSON.stringify(rows.map((t) => t.title)); i++) {
    await new Promise((resolve) => setTimeout(resolve, 20));
    ({ rows, folded, shown } = await projected(page));
  }
  assert.deepEqual(rows, folded);
  assert.deepEqual(shown, rows.map(({ stream, title, done }) => ({ stream, title, done })));
  return rows;
}

async function serverLog() {
  const events = await server.pullAll('demo-token');
  return events.map(({ event_id, stream, version, type, data }) => ({ eventId: event_id, stream, version, type, data }));
}

before(async () => {
  assert.ok(existsSync(`${DIST}/index.html`), 'www/dist is missing: build it (scripts/test-www.sh does)');
  server = await startServer({ staticDir: DIST, tokens: 'demo-token:demo' });
  browser = await chromium.launch({ executablePath, args });
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

describe('demo app: two devices in Chromium', { timeout: 120_000 }, () => {
  test('both append offline, go online and converge to the server log', async () => {
    const a = await openDevice('a');
    const b = await openDevice('b');
    for (const page of [a, b]) {
      assert.equal(await text(page, 'storage-mode'), 'opfs');
      assert.equal(await text(page, 'sync-state'), 'offline');
    }
    await addTodo(a, 'milk');
    await addTodo(a, 'eggs');
    await addTodo(b, 'bread');
    await waitFor(a, 'pending', '2');
    await waitFor(b, 'pending', '1');
    assert.deepEqual(await serverLog(), []);

    await goOnline(a, true);
    await goOnline(b, true);
    for (const page of [a, b]) {
      await waitFor(page, 'pending', '0');
      await page.waitForFunction(() => document.querySelectorAll('[data-testid="todo"]').length === 3);
      await waitFor(page, 'confirmed', '3');
      await waitFor(page, 'sync-state', 'online');
    }
    // The second device to sync had its pending todo rebased after the other's: its projection was rewound and
    // refolded, and both list the todos in the server's order.
    assert.deepEqual(await assertProjected(a), await assertProjected(b));
    const log = await serverLog();
    assert.equal(log.length, 3);
    assert.deepEqual(await localLog(a), log);
    assert.deepEqual(await localLog(b), log);
    // The CLI, reading the server's store of tenant "demo", prints the same log (one JSON line per event).
    const cli = cliLog(server.dataDir, 'demo.db').trim().split('\n').map((line) => JSON.parse(line));
    const pulled = await server.pullAll('demo-token');
    assert.deepEqual(cli, pulled.map(({ position, stream, version, type, data }) => ({ position, stream, version, type, data })));
  });

  test('online: a todo added or completed on one device appears on the other live (SSE), no reload', async () => {
    const { page: a } = devices.a;
    const { page: b } = devices.b;
    await addTodo(a, 'butter');
    await b.locator('[data-testid="todo-title"]', { hasText: 'butter' }).waitFor();
    const stream = await b.locator('[data-testid="todo"]', { hasText: 'butter' }).getAttribute('data-stream');
    await b.locator(`[data-stream="${stream}"] [data-testid="complete"]`).click();
    await a.locator(`[data-stream="${stream}"].done`).waitFor();
    await waitFor(a, 'pending', '0');
    await waitFor(b, 'pending', '0');
    assert.deepEqual(await localLog(a), await serverLog());
  });

  test('the server goes away: appends stay pending; it comes back: both devices reconnect (live stream, backoff) and converge', async () => {
    const { page: a } = devices.a;
    const { page: b } = devices.b;
    const { port, dataDir } = server;
    await server.stop({ keepData: true });
    for (const page of [a, b]) {
      await page.waitForFunction(() => document.querySelector('[data-testid="sync-state"]').dataset.state === 'connecting');
    }
    await addTodo(a, 'tea');
    await waitFor(a, 'pending', '1');
    server = await startServer({ staticDir: DIST, tokens: 'demo-token:demo', port, dataDir });
    // The browser's `online` event makes the client reconnect without waiting out its backoff.
    await a.evaluate(() => window.dispatchEvent(new Event('online')));
    await waitFor(a, 'sync-state', 'online');
    await waitFor(a, 'pending', '0');
    await b.locator('[data-testid="todo-title"]', { hasText: 'tea' }).waitFor();
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
    // B's rename left the stream; B now shows A's.
    await b.locator('[data-testid="todo-title"]', { hasText: 'oat milk' }).waitFor();
    await waitFor(b, 'pending', '0');
    await waitFor(a, 'conflict-count', '0');
    await a.waitForFunction(() => document.querySelectorAll('[data-testid="log-row"]').length === 7);
    const log = await serverLog();
    assert.equal(log.length, 7);
    assert.deepEqual(await localLog(a), log);
    assert.deepEqual(await localLog(b), log);
    // The list is the projection (a watched query): on both devices it equals folding the converged log, B's
    // rejected rename gone from it, and both show the same todos.
    await b.waitForFunction(() => document.querySelectorAll('[data-testid="todo"]').length === 5);
    const rowsA = await assertProjected(a);
    const rowsB = await assertProjected(b);
    assert.deepEqual(rowsB, rowsA);
    const milk = rowsB.find((row) => row.title.endsWith('milk'));
    assert.deepEqual([milk.title, milk.version], ['oat milk', 2]);
    assert.deepEqual(
      (await b.evaluate(() => window.demo.store.projections())).map(({ name, failure }) => [name, failure]),
      [['todos', null]],
    );
  });

  test('a reload keeps local events (OPFS), pending ones included, and the conflicts list', async () => {
    const { page: b } = devices.b;
    await goOnline(b, false);
    await addTodo(b, 'jam');
    await waitFor(b, 'pending', '1');
    await b.reload();
    await b.waitForSelector('body[data-ready="true"]');
    assert.equal(await text(b, 'storage-mode'), 'opfs');
    assert.equal(await text(b, 'sync-state'), 'offline');
    await b.locator('[data-testid="todo-title"]', { hasText: 'jam' }).waitFor();
    await waitFor(b, 'pending', '1');
    await waitFor(b, 'conflict-count', '1');
    await goOnline(b, true);
    await waitFor(b, 'pending', '0');
    assert.ok((await serverLog()).some((event) => event.data?.title === 'jam'));
    // Dismissing the handled conflict empties the list.
    await b.click('[data-testid="dismiss"]');
    await waitFor(b, 'conflict-count', '0');
    for (const { errors } of Object.values(devices)) assert.deepEqual(errors, []);
  });

  test('two tabs of one device share its store and its sync; closing the owning tab hands both over', async () => {
    const { page: first, context } = devices.a;
    const second = await context.newPage();
    const errors = [];
    second.on('pageerror', (error) => errors.push(error));
    await second.goto(`${server.url}/`);
    await second.waitForSelector('body[data-ready="true"]');
    assert.equal(await text(second, 'storage-mode'), 'opfs');
    await addTodo(second, 'honey');
    await first.locator('[data-testid="todo-title"]', { hasText: 'honey' }).waitFor();
    for (const page of [first, second]) await waitFor(page, 'pending', '0');
    // The sync's status reaches every tab, whichever tab changed it.
    await goOnline(second, false);
    await first.waitForFunction(() => document.querySelector('[data-testid="sync-state"]').dataset.state === 'offline');
    await goOnline(first, true);
    await waitFor(second, 'sync-state', 'online');

    await first.close();
    await addTodo(second, 'figs');
    await waitFor(second, 'pending', '0');
    await waitFor(second, 'sync-state', 'online');
    const titles = (await serverLog()).map((event) => event.data?.title);
    assert.ok(titles.includes('honey') && titles.includes('figs'), titles.join(', '));
    assert.deepEqual(await localLog(second), await serverLog());
    assert.deepEqual(errors, []);
  });
});
