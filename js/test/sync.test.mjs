// The package's SyncClient in Node (memory or file stores, the transport on the caller's thread) against a real
// `eventlite serve` process. Run by scripts/test-www.sh, which builds the server binary and the package.
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import {
  EventLiteError,
  NO_STREAM,
  openEventStore,
  ProjectionFailedError,
  SyncStoppedError,
  UnauthorizedError,
} from 'eventlite';

import { startServer } from '../../www/test/server.mjs';

const TOKENS =
  'demo-token:demo,other-token:other,converge-token:converge,rebase-token:rebase,failing-token:failing';
let server;
let counter = 0;
// EVENTLITE_TEST_STORAGE=file: file-backed stores through the Node-API addon (scripts/test-js-runtimes.sh).
const files = process.env.EVENTLITE_TEST_STORAGE === 'file' ? mkdtempSync(join(tmpdir(), 'eventlite-sync-')) : undefined;
const open = () => {
  counter += 1;
  if (files) return openEventStore({ name: `sync-${counter}`, path: join(files, `sync-${counter}.db`) });
  return openEventStore({ name: `sync-${counter}` });
};

/** Waits (without a deadline of its own: node:test's timeout bounds it) until `predicate()` holds. */
async function until(predicate, what) {
  for (let i = 0; ; i++) {
    if (await predicate()) return;
    if (i % 200 === 199) console.log(`still waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

async function localLog(store) {
  const { events } = await store.readAll();
  return events.map(({ eventId, stream, version, type, data }) => ({ eventId, stream, version, type, data }));
}

async function serverLog(token) {
  const events = await server.pullAll(token);
  return events.map(({ event_id, stream, version, type, data }) => ({ eventId: event_id, stream, version, type, data }));
}

before(async () => {
  server = await startServer({ tokens: TOKENS });
});
after(async () => {
  await server?.stop();
});

describe('SyncClient (Node, real server)', { timeout: 60_000 }, () => {
  test('two replicas append offline, go online and converge to the server log', async () => {
    const token = 'converge-token';
    const a = await open();
    const b = await open();
    const syncA = await a.sync({ url: server.url, token, online: false });
    const syncB = await b.sync({ url: server.url, token, online: false });
    assert.equal(syncA.status.state, 'offline');
    await a.appendToStream('todo-a', [{ type: 'TodoAdded', data: { title: 'milk' } }], { expectedVersion: NO_STREAM });
    await a.appendToStream('list-shared', [{ type: 'Note', data: { from: 'a' } }]);
    await b.appendToStream('todo-b', [{ type: 'TodoAdded', data: { title: 'eggs' } }], { expectedVersion: NO_STREAM });
    await b.appendToStream('list-shared', [{ type: 'Note', data: { from: 'b' } }, { type: 'Note', data: { n: 2 } }]);
    await until(() => syncA.status.pending === 2 && syncB.status.pending === 3, 'pending counts');
    assert.deepEqual(await serverLog(token), []);

    await syncA.setOnline(true);
    await syncB.setOnline(true);
    const expected = 5;
    await until(async () => (await serverLog(token)).length === expected, 'the server to hold every event');
    await until(
      async () => syncA.status.pending === 0 && syncB.status.pending === 0 && (await localLog(a)).length === expected && (await localLog(b)).length === expected,
      'both replicas to converge',
    );
    const log = await serverLog(token);
    assert.deepEqual(await localLog(a), log);
    assert.deepEqual(await localLog(b), log);
    // 'Any' appends to one stream from both replicas were rebased into one dense stream.
    assert.deepEqual(log.filter((e) => e.stream === 'list-shared').map((e) => e.version), [1, 2, 3]);
    assert.equal(syncA.status.state, 'online');
    await a.close();
    await b.close();
  });

  test('a conflicting exact append is rejected, reported and kept in the conflicts list', async () => {
    const a = await open();
    const b = await open();
    const conflictsSeen = [];
    const syncA = await a.sync({ url: server.url, token: 'demo-token' });
    const syncB = await b.sync({ url: server.url, token: 'demo-token', online: false, onConflict: (c) => conflictsSeen.push(...c) });
    await a.appendToStream('todo-1', [{ type: 'TodoAdded', data: { title: 'bread' } }], { expectedVersion: NO_STREAM });
    await syncA.syncNow();
    await syncB.setOnline(true);
    await syncB.syncNow();
    assert.equal((await b.readStream('todo-1')).version, 1);

    // Both rename version 1 concurrently; B's rename, and B's later event in that stream, lose.
    await syncA.setOnline(false);
    await a.appendToStream('todo-1', [{ type: 'TodoRenamed', data: { title: 'rye bread' } }], { expectedVersion: 1 });
    await syncB.setOnline(false);
    await b.appendToStream('todo-1', [{ type: 'TodoRenamed', data: { title: 'white bread' } }], { expectedVersion: 1 });
    const later = await b.appendToStream('todo-1', [{ type: 'TodoCompleted', data: {} }], { expectedVersion: 2 });
    await syncA.setOnline(true);
    await syncA.syncNow();
    await syncB.setOnline(true);
    const report = await syncB.syncNow();

    // Going online started a round at once: that round met the conflict and reported it, and the next syncNow's
    // report includes it (the report counts from the round running at the call).
    assert.deepEqual(conflictsSeen.map((c) => c.code).sort(), ['FOLLOWS_REJECTED', 'WRONG_EXPECTED_VERSION']);
    assert.deepEqual(report.conflicts.map((c) => c.code).sort(), ['FOLLOWS_REJECTED', 'WRONG_EXPECTED_VERSION']);
    assert.equal(report.logReset, false);
    const conflicts = await syncB.conflicts();
    const rejected = conflicts.find((c) => c.code === 'WRONG_EXPECTED_VERSION');
    assert.equal(rejected.stream, 'todo-1');
    assert.equal(rejected.type, 'TodoRenamed');
    assert.deepEqual(rejected.data, { title: 'white bread' });
    assert.equal(rejected.expected, 1);
    assert.equal(rejected.actualVersion, 2);
    assert.ok(conflicts.some((c) => c.eventId === later.eventIds[0] && c.code === 'FOLLOWS_REJECTED'));
    assert.equal(syncB.status.conflicts, 2);
    // The losers left the stream: B holds the server's version.
    const { events } = await b.readStream('todo-1');
    assert.deepEqual(events.map((e) => e.data.title ?? null), ['bread', 'rye bread']);
    assert.deepEqual(await localLog(b), await serverLog('demo-token'));

    assert.equal(await syncB.dismissConflict(rejected.eventId), true);
    assert.equal(await syncB.dismissConflict(rejected.eventId), false);
    assert.equal((await syncB.conflicts()).length, 1);
    await a.close();
    await b.close();
  });

  test('syncNow right after sync() reports what the first round pushed', async () => {
    const store = await open();
    const appended = await store.appendToStream('first-1', [{ type: 'A', data: 1 }, { type: 'B', data: 2 }]);
    const sync = await store.sync({ url: server.url, token: 'demo-token' });
    const report = await sync.syncNow();
    assert.equal(report.pushed, 2, JSON.stringify(report));
    assert.equal(sync.status.pending, 0);
    assert.equal(sync.status.logResets, 0);
    assert.ok((await serverLog('demo-token')).some((e) => e.eventId === appended.eventIds[1]));
    await store.close();
  });

  test('live: another replica\'s push arrives without asking, and subscribers see it', async () => {
    const a = await open();
    const b = await open();
    const syncA = await a.sync({ url: server.url, token: 'other-token' });
    await until(() => syncA.status.state === 'online', 'the live connection');
    const seen = [];
    await a.subscribeToAll({ from: 'start', filter: { categories: ['live'] } }, (event) => void seen.push(event.data));
    const syncB = await b.sync({ url: server.url, token: 'other-token' });
    await b.appendToStream('live-1', [{ type: 'Ping', data: { n: 1 } }]);
    await until(() => seen.length === 1, 'the live event on replica A');
    assert.deepEqual(seen, [{ n: 1 }]);
    assert.equal(syncB.status.lastError, null);
    await a.close();
    await b.close();
  });

  test('reconnects with backoff after the server went away, then pushes what was appended meanwhile', async () => {
    const store = await open();
    const sync = await store.sync({ url: server.url, token: 'demo-token' });
    await until(() => sync.status.state === 'online', 'the live connection');
    const { port, dataDir } = server;
    await server.stop({ keepData: true });
    await until(() => sync.status.state === 'connecting', 'the lost connection to be noticed');
    const appended = await store.appendToStream('offline-1', [{ type: 'Written', data: { while: 'down' } }]);
    await until(() => sync.status.pending === 1, 'the pending event');
    server = await startServer({ port, dataDir, tokens: TOKENS });
    await until(() => sync.status.state === 'online' && sync.status.pending === 0, 'reconnection and push');
    assert.ok((await serverLog('demo-token')).some((e) => e.eventId === appended.eventIds[0]));
    await store.close();
  });

  test('a refused token is an error in the status and rejects syncNow, and nothing is lost', async () => {
    const store = await open();
    await store.appendToStream('kept-1', [{ type: 'Kept', data: null }]);
    const sync = await store.sync({ url: server.url, token: 'wrong-token', online: false });
    await sync.setOnline(true);
    await assert.rejects(sync.syncNow(), (error) => error instanceof UnauthorizedError && error.status === 401);
    await until(() => sync.status.lastError?.code === 'UNAUTHORIZED', 'the status to report it');
    assert.equal(sync.status.state, 'unauthorized');
    assert.equal(sync.status.lastError.retryable, false);
    assert.equal(sync.status.pending, 1);
    await sync.stop();
    await assert.rejects(sync.syncNow(), (error) => error instanceof SyncStoppedError && error.code === 'SYNC_STOPPED');
    assert.equal((await store.readAll()).events.length, 1);
    await store.close();
  });

  test('synced subscriptions: confirmed-only waits for the server; pending is optimistic and told of rebases', async () => {
    const a = await open();
    const b = await open();
    const syncA = await a.sync({ url: server.url, token: 'other-token', online: false });
    const syncB = await b.sync({ url: server.url, token: 'other-token', online: false });
    const confirmed = [];
    const optimistic = [];
    const rewinds = [];
    await syncB.subscribe({ filter: { categories: ['rebase'] } }, (event) => void confirmed.push(event));
    await syncB.subscribe(
      {
        mode: 'pending',
        filter: { categories: ['rebase'] },
        onRewound: (from) => {
          rewinds.push(from);
          // Everything delivered after `from` is void.
          optimistic.splice(0, optimistic.length, ...optimistic.filter((event) => event.position <= from));
        },
      },
      (event) => void optimistic.push(event),
    );
    await b.appendToStream('rebase-1', [{ type: 'FromB', data: null }]);
    await until(() => optimistic.length === 1, 'the optimistic event');
    assert.equal(confirmed.length, 0);

    // A got there first: B's event is rebased after A's when B syncs.
    await a.appendToStream('rebase-1', [{ type: 'FromA', data: null }]);
    await syncA.setOnline(true);
    await syncA.syncNow();
    await syncB.setOnline(true);
    await syncB.syncNow();
    await until(() => confirmed.length === 2 && optimistic.length === 2, 'both subscriptions to catch up');
    assert.deepEqual(confirmed.map((e) => [e.type, e.version]), [['FromA', 1], ['FromB', 2]]);
    assert.ok(rewinds.length >= 1);
    assert.deepEqual(optimistic.map((e) => [e.type, e.version]), [['FromA', 1], ['FromB', 2]]);
    const log = await b.readAll({ filter: { categories: ['rebase'] } });
    assert.deepEqual(optimistic.map((e) => e.eventId), log.events.map((e) => e.eventId));
    await a.close();
    await b.close();
  });

  test('a local batch larger than a push may carry is set aside as a conflict and does not block the rest', async () => {
    const store = await open();
    const seen = [];
    const sync = await store.sync({
      url: server.url,
      token: 'demo-token',
      online: false,
      limits: { maxEvents: 2 },
      onConflict: (conflicts) => seen.push(...conflicts),
    });
    const big = await store.appendToStream('big-1', [1, 2, 3].map((n) => ({ type: 'Part', data: { n } })));
    const after = await store.appendToStream('big-1', [{ type: 'After', data: null }]);
    const small = await store.appendToStream('small-1', [{ type: 'Fine', data: null }]);
    await sync.setOnline(true);
    await sync.syncNow();
    assert.deepEqual(
      seen.map((c) => [c.eventId, c.code]),
      [...big.eventIds.map((id) => [id, 'BATCH_TOO_LARGE']), [after.eventIds[0], 'FOLLOWS_REJECTED']],
    );
    assert.equal(sync.status.pending, 0);
    assert.ok((await serverLog('demo-token')).some((e) => e.eventId === small.eventIds[0]));
    assert.equal((await store.readStream('big-1')).version, 0);
    await store.close();
  });

  test('a server with lower limits than the client knows: smaller pushes, then the batch it refuses is set aside', async () => {
    const strict = await startServer({ tokens: TOKENS, args: ['--max-batch', '2'] });
    try {
      const store = await open();
      const seen = [];
      const sync = await store.sync({ url: strict.url, token: 'demo-token', online: false, onConflict: (c) => seen.push(...c) });
      const singles = [];
      for (const n of [1, 2, 3]) singles.push(await store.appendToStream(`one-${n}`, [{ type: 'One', data: { n } }]));
      const big = await store.appendToStream('three-1', [1, 2, 3].map((n) => ({ type: 'Part', data: { n } })));
      await sync.setOnline(true);
      await sync.syncNow();
      assert.deepEqual(seen.map((c) => c.code), ['BATCH_TOO_LARGE', 'BATCH_TOO_LARGE', 'BATCH_TOO_LARGE']);
      assert.deepEqual(seen.map((c) => c.eventId), big.eventIds);
      const stored = (await strict.pullAll('demo-token')).map((e) => e.event_id);
      assert.deepEqual(stored, singles.map((r) => r.eventIds[0]));
      assert.equal(sync.status.pending, 0);
      await store.close();
    } finally {
      await strict.stop();
    }
  });

  test('bad options are INVALID_ARGUMENT', async () => {
    const store = await open();
    const bad = [{ url: server.url }, { token: 't' }, { url: server.url, token: 't', batchSize: 0 }];
    bad.push({ url: server.url, token: 't', limits: { maxBytes: 0 } }, { url: server.url, token: 't', limits: { max: 1 } });
    for (const options of bad) {
      await assert.rejects(store.sync(options), (error) => error instanceof EventLiteError && error.code === 'INVALID_ARGUMENT');
    }
    const sync = await store.sync({ url: server.url, token: 'demo-token', online: false });
    for (const options of [{ mode: 'all' }, { name: 'x' }, { batchSize: 0 }, { onRewound: 1 }]) {
      await assert.rejects(sync.subscribe(options, () => {}), (error) => error.code === 'INVALID_ARGUMENT', JSON.stringify(options));
    }
    await store.close();
  });
});

describe('read models under sync (Node, real server)', { timeout: 60_000 }, () => {
  const todos = {
    name: 'todos',
    version: 1,
    setup: 'CREATE TABLE todos (id TEXT PRIMARY KEY, title TEXT NOT NULL, position INTEGER NOT NULL)',
    handlers: [{ type: 'TodoAdded', statements: ["INSERT INTO todos VALUES (:stream, :data ->> '$.title', :position)"] }],
  };

  test('a rebase rewrites the projection to the folded log, and the watch calls back with it', async () => {
    const a = await open();
    const b = await open();
    await a.registerProjection(todos);
    await b.registerProjection(todos);
    const syncA = await a.sync({ url: server.url, token: 'rebase-token', online: false });
    const syncB = await b.sync({ url: server.url, token: 'rebase-token' });
    const calls = [];
    await a.watch('SELECT id, title, position FROM todos ORDER BY position', (rows) => calls.push(rows));
    await until(() => calls.length === 1, 'the first rows');
    assert.deepEqual(calls[0], []);

    await a.appendToStream('todo-a', [{ type: 'TodoAdded', data: { title: 'milk' } }]);
    await until(() => calls.length === 2, 'the local append');
    assert.deepEqual(calls[1], [{ id: 'todo-a', title: 'milk', position: 1 }]);
    await b.appendToStream('todo-b', [{ type: 'TodoAdded', data: { title: 'eggs' } }]);
    await syncB.syncNow();

    // A pulls B's event, which the server ordered first: A's pending event moves after it, and the projection
    // is rewound and refolded in the pull's transaction.
    await syncA.setOnline(true);
    const report = await syncA.syncNow();
    assert.equal(report.rewoundFrom, 0);
    await until(() => calls.at(-1).length === 2, 'the rebased rows');
    // The rows are the folded log: B's event first, A's rebased after it (at a new position).
    const folded = (await a.readAll()).events.map((e) => ({ id: e.stream, title: e.data.title, position: e.position }));
    assert.deepEqual(folded.map((row) => row.id), ['todo-b', 'todo-a']);
    assert.deepEqual(calls.at(-1), folded);
    assert.deepEqual(await a.query('SELECT id, title, position FROM todos ORDER BY position'), folded);
    assert.ok(calls.length <= 4, `${calls.length} calls`);
    await a.close();
    await b.close();
  });

  test("a pulled event a projection's statement refuses: stored, the projection failed and reported, until a new version", async () => {
    const strict = {
      name: 'titles',
      version: 1,
      setup: 'CREATE TABLE titles (title TEXT NOT NULL CHECK (length(title) < 10))',
      handlers: [{ type: 'TodoAdded', statements: ["INSERT INTO titles VALUES (:data ->> '$.title')"] }],
    };
    const a = await open();
    const b = await open();
    await b.registerProjection(strict);
    // Locally the statement refuses the append ...
    await assert.rejects(
      b.appendToStream('todo-1', [{ type: 'TodoAdded', data: { title: 'a much too long title' } }]),
      (error) => error instanceof ProjectionFailedError && error.projection === 'titles' && error.index === 0,
    );
    // ... but another device (without that projection) pushes such an event, and B never refuses a pulled one.
    await a.appendToStream('todo-1', [{ type: 'TodoAdded', data: { title: 'a much too long title' } }]);
    const syncA = await a.sync({ url: server.url, token: 'failing-token' });
    await syncA.syncNow();

    const failures = [];
    const watchErrors = [];
    const calls = [];
    await b.watch('SELECT title FROM titles', (rows) => calls.push(rows), { onError: (error) => watchErrors.push(error) });
    await until(() => calls.length === 1, 'the first rows');
    const syncB = await b.sync({ url: server.url, token: 'failing-token', onProjectionFailed: (f) => failures.push(f) });
    await syncB.syncNow();
    assert.equal((await b.readStream('todo-1')).version, 1); // stored
    await until(() => failures.length === 1 && watchErrors.length === 1, 'the failure to be reported');
    assert.equal(failures[0].name, 'titles');
    assert.equal(failures[0].position, 1);
    assert.match(failures[0].message, /CHECK constraint failed/);
    assert.deepEqual(syncB.status.failedProjections.map((f) => f.name), ['titles']);
    assert.ok(watchErrors[0] instanceof ProjectionFailedError);
    const [status] = await b.projections();
    assert.equal(status.failure.position, 1);
    const error = await b.query('SELECT title FROM titles').catch((caught) => caught);
    assert.ok(error instanceof ProjectionFailedError, String(error));
    assert.equal(error.projection, 'titles');
    assert.equal(error.position, 1);

    // A new version folds the log again; queries and the watch answer again.
    await b.registerProjection({ ...strict, version: 2, setup: 'CREATE TABLE titles (title TEXT NOT NULL)' });
    await until(() => calls.length === 2, 'the rows of the new version');
    assert.deepEqual(calls[1], [{ title: 'a much too long title' }]);
    assert.deepEqual(await b.query('SELECT title FROM titles'), [{ title: 'a much too long title' }]);
    assert.equal(watchErrors.length, 1);
    await syncB.syncNow();
    assert.deepEqual(syncB.status.failedProjections, []);
    await a.close();
    await b.close();
  });
});
