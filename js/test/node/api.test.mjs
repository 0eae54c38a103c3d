// The whole API over the built package, in Node (memory store).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import {
  ANY,
  NO_STREAM,
  STREAM_EXISTS,
  openEventStore,
  IdempotencyConflictError,
  StorageUnavailableError,
  StoreClosedError,
  WrongExpectedVersionError,
} from 'eventlite';

import { events, open, rejectsWith, until } from './helpers.mjs';

describe('open', () => {
  test('Node opens memory stores and says so', async () => {
    const store = await openEventStore({ name: 'app' });
    assert.equal(store.storageMode, 'memory');
    assert.equal(store.name, 'app');
    const explicit = await openEventStore({ name: 'app', storage: 'memory' });
    assert.equal(explicit.storageMode, 'memory');
    await store.close();
    await explicit.close();
  });

  test('demanding OPFS in Node fails with STORAGE_UNAVAILABLE instead of pretending', async () => {
    await rejectsWith(openEventStore({ name: 'app', storage: 'opfs' }), 'STORAGE_UNAVAILABLE', StorageUnavailableError);
  });

  test('stores are independent', async () => {
    const [a, b] = [await open(), await open()];
    await a.appendToStream('x-1', events(2));
    assert.equal(await b.streamVersion('x-1'), 0);
  });
});

