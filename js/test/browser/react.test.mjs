// `eventlite/react` in Chromium: a React app built by Vite (no configuration) over the packed package renders
// watched queries, re-renders after commits that change what they read (its own tab's and another tab's) and only
// then, keeps one watch across re-renders with equal params, shares it between components, reports bad SQL, and
// stops the watch on unmount.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { buildApp, reactAppDir } from './app.mjs';
import { launch } from './chromium.mjs';
import { serve } from './server.mjs';

let server;
let base;
let browser;

before(async () => {
  const dist = await buildApp(reactAppDir);
  server = await serve(dist);
  base = `http://127.0.0.1:${server.port}/`;
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await server?.close();
});

let counter = 0;
const unique = (prefix) => `${prefix}-${process.pid}-${++counter}`;

async function openPage(context) {
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (error) => errors.push(error));
  await page.goto(base);
  await page.waitForFunction(() => document.title === 'ready');
  return { page, errors };
}

/** Waits in the page until `#id`'s text is `text`. */
const untilText = (page, id, text) =>
  page.waitForFunction(([id, text]) => window.app.text(id) === text, [id, text], { timeout: 10_000 });

describe('eventlite/react in Chromium', () => {
  test('useQuery renders the projection and re-renders after each relevant commit, and only then', async () => {
    const context = await browser.newContext();
    const { page, errors } = await openPage(context);
    assert.equal(await page.evaluate((name) => window.app.open(name), unique('react')), 'opfs');
    await page.evaluate(() => window.app.store.appendToStream('todo-1', [{ type: 'TodoAdded', data: { title: 'milk' } }]));
    await page.evaluate(() => window.app.render(['OpenTodos', 'Count']));
    await untilText(page, 'OpenTodos', 'milk');
    await untilText(page, 'Count', '1');

    await page.evaluate(() => window.app.store.appendToStream('todo-2', [{ type: 'TodoAdded', data: { title: 'eggs' } }]));
    await untilText(page, 'OpenTodos', 'milkeggs');
    await untilText(page, 'Count', '2');
    await page.evaluate(() => window.app.store.appendToStream('todo-1', [{ type: 'TodoDone', data: null }]));
    await untilText(page, 'OpenTodos', 'eggs');
    await untilText(page, 'Count', '1');

    // A commit no projection table sees re-renders nothing.
    const before = await page.evaluate(() => [window.app.renders.OpenTodos.count, window.app.renders.Count.count]);
    await page.evaluate(() => window.app.store.appendToStream('other-1', [{ type: 'Unrelated', data: null }]));
    await page.waitForTimeout(200);
    const afterUnrelated = await page.evaluate(() => [window.app.renders.OpenTodos.count, window.app.renders.Count.count]);
    assert.deepEqual(afterUnrelated, before);
    const state = await page.evaluate(() => window.app.renders.OpenTodos.state);
    assert.deepEqual(state, { rows: [{ id: 'todo-2', title: 'eggs' }], columns: ['id', 'title'], loading: false, error: undefined });
    assert.deepEqual(errors, []);
    await context.close();
  });

  test('equal params across re-renders keep one watch; equal queries share it; unmount stops it', async () => {
    const context = await browser.newContext();
    const { page, errors } = await openPage(context);
    await page.evaluate((name) => window.app.open(name), unique('react-watch'));
    await page.evaluate(() => window.app.render(['OpenTodos', 'Count']));
    await untilText(page, 'Count', '0');
    for (let i = 0; i < 5; i++) await page.evaluate(() => window.app.bump()); // a new [0] and { done: 0 } each time
    await page.evaluate(() => window.app.store.appendToStream('todo-1', [{ type: 'TodoAdded', data: { title: 'a' } }]));
    await untilText(page, 'Count', '1');
    assert.deepEqual(await page.evaluate(() => window.app.counts), { opened: 2, stopped: 0 });
    // A second component with the same query and params shares the first one's watch.
    await page.evaluate(() => window.app.render(['OpenTodos', 'Count', 'OpenTodos2']));
    await untilText(page, 'OpenTodos2', 'a');
    assert.deepEqual(await page.evaluate(() => window.app.counts), { opened: 2, stopped: 0 });
    await page.evaluate(() => window.app.unmount());
    await page.waitForFunction(() => window.app.counts.stopped === 2);
    assert.deepEqual(await page.evaluate(() => window.app.counts), { opened: 2, stopped: 2 });
    // Nothing renders after unmount, whatever commits.
    const renders = await page.evaluate(() => window.app.renders.Count.count);
    await page.evaluate(() => window.app.store.appendToStream('todo-2', [{ type: 'TodoAdded', data: { title: 'b' } }]));
    await page.waitForTimeout(200);
    assert.equal(await page.evaluate(() => window.app.renders.Count.count), renders);
    assert.deepEqual(errors, []);
    await context.close();
  });

  test('bad SQL is an INVALID_ARGUMENT error in the state, not a crash', async () => {
    const context = await browser.newContext();
    const { page, errors } = await openPage(context);
    await page.evaluate((name) => window.app.open(name), unique('react-bad'));
    await page.evaluate(() => window.app.render(['Broken']));
    await untilText(page, 'Broken', 'INVALID_ARGUMENT');
    const state = await page.evaluate(() => {
      const { rows, loading, error } = window.app.renders.Broken.state;
      return { rows, loading, error: error instanceof window.app.eventlite.InvalidArgumentError };
    });
    assert.deepEqual(state, { rows: undefined, loading: false, error: true });
    assert.deepEqual(errors, []);
    await context.close();
  });

  test("another tab's appends re-render this tab's useQuery (the store owned by the other tab)", async () => {
    const context = await browser.newContext();
    const name = unique('react-tabs');
    const owner = await openPage(context);
    const follower = await openPage(context);
    await owner.page.evaluate((name) => window.app.open(name), name);
    await follower.page.evaluate((name) => window.app.open(name), name);
    await follower.page.evaluate(() => window.app.render(['Count']));
    await untilText(follower.page, 'Count', '0');
    await owner.page.evaluate(() => window.app.store.appendToStream('todo-1', [{ type: 'TodoAdded', data: { title: 'x' } }]));
    await untilText(follower.page, 'Count', '1');
    await follower.page.evaluate(() => window.app.store.appendToStream('todo-2', [{ type: 'TodoAdded', data: { title: 'y' } }]));
    await untilText(follower.page, 'Count', '2');
    assert.deepEqual([...owner.errors, ...follower.errors], []);
    await context.close();
  });
});
