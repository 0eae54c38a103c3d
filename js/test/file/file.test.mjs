// File-backed stores through the Node-API addon, over the installed package (scripts/test-js-runtimes.sh installs
// the packed `eventlite` and its platform package into a fresh project, as a user would): durability across reopen
// and across SIGKILL, two processes on one file, a subscription seeing another process's appends, bad files.
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { EventLiteError, InvalidArgumentError, NO_STREAM, openEventStore, StorageBusyError } from 'eventlite';

const child = fileURLToPath(new URL('./child.mjs', import.meta.url));
const directory = mkdtempSync(join(tmpdir(), 'eventlite-file-'));
after(() => rmSync(directory, { recursive: true, force: true }));
let files = 0;
const newPath = () => join(directory, `store-${++files}.db`);

/** Runs child.mjs to its end; resolves with its JSON lines. */
async function runChild(...args) {
  const process_ = spawn(process.execPath, [child, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  let output = '';
  process_.stdout.on('data', (chunk) => (output += chunk));
  const [code] = await once(process_, 'exit');
  assert.equal(code, 0, `child ${args.join(' ')} failed:\n${output}`);
  return output.trim().split('\n').filter(Boolean).map((line) => JSON.parse(line));
}

/** Starts child.mjs: `lines` fills with its JSON lines as they arrive; `closed` resolves with [code, signal]. */
function startChild(...args) {
  const process_ = spawn(process.execPath, [child, ...args], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = [];
  let pending = '';
  process_.stdout.on('data', (chunk) => {
    const parts = (pending + chunk).split('\n');
    pending = parts.pop();
    for (const part of parts) if (part) lines.push(JSON.parse(part));
  });
  return { process: process_, lines, closed: once(process_, 'close') };
}

/** The paths this process has open under `prefix` (Linux: /proc/self/fd). */
function descriptorsUnder(prefix) {
  return readdirSync('/proc/self/fd')
    .map((fd) => {
      try {
        return readlinkSync(`/proc/self/fd/${fd}`);
      } catch {
        return ''; // closed meanwhile (the directory's own descriptor)
      }
    })
    .filter((target) => target.startsWith(prefix));
}

/** Holds `path`'s write lock (`BEGIN IMMEDIATE`) in another process (python3's sqlite3) for `ms`; resolves once it
 * is held, with `released`, a promise of the holder's end. */
async function holdWriteLock(path, ms) {
  const script = [
    'import sqlite3, sys, time',
    'db = sqlite3.connect(sys.argv[1], isolation_level=None)',
    "db.execute('BEGIN IMMEDIATE')",
    "print('locked', flush=True)",
    'time.sleep(float(sys.argv[2]))',
    "db.execute('ROLLBACK')",
  ].join('\n');
  const holder = spawn('python3', ['-c', script, path, String(ms / 1000)], { stdio: ['ignore', 'pipe', 'inherit'] });
  const released = once(holder, 'close');
  const [chunk] = await once(holder.stdout, 'data');
  assert.equal(String(chunk).trim(), 'locked');
  return { released };
}

/** Measures the longest gap between the ticks of a 10 ms interval until `stop()`: how long the loop was blocked. */
function loopWatch() {
  let last = performance.now();
  let longest = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    longest = Math.max(longest, now - last);
    last = now;
  }, 10);
  return {
    stop() {
      clearInterval(timer);
      return Math.max(longest, performance.now() - last);
    },
  };
}

async function until(predicate, what) {
  for (let i = 0; i < 5000; i++) {
    if (predicate()) return;
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
  assert.fail(`timed out waiting for ${what}`);
}

async function rejectsWith(promise, code, Class = EventLiteError) {
  const error = await promise.then(
    () => assert.fail(`expected ${code}, but the call succeeded`),
    (caught) => caught,
  );
  assert.ok(error instanceof Class, `${error} is not a ${Class.name}`);
  assert.equal(error.code, code, error.message);
  return error;
}

/** The dense-versions and increasing-positions invariants of a whole log. */
function assertInvariants(events) {
  const versions = new Map();
  let last = 0;
  for (const event of events) {
    assert.ok(event.position > last, `position ${event.position} after ${last}`);
    last = event.position;
    const expected = (versions.get(event.stream) ?? 0) + 1;
    assert.equal(event.version, expected, `${event.stream} version ${event.version}, expected ${expected}`);
    versions.set(event.stream, expected);
  }
}

describe('file stores (storageMode file)', () => {
  test('survive close and reopen: events, checkpoints, snapshots, positions', async () => {
    const path = newPath();
    const store = await openEventStore({ path });
    assert.equal(store.storageMode, 'file');
    assert.equal(store.name, path, 'a file store is named by its path');
    const first = await store.appendToStream('order-1', [{ type: 'Placed', data: { total: 42 } }], { expectedVersion: NO_STREAM });
    await store.appendToStream('order-1', [{ type: 'Paid', data: { amount: 42 } }], { expectedVersion: 1 });
    await store.saveCheckpoint('mailer', 1);
    await store.saveSnapshot('order-1', { version: 1, state: { total: 42 }, schemaTag: 'v1' });
    await store.close();

    const again = await openEventStore({ path, name: 'orders' });
    assert.equal(again.name, 'orders');
    const { events, version } = await again.readStream('order-1');
    assert.equal(version, 2);
    assert.deepEqual(events.map((e) => [e.type, e.data]), [['Placed', { total: 42 }], ['Paid', { amount: 42 }]]);
    assert.equal(events[0].eventId, first.eventIds[0]);
    assert.equal(await again.loadCheckpoint('mailer'), 1);
    assert.deepEqual((await again.loadSnapshot('order-1', { schemaTag: 'v1' })).state, { total: 42 });
    const next = await again.appendToStream('order-2', [{ type: 'Placed', data: {} }]);
    assert.deepEqual(next.positions, [3], 'positions continue after reopen');
    await again.close();
  });

  test("the README's desktop example: each launch finds the launches before it", async () => {
    const app = join(directory, 'desktop-app');
    mkdirSync(app);
    const launches = fileURLToPath(new URL('./launches.mjs', import.meta.url));
    for (const launch of [1, 2, 3]) {
      const output = execFileSync(process.execPath, [launches], { cwd: app, encoding: 'utf8' });
      assert.equal(output, `file\nlaunch ${launch}\n`);
    }
  });

  test('a memory store is still memory when the addon is there', async () => {
    const store = await openEventStore({ name: 'scratch' });
    assert.equal(store.storageMode, 'memory');
    await store.close();
  });

  test('what another process appended and acknowledged is there after it exited', async () => {
    const path = newPath();
    const acks = await runChild('append', path, 'from-1', '10');
    assert.equal(acks.length, 10);
    const store = await openEventStore({ path });
    const { events } = await store.readStream('from-1');
    assert.deepEqual(events.map((e) => e.eventId), acks.map((a) => a.ack));
    await store.close();
  });

  test('SIGKILL right after appendToStream resolved, 20 rounds: nothing acknowledged lost, no partial batch', async () => {
    const path = newPath();
    const acknowledged = new Map(); // event id -> position
    for (let round = 0; round < 20; round++) {
      const writer = spawn(process.execPath, [child, 'append-loop', path], { stdio: ['ignore', 'pipe', 'inherit'] });
      let output = '';
      let acks = 0;
      const target = 1 + Math.floor(Math.random() * 25);
      const enough = new Promise((resolve) => {
        writer.stdout.on('data', (chunk) => {
          output += chunk;
          acks = output.split('\n').length - 1;
          if (acks >= target) resolve();
        });
      });
      const exited = once(writer, 'exit');
      await Promise.race([enough, exited]);
      // Killed at once, or while its next append is in flight.
      if (round % 2 === 1) await new Promise((resolve) => setTimeout(resolve, Math.random() * 5));
      writer.kill('SIGKILL');
      const [, signal] = await exited;
      assert.equal(signal, 'SIGKILL', `round ${round}: the writer ended by itself:\n${output}`);
      for (const line of output.split('\n').filter(Boolean)) {
        const { ids, positions } = JSON.parse(line);
        ids.forEach((id, i) => acknowledged.set(id, positions[i]));
      }

      const store = await openEventStore({ path });
      const { events } = await store.readAll({ maxCount: 1_000_000 });
      await store.close();
      assertInvariants(events);
      const stored = new Map(events.map((e) => [e.eventId, e.position]));
      for (const [id, position] of acknowledged) {
        assert.equal(stored.get(id), position, `round ${round}: acknowledged event ${id} lost or moved`);
      }
      const parts = new Map();
      for (const e of events) parts.set(e.data.tag, (parts.get(e.data.tag) ?? 0) + 1);
      for (const [tag, count] of parts) assert.equal(count, 3, `round ${round}: batch ${tag} is partial`);
    }
    assert.ok(acknowledged.size >= 60, `only ${acknowledged.size} events were acknowledged in 20 rounds`);
  });

  test('two processes appending with exact expectations to one stream: nothing lost or duplicated, conflicts reported', async (t) => {
    const path = newPath();
    const N = 200;
    // Create the file first, so the two processes do not race to create its schema.
    await (await openEventStore({ path })).close();
    // Both open the store, then start together (a barrier on stdin), so that their appends overlap.
    const writers = [startChild('contend', path, 'counter-1', String(N)), startChild('contend', path, 'counter-1', String(N))];
    await until(() => writers.every((writer) => writer.lines.some((line) => line.ready)), 'both writers open');
    for (const writer of writers) writer.process.stdin.end('go\n');
    for (const [code, signal] of await Promise.all(writers.map((writer) => writer.closed))) {
      assert.deepEqual([code, signal], [0, null], 'a writer failed');
    }
    const [a, b] = writers.map((writer) => writer.lines.filter((line) => !line.ready));
    const acks = [...a, ...b].filter((line) => line.ack);
    const conflicts = [...a, ...b].filter((line) => line.conflict);
    assert.equal(acks.length, 2 * N);
    for (const ack of acks) assert.equal(ack.version, ack.expected + 1, 'an exact expectation appends right after it');
    for (const conflict of conflicts) {
      assert.equal(conflict.code, 'WRONG_EXPECTED_VERSION');
      assert.ok(conflict.actual > conflict.expected, `conflict ${JSON.stringify(conflict)}: someone else appended`);
    }
    const summaries = [a.at(-1), b.at(-1)];
    assert.deepEqual(summaries.map((s) => s.done && s.successes), [N, N]);
    assert.equal(summaries[0].conflicts + summaries[1].conflicts, conflicts.length, 'every conflict reported');
    t.diagnostic(`${conflicts.length} conflicts between the two writers`);
    assert.ok(conflicts.length > 0, 'the writers overlapped: at least one expectation failed');

    const store = await openEventStore({ path });
    const { events, version } = await store.readStream('counter-1', { maxCount: 10 * N });
    await store.close();
    assert.equal(version, 2 * N);
    assert.deepEqual(events.map((e) => e.version), Array.from({ length: 2 * N }, (_, i) => i + 1));
    assert.equal(new Set(events.map((e) => e.eventId)).size, 2 * N, 'no event stored twice');
    assert.deepEqual(new Set(events.map((e) => e.eventId)), new Set(acks.map((ack) => ack.ack)), 'exactly the acknowledged events');
    const versions = new Set(acks.map((ack) => ack.version));
    assert.equal(versions.size, 2 * N, 'no version acknowledged twice');
  });

  test('a process that only subscribes keeps running, and gets what another process appends', async () => {
    const path = newPath();
    await (await openEventStore({ path })).close();
    const subscriber = startChild('subscribe', path);
    try {
      await until(() => subscriber.lines.some((line) => line.subscribed), 'the subscription');
      await new Promise((resolve) => setTimeout(resolve, 300));
      assert.equal(subscriber.process.exitCode, null, 'the subscriber exited with its subscription open');
      const acks = await runChild('append', path, 'theirs-1', '3');
      await until(() => subscriber.lines.filter((line) => line.seen).length === 3, "the other process's events");
      assert.deepEqual(subscriber.lines.filter((line) => line.seen).map((line) => line.seen), acks.map((a) => a.ack));
    } finally {
      subscriber.process.kill();
      await subscriber.closed;
    }
  });

  test('close() resolves with the file closed: no descriptor left on it, the -wal file checkpointed away', async () => {
    const path = newPath();
    const store = await openEventStore({ path });
    const seen = [];
    await store.subscribeToAll({ from: 'start' }, (event) => seen.push(event.position));
    await store.subscribeToStream('a-1', () => {});
    await store.appendToStream('a-1', [{ type: 'E', data: 1 }]);
    await until(() => seen.length === 1, 'the subscription');
    assert.ok(descriptorsUnder(path).length > 0, 'the store has the file open');
    assert.ok(existsSync(`${path}-wal`), 'WAL mode');
    await store.close();
    assert.deepEqual(descriptorsUnder(path), [], 'a descriptor is still open after close()');
    assert.equal(existsSync(`${path}-wal`), false, 'the last close checkpoints and removes the -wal file');
  });

  test('another process holding the write lock: appends wait off the event loop, in order; past busyTimeoutMs STORAGE_BUSY, nothing written', async () => {
    const path = newPath();
    const store = await openEventStore({ path });
    await store.appendToStream('a-1', [{ type: 'E', data: 0 }]);

    let { released } = await holdWriteLock(path, 1500);
    const loop = loopWatch();
    const started = performance.now();
    const order = [];
    const append = store.appendToStream('a-1', [{ type: 'E', data: 1 }]).then((result) => {
      order.push('append');
      return result;
    });
    const version = store.streamVersion('a-1').then((v) => order.push(`version ${v}`));
    const result = await append;
    const waited = performance.now() - started;
    const blocked = loop.stop();
    await version;
    assert.equal(result.version, 2, 'the append committed once the lock was released');
    assert.ok(waited > 1000, `the append waited for the lock (${Math.round(waited)} ms)`);
    assert.ok(blocked < 200, `the event loop was blocked for ${Math.round(blocked)} ms`);
    assert.deepEqual(order, ['append', 'version 2'], 'a call behind a waiting one answers after it');
    await released;

    const impatient = await openEventStore({ path, busyTimeoutMs: 300 });
    ({ released } = await holdWriteLock(path, 1500));
    const refused = performance.now();
    await rejectsWith(impatient.appendToStream('a-1', [{ type: 'E', data: 2 }]), 'STORAGE_BUSY', StorageBusyError);
    const gaveUp = performance.now() - refused;
    assert.ok(gaveUp >= 250 && gaveUp < 1200, `gave up after ${Math.round(gaveUp)} ms, not about 300`);
    await released;
    assert.equal(await impatient.streamVersion('a-1'), 2, 'the refused append wrote nothing');
    assert.equal((await impatient.readAll()).events.length, 2);
    await impatient.close();
    await store.close();
  });

  test('the addon refuses a cyclic or too deeply nested value itself, without overflowing its stack', async () => {
    // Straight to the addon, below the package's own checks: in a child, so that a crash fails the test only.
    const addonModule = new URL('./addon.js', import.meta.resolve('eventlite')).href;
    const script = `
      const { loadAddon } = await import(${JSON.stringify(addonModule)});
      const { WasmStore } = loadAddon().addon;
      const store = WasmStore.openFile(process.argv[1], {});
      const cyclic = ['a'];
      cyclic.push(cyclic);
      let deep = [];
      for (let i = 0; i < 100000; i++) deep = [deep];
      const codes = [];
      for (const call of [
        () => store.readAll({ filter: { categories: cyclic } }),
        () => store.subscribeToAll({ filter: { eventTypes: cyclic } }),
        () => store.readStream('a-1', { maxCount: deep }),
      ]) {
        try {
          call();
          codes.push('accepted');
        } catch (error) {
          codes.push(error.code);
        }
      }
      store.appendToStream('a-1', JSON.stringify([{ type: 'E', data: 1 }]), undefined);
      codes.push(store.headPosition());
      store.close();
      console.log(JSON.stringify(codes));
    `;
    const output = execFileSync(process.execPath, ['--input-type=module', '-e', script, newPath()], { encoding: 'utf8' });
    assert.deepEqual(JSON.parse(output), ['INVALID_ARGUMENT', 'INVALID_ARGUMENT', 'INVALID_ARGUMENT', 1]);
  });

  test("a subscription sees another process's appends, in order, once", async () => {
    const path = newPath();
    const store = await openEventStore({ path });
    await store.appendToStream('mine-1', [{ type: 'Local', data: null }]);
    const seen = [];
    await store.subscribeToAll({ from: 'start' }, (event) => {
      seen.push(event);
    });
    await until(() => seen.length === 1, 'the local event');
    const acks = await runChild('append', path, 'theirs-1', '5');
    await until(() => seen.length === 6, "the other process's events");
    assert.deepEqual(seen.slice(1).map((e) => e.eventId), acks.map((a) => a.ack));
    assert.deepEqual(seen.map((e) => e.position), [1, 2, 3, 4, 5, 6]);
    const stream = [];
    await store.subscribeToStream('theirs-1', { from: 'end' }, (event) => stream.push(event.version));
    await runChild('append', path, 'theirs-1', '2');
    await until(() => stream.length === 2, 'the stream subscription');
    assert.deepEqual(stream, [6, 7]);
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(seen.length, 8, 'each event delivered once');
    await store.close();
  });

  test("a watched query sees another process's appends (the process runs the stored projection unregistered)", async () => {
    const path = newPath();
    const store = await openEventStore({ path });
    await store.registerProjection({
      name: 'counts',
      version: 1,
      setup: 'CREATE TABLE counts (stream TEXT PRIMARY KEY, n INTEGER NOT NULL)',
      handlers: [
        {
          type: 'FromChild',
          statements: ['INSERT INTO counts VALUES (:stream, 1) ON CONFLICT (stream) DO UPDATE SET n = n + 1'],
        },
      ],
    });
    const calls = [];
    await store.watch('SELECT stream, n FROM counts ORDER BY stream', (rows) => calls.push(rows));
    await until(() => calls.length === 1, 'the first rows');
    assert.deepEqual(calls[0], []);
    await runChild('append', path, 'theirs-1', '3');
    await until(() => calls.at(-1)?.[0]?.n === 3, "the other process's appends");
    assert.ok(calls.length <= 4, `${calls.length} calls for 3 appends`);
    await new Promise((resolve) => setTimeout(resolve, 300));
    const settled = calls.length;
    await store.appendToStream('mine-1', [{ type: 'Local', data: null }]); // touches no projection table
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(calls.length, settled, 'no call for a commit that changed no table the query reads');
    assert.deepEqual(calls.at(-1), [{ stream: 'theirs-1', n: 3 }]);
    await runChild('append', path, 'theirs-2', '1');
    await until(() => calls.length === settled + 1, 'one more call');
    assert.deepEqual(calls.at(-1), [{ stream: 'theirs-1', n: 3 }, { stream: 'theirs-2', n: 1 }]);
    await store.close();
  });

  test('bad paths and files: typed errors with codes, the file unchanged', async () => {
    await rejectsWith(openEventStore({ path: '' }), 'INVALID_ARGUMENT', InvalidArgumentError);
    await rejectsWith(openEventStore({ path: 42 }), 'INVALID_ARGUMENT', InvalidArgumentError);
    await rejectsWith(openEventStore({ path: newPath(), storage: 'memory' }), 'INVALID_ARGUMENT');
    await rejectsWith(openEventStore({ path: newPath(), synchronous: 'sometimes' }), 'INVALID_ARGUMENT');
    const named = await rejectsWith(openEventStore({ path: newPath(), name: '' }), 'INVALID_ARGUMENT');
    assert.equal(named.argument, 'options.name');
    for (const busyTimeoutMs of [-1, 1.5, '5000', 2 ** 60]) {
      const error = await rejectsWith(openEventStore({ path: newPath(), busyTimeoutMs }), 'INVALID_ARGUMENT');
      assert.equal(error.argument, 'options.busyTimeoutMs');
    }
    // Names SQLite would not open as that file: a NUL byte ends the C string; `:memory:` and `file:` URIs (any
    // case) open something else.
    for (const path of [`${newPath()}\0.db`, ':memory:', 'file:app.db', `FILE:${newPath()}`, 'file::memory:?cache=shared']) {
      const error = await rejectsWith(openEventStore({ path }), 'INVALID_ARGUMENT', InvalidArgumentError);
      assert.equal(error.argument, 'path', JSON.stringify(path));
    }
    assert.equal(existsSync('file:app.db'), false);
    const notADatabase = newPath();
    const bytes = 'this is a text file, not SQLite\n'.repeat(200);
    writeFileSync(notADatabase, bytes);
    await rejectsWith(openEventStore({ path: notADatabase }), 'NOT_A_DATABASE');
    assert.equal(readFileSync(notADatabase, 'utf8'), bytes, 'a file that is not a store is left as it was');
    const aDirectory = join(directory, 'a-directory');
    mkdirSync(aDirectory);
    const error = await openEventStore({ path: aDirectory }).then(
      () => assert.fail('opened a directory'),
      (caught) => caught,
    );
    assert.ok(error instanceof EventLiteError && /^STORAGE_/.test(error.code), `${error.code}: ${error.message}`);
  });
});