describe('appendToStream', () => {
  test('resolves with version, positions and ids after commit', async () => {
    const store = await open();
    const result = await store.appendToStream('order-1', events(2), { expectedVersion: NO_STREAM });
    assert.equal(result.streamVersion, 2);
    assert.deepEqual(result.positions, [1, 2]);
    assert.equal(result.alreadyAppended, false);
    assert.equal(result.eventIds.length, 2);
    assert.match(result.eventIds[0], /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    const { events: stored } = await store.readStream('order-1');
    assert.deepEqual(stored.map((e) => e.eventId), result.eventIds);
  });

  test('every expectation mode', async () => {
    const store = await open();
    await store.appendToStream('a-1', events(1)); // default ANY
    await store.appendToStream('a-1', events(1), { expectedVersion: ANY });
    await store.appendToStream('a-1', events(1), { expectedVersion: STREAM_EXISTS });
    await store.appendToStream('a-1', events(1), { expectedVersion: 3 });
    await store.appendToStream('a-1', events(1), { expectedVersion: 4n });
    await store.appendToStream('b-1', events(1), { expectedVersion: 0 });
    assert.equal(await store.streamVersion('a-1'), 5);
    const stale = await rejectsWith(
      store.appendToStream('a-1', events(1), { expectedVersion: 2 }),
      'WRONG_EXPECTED_VERSION',
      WrongExpectedVersionError,
    );
    assert.deepEqual([stale.stream, stale.expected, stale.actual], ['a-1', 2, 5]);
    const exists = await rejectsWith(
      store.appendToStream('c-1', events(1), { expectedVersion: STREAM_EXISTS }),
      'WRONG_EXPECTED_VERSION',
    );
    assert.deepEqual([exists.expected, exists.actual], ['stream_exists', 0]);
    const noStream = await rejectsWith(
      store.appendToStream('a-1', events(1), { expectedVersion: NO_STREAM }),
      'WRONG_EXPECTED_VERSION',
    );
    assert.equal(noStream.expected, 'no_stream');
    assert.equal(await store.headPosition(), 6, 'failed appends wrote nothing');
  });

  test('retrying with the returned ids is idempotent; reusing an id differently conflicts', async () => {
    const store = await open();
    const batch = events(2);
    const first = await store.appendToStream('a-1', batch, { expectedVersion: NO_STREAM });
    const withIds = batch.map((e, i) => ({ ...e, eventId: first.eventIds[i] }));
    const retry = await store.appendToStream('a-1', withIds, { expectedVersion: NO_STREAM });
    assert.equal(retry.alreadyAppended, true);
    assert.deepEqual(retry.positions, first.positions);
    assert.deepEqual(retry.eventIds, first.eventIds);
    const conflict = await rejectsWith(
      store.appendToStream('b-1', [withIds[0]]),
      'IDEMPOTENCY_CONFLICT',
      IdempotencyConflictError,
    );
    assert.equal(conflict.eventId, first.eventIds[0]);
    assert.equal(await store.headPosition(), 2);
  });

  test('an empty batch only checks the expectation', async () => {
    const store = await open();
    const result = await store.appendToStream('a-1', [], { expectedVersion: NO_STREAM });
    assert.deepEqual([result.streamVersion, result.positions], [0, []]);
    await rejectsWith(store.appendToStream('a-1', [], { expectedVersion: STREAM_EXISTS }), 'WRONG_EXPECTED_VERSION');
  });

  test('data, metadata, bytes and null round-trip', async () => {
    const store = await open();
    const bytes = new Uint8Array([0, 1, 2, 253, 254, 255]);
    await store.appendToStream('order-1', [
      { type: 'Placed', data: { total: 42, lines: [{ sku: 'a', qty: 2 }], note: 'é✓' }, metadata: { correlationId: 'c-1' } },
      { type: 'Photo', data: bytes, contentType: 'image/png' },
      { type: 'Nothing', data: null },
      { type: 'Dated', data: { at: new Date(0) } },
    ]);
    const { events: stored, version } = await store.readStream('order-1');
    assert.equal(version, 4);
    assert.deepEqual(stored[0].data, { total: 42, lines: [{ sku: 'a', qty: 2 }], note: 'é✓' });
    assert.deepEqual(stored[0].metadata, { correlationId: 'c-1' });
    assert.equal(stored[0].contentType, 'application/json');
    assert.equal(stored[0].stream, 'order-1');
    assert.ok(stored[0].recordedAt > Date.now() - 60_000);
    assert.ok(stored[1].data instanceof Uint8Array);
    assert.deepEqual([...stored[1].data], [...bytes]);
    assert.equal(stored[1].contentType, 'image/png');
    assert.equal(stored[2].data, null);
    assert.equal(stored[2].metadata, null);
    assert.deepEqual(stored[3].data, { at: '1970-01-01T00:00:00.000Z' });
  });

  test('oversized events are refused with their size', async () => {
    const store = await open({ maxEventSize: 100 });
    const error = await rejectsWith(
      store.appendToStream('a-1', [{ type: 'A', data: 1 }, { type: 'A', data: 'x'.repeat(200) }]),
      'EVENT_TOO_LARGE',
    );
    assert.deepEqual([error.index, error.limit], [1, 100]);
    assert.ok(error.size > 200);
    assert.equal(await store.headPosition(), 0);
  });
});

describe('reads', () => {
  test('readStream forwards, backwards, from a version, in pages', async () => {
    const store = await open();
    await store.appendToStream('a-1', events(10));
    const versions = async (options) => (await store.readStream('a-1', options)).events.map((e) => e.version);
    assert.deepEqual(await versions({ maxCount: 3 }), [1, 2, 3]);
    assert.deepEqual(await versions({ fromVersion: 9 }), [9, 10]);
    assert.deepEqual(await versions({ fromVersion: 9n }), [9, 10]);
    assert.deepEqual(await versions({ direction: 'backwards', maxCount: 3 }), [10, 9, 8]);
    assert.deepEqual(await versions({ direction: 'backwards', fromVersion: 2 }), [2, 1]);
    assert.deepEqual(await store.readStream('absent-1'), { events: [], version: 0 });
  });

  test('readAll pages by exclusive position and filters by category, type and prefix', async () => {
    const store = await open();
    for (const stream of ['order-1', 'order-2', 'user-1', 'orderline-1', 'order-1']) {
      await store.appendToStream(stream, [
        { type: 'Created', data: {} },
        { type: 'Updated', data: {} },
      ]);
    }
    const positions = async (options) => (await store.readAll(options)).events.map((e) => e.position);
    assert.deepEqual(await positions({ maxCount: 3 }), [1, 2, 3]);
    assert.deepEqual(await positions({ fromPosition: 8 }), [9, 10]);
    assert.deepEqual(await positions({ direction: 'backwards', maxCount: 2 }), [10, 9]);
    assert.deepEqual(await positions({ direction: 'backwards', fromPosition: 3 }), [2, 1]);
    assert.deepEqual(await positions({ filter: { categories: ['user'] } }), [5, 6]);
    assert.deepEqual(await positions({ filter: { categories: ['order', 'user'], eventTypes: ['Updated'] } }), [2, 4, 6, 10]);
    assert.deepEqual(await positions({ filter: { streamPrefix: 'orderl' } }), [7, 8]);
    assert.deepEqual(await positions({ filter: { eventTypes: ['Created'] }, maxCount: 2, direction: 'backwards' }), [9, 7]);
    const page = await store.readAll({ maxCount: 1 });
    assert.equal(page.headPosition, 10);
    assert.equal(await store.headPosition(), 10);
  });
});

describe('one rule for bounds and names', () => {
  test("every numeric bound is exclusive: readStream's and readAll's after/before, subscriptions' after", async () => {
    const store = await open();
    await store.appendToStream('a-1', events(5));
    await store.appendToStream('b-1', events(5));
    const versions = async (options) => (await store.readStream('a-1', options)).events.map((e) => e.version);
    assert.deepEqual(await versions({ after: 3 }), [4, 5]);
    assert.deepEqual(await versions({ after: 0n }), [1, 2, 3, 4, 5]);
    assert.deepEqual(await versions({ before: 3 }), [2, 1]);
    assert.deepEqual(await versions({ before: 1 }), []);
    assert.deepEqual(await versions({ before: 3, direction: 'backwards', maxCount: 1 }), [2]);
    assert.deepEqual(await versions({ fromVersion: 3 }), [3, 4, 5], 'the deprecated fromVersion stays inclusive');
    const positions = async (options) => (await store.readAll(options)).events.map((e) => e.position);
    assert.deepEqual(await positions({ after: 8 }), [9, 10]);
    assert.deepEqual(await positions({ before: 3 }), [2, 1]);
    assert.deepEqual(await positions({ fromPosition: 8 }), [9, 10], 'fromPosition is after');
    const seen = { all: [], stream: [] };
    await store.subscribeToAll({ after: 8 }, (e) => void seen.all.push(e.position));
    await store.subscribeToStream('a-1', { after: 3 }, (e) => void seen.stream.push(e.version));
    await until(() => seen.all.length === 2 && seen.stream.length === 2, 'the subscriptions');
    assert.deepEqual(seen, { all: [9, 10], stream: [4, 5] });
    for (const [options, argument] of [
      [{ after: 1, before: 2 }, 'options.before'],
      [{ after: 1, direction: 'backwards' }, 'options.after'],
      [{ before: 1, direction: 'forwards' }, 'options.before'],
      [{ after: 1, fromVersion: 2 }, 'options.fromVersion'],
      [{ after: -1 }, 'options.after'],
    ]) {
      const error = await rejectsWith(store.readStream('a-1', options), 'INVALID_ARGUMENT');
      assert.equal(error.argument, argument, JSON.stringify(options));
    }
    await rejectsWith(store.subscribeToAll({ after: 1, from: 'end' }, () => {}), 'INVALID_ARGUMENT');
  });

  test("the version field is 'version' in every result; saveSnapshot takes an options object", async () => {
    const store = await open();
    const result = await store.appendToStream('cart-1', events(3));
    assert.deepEqual([result.version, result.streamVersion], [3, 3]);
    assert.equal((await store.readStream('cart-1')).version, 3);
    await store.saveSnapshot('cart-1', { version: 2, state: { n: 2 }, schemaTag: 'v1' });
    await store.saveSnapshot('cart-1', 1, { n: 1 }, 'v0'); // the deprecated positional form
    const snapshot = await store.loadSnapshot('cart-1', { schemaTag: 'v1' });
    assert.deepEqual([snapshot.version, snapshot.state], [2, { n: 2 }]);
    const aggregate = await store.aggregateStream('cart-1', { initial: 0, evolve: (n) => n + 1, schemaTag: 'v1' });
    assert.equal(aggregate.version, 3);
    const bad = await rejectsWith(store.saveSnapshot('cart-1', { version: 9, state: {}, schemaTag: 'v1' }), 'INVALID_ARGUMENT');
    assert.equal(bad.argument, 'version');
    const unknown = await rejectsWith(store.saveSnapshot('cart-1', { version: 1, state: {}, tag: 'v1' }), 'INVALID_ARGUMENT');
    assert.equal(unknown.argument, 'options.tag');
  });
});

describe('snapshots and aggregateStream', () => {
  test('save and load by tag; a newer snapshot of the same tag is kept', async () => {
    const store = await open();
    await store.appendToStream('cart-1', events(4));
    assert.equal(await store.loadSnapshot('cart-1'), null);
    await store.saveSnapshot('cart-1', 3, { sum: 3 }, 'v1');
    await store.saveSnapshot('cart-1', 2, { sum: 1 }, 'v1');
    await store.saveSnapshot('cart-1', 4n, { total: 6 }, 'v2');
    const v1 = await store.loadSnapshot('cart-1', { schemaTag: 'v1' });
    assert.deepEqual([v1.version, v1.state, v1.schemaTag, v1.stream], [3, { sum: 3 }, 'v1', 'cart-1']);
    assert.equal((await store.loadSnapshot('cart-1')).version, 4);
    assert.equal(await store.loadSnapshot('cart-1', { schemaTag: 'v9' }), null);
  });

  test('aggregateStream folds only the events after a matching snapshot', async () => {
    const store = await open();
    await store.appendToStream('cart-1', [1, 2, 3, 4].map((amount) => ({ type: 'Added', data: { amount } })));
    const evolve = (sum, event) => sum + event.data.amount;
    assert.deepEqual(await store.aggregateStream('cart-1', { initial: 0, evolve, schemaTag: 'v1' }), {
      state: 10,
      version: 4,
      snapshotVersion: null,
      eventsFolded: 4,
    });
    await store.saveSnapshot('cart-1', 2, 100, 'v1'); // a different state proves the snapshot was used
    assert.deepEqual(await store.aggregateStream('cart-1', { initial: 0, evolve, schemaTag: 'v1' }), {
      state: 107,
      version: 4,
      snapshotVersion: 2,
      eventsFolded: 2,
    });
    assert.equal((await store.aggregateStream('cart-1', { initial: 0, evolve, schemaTag: 'v2' })).state, 10);
    assert.equal((await store.aggregateStream('cart-1', { initial: 0, evolve })).eventsFolded, 4);
    assert.deepEqual(await store.aggregateStream('none-1', { initial: 'empty', evolve }), {
      state: 'empty',
      version: 0,
      snapshotVersion: null,
      eventsFolded: 0,
    });
  });

  test('aggregateStream reads long streams in pages', async () => {
    const store = await open();
    await store.appendToStream('long-1', events(2500));
    const result = await store.aggregateStream('long-1', { initial: 0, evolve: (n) => n + 1 });
    assert.deepEqual([result.state, result.version], [2500, 2500]);
  });
});

describe('checkpoints and close', () => {
  test('checkpoints save and load', async () => {
    const store = await open();
    assert.equal(await store.loadCheckpoint('projector'), undefined);
    await store.saveCheckpoint('projector', 7);
    assert.equal(await store.loadCheckpoint('projector'), 7);
  });

  test('a closed store refuses every call with STORE_CLOSED; close is idempotent', async () => {
    const store = await open();
    await store.appendToStream('a-1', events(1));
    await store.close();
    await store.close();
    await rejectsWith(store.appendToStream('a-1', events(1)), 'STORE_CLOSED', StoreClosedError);
    await rejectsWith(store.readStream('a-1'), 'STORE_CLOSED');
    await rejectsWith(store.readAll(), 'STORE_CLOSED');
    await rejectsWith(store.subscribeToAll(() => {}), 'STORE_CLOSED');
    await rejectsWith(store.saveSnapshot('a-1', 1, {}, 'v1'), 'STORE_CLOSED');
    await rejectsWith(store.aggregateStream('a-1', { initial: 0, evolve: (s) => s }), 'STORE_CLOSED');
  });
});
