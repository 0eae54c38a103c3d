// Subscriptions over the built package: history then live, filters, start points, unsubscribe, failing handlers,
// one page in flight for a slow handler, named checkpoints.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { InvalidArgumentError } from 'eventlite';

import { events, open, rejectsWith, settle, until } from './helpers.mjs';

describe('subscriptions', () => {
  test('history first, then live events, in order, without gap or duplicate', async () => {
    const store = await open();
    await store.appendToStream('a-1', events(5));
    const seen = [];
    const subscription = await store.subscribeToAll({ batchSize: 2 }, (event) => {
      seen.push(event.position);
    });
    await until(() => seen.length === 5, 'history');
    await store.appendToStream('b-1', events(3));
    await store.appendToStream('a-1', events(1));
    await until(() => seen.length === 9, 'live events');
    assert.deepEqual(seen, [1, 2, 3, 4, 5, 6, 7, 8, 9]);
    assert.equal(subscription.position, 9);
  });

  test('handlers run outside the store call: they can call the store again', async () => {
    const store = await open();
    const versions = [];
    await store.subscribeToStream('a-1', async (event) => {
      // Re-entering the store from a handler works because no wasm call is on the stack when handlers run.
      versions.push((await store.readStream('a-1', { fromVersion: event.version, maxCount: 1 })).events[0].version);
      if (event.version === 1) await store.appendToStream('a-1', [{ type: 'FromHandler', data: null }]);
    });
    await store.appendToStream('a-1', events(1));
    await until(() => versions.length === 2, 'the handler-appended event');
    assert.deepEqual(versions, [1, 2]);
  });

  test('filters, start points and stream subscriptions', async () => {
    const store = await open();
    await store.appendToStream('order-1', events(2, 'Placed'));
    await store.appendToStream('user-1', events(1, 'Joined'));
    const seen = { orders: [], end: [], after: [], stream: [], types: [] };
    await store.subscribeToAll({ filter: { categories: ['order'] } }, (e) => seen.orders.push(e.position));
    await store.subscribeToAll({ from: 'end' }, (e) => seen.end.push(e.position));
    await store.subscribeToAll({ from: 2 }, (e) => seen.after.push(e.position));
    await store.subscribeToAll({ filter: { eventTypes: ['Joined'] } }, (e) => seen.types.push(e.position));
    await store.subscribeToStream('order-1', { from: 1n }, (e) => seen.stream.push(e.version));
    await store.appendToStream('order-1', events(1, 'Shipped'));
    await until(() => seen.stream.length === 2 && seen.end.length === 1, 'deliveries');
    await settle();
    assert.deepEqual(seen, { orders: [1, 2, 4], end: [4], after: [3, 4], stream: [2, 3], types: [3] });
  });

  test('subscribeToStream without options starts at the stream start', async () => {
    const store = await open();
    await store.appendToStream('a-1', events(2));
    const seen = [];
    await store.subscribeToStream('a-1', (e) => seen.push(e.version));
    await until(() => seen.length === 2);
  });

  test('unsubscribing stops delivery', async () => {
    const store = await open();
    const seen = [];
    const subscription = await store.subscribeToAll((e) => seen.push(e.position));
    await store.appendToStream('a-1', events(1));
    await until(() => seen.length === 1);
    await subscription.unsubscribe();
    await subscription.unsubscribe();
    assert.equal(subscription.closed, true);
    await store.appendToStream('a-1', events(3));
    await settle();
    assert.deepEqual(seen, [1]);
  });

  test('unsubscribing inside the handler stops the rest of the page', async () => {
    const store = await open();
    await store.appendToStream('a-1', events(5));
    const seen = [];
    const subscription = await store.subscribeToAll((e) => {
      seen.push(e.position);
      if (e.position === 2) void subscription.unsubscribe();
    });
    await settle();
    assert.deepEqual(seen, [1, 2]);
  });

  test('a throwing handler is reported and does not break delivery or the store', async () => {
    const store = await open();
    const seen = [];
    const failures = [];
    await store.subscribeToAll(
      {
        onError: (error, event) => failures.push([error.message, event.position]),
      },
      (event) => {
        seen.push(event.position);
        if (event.position === 2) throw new Error('handler bug');
      },
    );
    await store.appendToStream('a-1', events(3));
    await until(() => seen.length === 3);
    assert.deepEqual(failures, [['handler bug', 2]]);
    await store.appendToStream('a-1', events(1));
    await until(() => seen.length === 4);
    assert.equal(await store.streamVersion('a-1'), 4);
  });

  test('a slow handler holds one page: nothing more is read until it finishes, and writers are not blocked', async () => {
    const store = await open();
    let release;
    const gate = new Promise((resolve) => (release = resolve));
    const seen = [];
    await store.subscribeToAll({ batchSize: 10 }, async (event) => {
      seen.push(event.position);
      if (event.position === 1) await gate;
    });
    await store.appendToStream('a-1', events(100));
    for (let i = 0; i < 20; i++) await store.appendToStream('a-1', events(1)); // writers proceed
    await settle();
    assert.deepEqual(seen, [1], 'the handler is still on its first event');
    release();
    await until(() => seen.length === 120, 'the rest, page by page');
    assert.deepEqual(seen, Array.from({ length: 120 }, (_, i) => i + 1));
  });

  test('async handlers are awaited in order', async () => {
    const store = await open();
    const seen = [];
    await store.subscribeToAll(async (event) => {
      await new Promise((resolve) => setTimeout(resolve, event.position % 2 ? 5 : 0));
      seen.push(event.position);
    });
    await store.appendToStream('a-1', events(6));
    await until(() => seen.length === 6);
    assert.deepEqual(seen, [1, 2, 3, 4, 5, 6]);
  });

  test('a named subscription checkpoints after each page and resumes after it', async () => {
    const store = await open();
    await store.appendToStream('a-1', events(3));
    const first = [];
    const subscription = await store.subscribeToAll({ name: 'projector' }, (e) => first.push(e.position));
    await until(() => first.length === 3);
    await settle();
    assert.equal(await store.loadCheckpoint('projector'), 3);
    await subscription.unsubscribe();
    await store.appendToStream('a-1', events(2));
    const resumed = [];
    await store.subscribeToAll({ name: 'projector' }, (e) => resumed.push(e.position));
    await until(() => resumed.length === 2);
    assert.deepEqual(resumed, [4, 5]);
  });

  test('bad subscription arguments are typed errors', async () => {
    const store = await open();
    await rejectsWith(store.subscribeToAll({}), 'INVALID_ARGUMENT', InvalidArgumentError);
    await rejectsWith(store.subscribeToAll({ from: 'middle' }, () => {}), 'INVALID_ARGUMENT');
    await rejectsWith(store.subscribeToAll({ batchSize: 0 }, () => {}), 'INVALID_ARGUMENT');
    await rejectsWith(store.subscribeToAll({ onError: 'no' }, () => {}), 'INVALID_ARGUMENT');
    await rejectsWith(store.subscribeToAll({ filter: { categories: 'order' } }, () => {}), 'INVALID_ARGUMENT');
    await rejectsWith(store.subscribeToAll({ startFrom: 1 }, () => {}), 'INVALID_ARGUMENT');
    await rejectsWith(store.subscribeToStream('a-1', { filter: { categories: ['a'] } }, () => {}), 'INVALID_ARGUMENT');
    await rejectsWith(store.subscribeToStream(42, () => {}), 'INVALID_ARGUMENT');
  });

  test('closing the store stops its subscriptions', async () => {
    const store = await open();
    const seen = [];
    const subscription = await store.subscribeToAll((e) => seen.push(e.position));
    await store.appendToStream('a-1', events(1));
    await until(() => seen.length === 1);
    await store.close();
    assert.equal(subscription.closed, true);
  });
});
