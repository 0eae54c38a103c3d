// The package's API checks in a form every runtime can run: no node:test, no node:assert, only the package and the
// language. Node, Deno and Bun run them through cli.mjs; workerd (wrangler dev) through worker.mjs. Each check opens
// its own store with `open(options)`, which the runner supplies (a memory store, or a file-backed one in a fresh
// directory), so the same checks run over every backend.
//
// run(lib, open, storageMode) -> [{ name, ok, error? }]; `storageMode` is what every store from `open` must say.

class Failure extends Error {}

function equal(actual, expected, what) {
  const a = JSON.stringify(actual);
  const e = JSON.stringify(expected);
  if (a !== e) throw new Failure(`${what}: expected ${e}, got ${a}`);
}

function ok(value, what) {
  if (!value) throw new Failure(what);
}

/** The rejection of `promise`, which must be an EventLiteError of class `Class` with `code`. */
async function rejects(lib, promise, code, Class = lib.EventLiteError) {
  let error;
  try {
    await promise;
  } catch (caught) {
    error = caught;
  }
  ok(error !== undefined, `expected ${code}, but the call succeeded`);
  ok(error instanceof lib.EventLiteError, `not an EventLiteError: ${error}`);
  ok(error instanceof Class, `${error.name} is not a ${Class.name}`);
  equal(error.code, code, `code (${error.message})`);
  return error;
}

