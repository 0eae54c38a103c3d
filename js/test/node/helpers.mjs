// Shared helpers for the Node tests over the built package (`import ... from 'eventlite'` resolves to dist/node.js).
import assert from 'node:assert/strict';
import { after } from 'node:test';
import { EventLiteError } from 'eventlite';

let counter = 0;

/**
 * The backend the suite runs over: `memory` (default) or `file` (EVENTLITE_TEST_STORAGE=file: every store from
 * `open` is a file in a fresh temporary directory, through the Node-API addon; scripts/test-js-runtimes.sh).
 */
export const storage = process.env.EVENTLITE_TEST_STORAGE ?? 'memory';
let directory;

/** The file of each store `open` made over files. */
export const paths = new WeakMap();

/** The stores `open` made: closed when the test file ends, since an open subscription on a file store keeps the
 * process running (as an open socket does) and tests leave some open. */
const opened = [];
after(async () => {
  for (const store of opened) await store.close().catch(() => {});
});

/** A fresh store: memory, or a new file when the suite runs over files. */
export async function open(options = {}) {
  const store = await openFresh(options);
  opened.push(store);
  return store;
}

async function openFresh(options) {
  const { openEventStore } = await import('eventlite');
  counter += 1;
  if (storage === 'file') {
    const { mkdtempSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    directory ??= mkdtempSync(join(tmpdir(), 'eventlite-node-suite-'));
    const path = join(directory, `test-${counter}.db`);
    const store = await openEventStore({ name: `test-${counter}`, path, ...options });
    paths.set(store, path);
    return store;
  }
  return openEventStore({ name: `test-${counter}`, ...options });
}

/** Asserts that `promise` rejects with an EventLiteError of `code` (and class `Class`), returning it. */
export async function rejectsWith(promise, code, Class = EventLiteError) {
  let error;
  try {
    await promise;
  } catch (caught) {
    error = caught;
  }
  assert.ok(error, `expected ${code}, but the call succeeded`);
  assert.ok(error instanceof EventLiteError, `not an EventLiteError: ${error}`);
  assert.ok(error instanceof Class, `${error.name} is not a ${Class.name}`);
  assert.equal(error.code, code, error.message);
  return error;
}

/** Resolves when `predicate()` holds, polling each macrotask (the store delivers asynchronously). */
export async function until(predicate, what = 'condition') {
  for (let i = 0; i < 2000; i++) {
    if (predicate()) return;
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  assert.fail(`timed out waiting for ${what}`);
}

/** Lets pending deliveries run. */
export const settle = () => new Promise((resolve) => setTimeout(resolve, 20));

/** `count` events of `type` with data `{ n }`. */
export const events = (count, type = 'E') => Array.from({ length: count }, (_, n) => ({ type, data: { n } }));

/** The store's whole log, as [stream, version, type] triples: to prove data unchanged. */
export async function contents(store) {
  const { events: all, headPosition } = await store.readAll({ maxCount: 100000 });
  return { headPosition, events: all.map((e) => [e.stream, e.version, e.type, JSON.stringify(e.data)]) };
}