async function until(predicate, what) {
  for (let i = 0; i < 3000; i++) {
    if (predicate()) return;
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  throw new Failure(`timed out waiting for ${what}`);
}

const events = (count, type = 'E') => Array.from({ length: count }, (_, n) => ({ type, data: { n } }));

async function contents(store) {
  const { events: all, headPosition } = await store.readAll({ maxCount: 100000 });
  return { headPosition, events: all.map((e) => [e.stream, e.version, e.type, JSON.stringify(e.data)]) };
}

/** [name, async (lib, open) => void] */
export const checks = [
  [
    'append resolves with version, positions and v7 ids; the stream reads back',
    async (lib, open) => {
      const store = await open();
      const result = await store.appendToStream('order-1', events(2), { expectedVersion: lib.NO_STREAM });
      equal([result.streamVersion, result.version, result.positions, result.alreadyAppended], [2, 2, [1, 2], false], 'result');
      ok(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/.test(result.eventIds[0]), 'a v7 id');
      const page = await store.readStream('order-1');
      equal(page.version, 2, 'version');
      equal(page.events.map((e) => [e.eventId, e.version, e.data.n]), result.eventIds.map((id, n) => [id, n + 1, n]), 'events');
      await store.close();
    },
  ],
  [
    'every expectation mode; a conflict is WrongExpectedVersionError and writes nothing',
    async (lib, open) => {
      const store = await open();
      await store.appendToStream('a-1', events(1));
      await store.appendToStream('a-1', events(1), { expectedVersion: lib.ANY });
      await store.appendToStream('a-1', events(1), { expectedVersion: lib.STREAM_EXISTS });
      await store.appendToStream('a-1', events(1), { expectedVersion: 3 });
      await store.appendToStream('a-1', events(1), { expectedVersion: 4n });
      equal(await store.streamVersion('a-1'), 5, 'version');
      const stale = await rejects(
        lib,
        store.appendToStream('a-1', events(1), { expectedVersion: 2 }),
        'WRONG_EXPECTED_VERSION',
        lib.WrongExpectedVersionError,
      );
      equal([stale.stream, stale.expected, stale.actual], ['a-1', 2, 5], 'details');
      const noStream = await rejects(lib, store.appendToStream('a-1', events(1), { expectedVersion: lib.NO_STREAM }), 'WRONG_EXPECTED_VERSION');
      equal(noStream.expected, 'no_stream', 'expected');
      equal(await store.headPosition(), 5, 'failed appends wrote nothing');
      await store.close();
    },
  ],
  [
    'a retried batch is idempotent; a reused id is IDEMPOTENCY_CONFLICT',
    async (lib, open) => {
      const store = await open();
      const first = await store.appendToStream('a-1', events(2));
      const batch = events(2).map((e, i) => ({ ...e, eventId: first.eventIds[i] }));
      const again = await store.appendToStream('a-1', batch, { expectedVersion: lib.NO_STREAM });
      equal([again.alreadyAppended, again.positions], [true, first.positions], 'the original result');
      await rejects(
        lib,
        store.appendToStream('b-1', [{ type: 'Other', data: 1, eventId: first.eventIds[0] }]),
        'IDEMPOTENCY_CONFLICT',
        lib.IdempotencyConflictError,
      );
      equal(await store.headPosition(), 2, 'nothing written');
      await store.close();
    },
  ],
  [
    'readStream and readAll: exclusive bounds, directions, page sizes, filters',
    async (lib, open) => {
      const store = await open();
      await store.appendToStream('order-1', events(3, 'Placed'));
      await store.appendToStream('user-1', events(2, 'Joined'));
      await store.appendToStream('order-2', events(1, 'Shipped'));
      equal((await store.readStream('order-1', { after: 1 })).events.map((e) => e.version), [2, 3], 'after');
      equal((await store.readStream('order-1', { before: 3 })).events.map((e) => e.version), [2, 1], 'before');
      equal((await store.readStream('order-1', { maxCount: 2 })).events.length, 2, 'maxCount');
      equal((await store.readStream('none-1')).version, 0, 'an absent stream');
      const all = await store.readAll({ after: 2, maxCount: 3 });
      equal([all.events.map((e) => e.position), all.headPosition], [[3, 4, 5], 6], 'readAll');
      equal((await store.readAll({ direction: 'backwards', maxCount: 2 })).events.map((e) => e.position), [6, 5], 'backwards');
      equal((await store.readAll({ filter: { categories: ['order'] } })).events.map((e) => e.position), [1, 2, 3, 6], 'category');
      equal((await store.readAll({ filter: { eventTypes: ['Joined'] } })).events.map((e) => e.position), [4, 5], 'types');
      equal((await store.readAll({ filter: { streamPrefix: 'order-2' } })).events.map((e) => e.position), [6], 'prefix');
      await store.close();
    },
  ],
  [
    'JSON and binary data, metadata and recordedAt round-trip',
    async (lib, open) => {
      const store = await open();
      const bytes = new Uint8Array([0, 1, 2, 254, 255]);
      await store.appendToStream('a-1', [
        { type: 'Json', data: { nested: [1, 'two', null], big: 2 ** 53 - 1 }, metadata: { correlationId: 'c-1' } },
        { type: 'Bytes', data: bytes, contentType: 'application/octet-stream' },
        { type: 'Null', data: null },
      ]);
      const [json, binary, none] = (await store.readStream('a-1')).events;
      equal(json.data, { nested: [1, 'two', null], big: 2 ** 53 - 1 }, 'json');
      equal(json.metadata, { correlationId: 'c-1' }, 'metadata');
      ok(typeof json.recordedAt === 'number' && json.recordedAt > 1.7e12, 'recordedAt');
      ok(binary.data instanceof Uint8Array, 'binary data is bytes');
      equal([...binary.data], [...bytes], 'bytes');
      equal(binary.contentType, 'application/octet-stream', 'content type');
      equal(none.data, null, 'null data');
      await store.close();
    },
  ],
  [
    'subscriptions: history then live, in order, no gap or duplicate; unsubscribe stops delivery',
    async (lib, open) => {
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
      equal(seen, [1, 2, 3, 4, 5, 6, 7, 8, 9], 'positions');
      const stream = [];
      await store.subscribeToStream('b-1', { from: 1 }, (event) => stream.push(event.version));
      await until(() => stream.length === 2, 'the stream subscription');
      await subscription.unsubscribe();
      await store.appendToStream('a-1', events(1));
      await new Promise((resolve) => setTimeout(resolve, 30));
      equal(seen.length, 9, 'nothing after unsubscribe');
      equal(stream, [2, 3], 'stream versions');
      await store.close();
    },
  ],
  [
    'named subscriptions keep their checkpoint',
    async (lib, open) => {
      const store = await open();
      await store.appendToStream('a-1', events(3));
      await store.saveCheckpoint('projector', 2);
      equal(await store.loadCheckpoint('projector'), 2, 'checkpoint');
      const seen = [];
      await store.subscribeToAll({ name: 'projector' }, (e) => seen.push(e.position));
      await until(() => seen.length === 1, 'the event after the checkpoint');
      equal(seen, [3], 'resumed after the checkpoint');
      await store.close();
    },
  ],
  [
    'snapshots and aggregateStream fold only the events after the snapshot',
    async (lib, open) => {
      const store = await open();
      await store.appendToStream('cart-1', [1, 2, 3].map((qty) => ({ type: 'Added', data: { qty } })));
      await store.saveSnapshot('cart-1', { version: 2, state: { total: 3 }, schemaTag: 'v1' });
      await store.appendToStream('cart-1', [{ type: 'Added', data: { qty: 4 } }]);
      const snapshot = await store.loadSnapshot('cart-1', { schemaTag: 'v1' });
      equal([snapshot.version, snapshot.state], [2, { total: 3 }], 'snapshot');
      const aggregate = await store.aggregateStream('cart-1', {
        initial: { total: 0 },
        evolve: (state, e) => ({ total: state.total + e.data.qty }),
        schemaTag: 'v1',
      });
      equal([aggregate.state, aggregate.version, aggregate.snapshotVersion, aggregate.eventsFolded], [{ total: 10 }, 4, 2, 2], 'aggregate');
      equal(await store.loadSnapshot('cart-1', { schemaTag: 'v2' }), null, 'another schema tag is ignored');
      await store.close();
    },
  ],
  [
    'bad input: typed errors with codes, and the data unchanged',
    async (lib, open) => {
      const store = await open();
      await store.appendToStream('a-1', events(2));
      const before = await contents(store);
      const bad = [
        () => store.appendToStream('', events(1)),
        () => store.appendToStream('a-1', [{ type: '', data: 1 }]),
        () => store.appendToStream('a-1', [{ type: 'E', data: () => 1 }]),
        () => store.appendToStream('a-1', events(1), { expectedVersion: -1 }),
        () => store.appendToStream('a-1', events(1), { expectedVersion: 'later' }),
        () => store.appendToStream('a-1', [{ type: 'E', data: 1, eventId: 'not-a-uuid' }]),
        () => store.readStream('a-1', { maxCount: 0 }),
        () => store.readAll({ filter: { category: ['a'] } }),
        () => store.readAll({ after: 2 ** 53 }),
        () => store.subscribeToAll({ from: 'middle' }, () => {}),
      ];
      for (const call of bad) await rejects(lib, call(), 'INVALID_ARGUMENT', lib.InvalidArgumentError);
      const big = await rejects(lib, store.appendToStream('a-1', [{ type: 'E', data: 'x'.repeat(1100000) }]), 'EVENT_TOO_LARGE', lib.EventTooLargeError);
      equal(big.index, 0, 'the index of the event too large');
      await rejects(lib, store.appendToStream('a-1', [...events(1), { type: '', data: 1 }]), 'INVALID_ARGUMENT');
      equal(await contents(store), before, 'data unchanged');
      await store.close();
      await rejects(lib, store.readAll(), 'STORE_CLOSED', lib.StoreClosedError);
    },
  ],
  [
    'a store name outside the rules is INVALID_ARGUMENT; demanding OPFS is STORAGE_UNAVAILABLE',
    async (lib, open, storageMode) => {
      await rejects(lib, lib.openEventStore({ name: '../escape' }), 'INVALID_ARGUMENT', lib.InvalidArgumentError);
      await rejects(lib, lib.openEventStore({ name: 'x', storage: 'opfs' }), 'STORAGE_UNAVAILABLE', lib.StorageUnavailableError);
      await rejects(lib, lib.openEventStore({ name: 'x', unknown: 1 }), 'INVALID_ARGUMENT');
      const store = await open();
      equal(store.storageMode, storageMode, 'storageMode');
      await store.close();
    },
  ],
];

/** Runs every check; never throws. */
export async function run(lib, open, storageMode) {
  const results = [];
  for (const [name, check] of checks) {
    try {
      await check(lib, open, storageMode);
      results.push({ name, ok: true });
    } catch (error) {
      results.push({ name, ok: false, error: `${error?.name}: ${error?.message}\n${error?.stack ?? ''}` });
    }
  }
  return results;
}

/** Prints results as a runner would, ending with the plain 'N passed, N failed' line; returns the failure count. */
export function report(runtime, results) {
  for (const result of results) {
    console.log(`${result.ok ? 'ok' : 'not ok'} - [${runtime}] ${result.name}`);
    if (!result.ok) console.log(`  ${result.error.replaceAll('\n', '\n  ')}`);
  }
  const failed = results.filter((r) => !r.ok).length;
  console.log(`${runtime}: ${results.length - failed} passed, ${failed} failed`);
  return failed;
}
