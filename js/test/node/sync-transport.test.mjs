// The sync transport (js/src/worker/sync.ts, live.ts) in Node against a scripted `fetch`: it sends what core's
// SyncDriver asks for, waits core's backoff after a failure, halves pushes after a 413 as core says, and feeds the
// live stream's bytes to core's LiveFeed (frames split across chunks, a stream that ends, a refused token).
// No server process: scripts/test-www.sh runs the same client against a real one (test/sync.test.mjs).
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, test } from 'node:test';

import { open, rejectsWith, until } from './helpers.mjs';

/** `until` for an async predicate. */
async function eventually(predicate, what) {
  for (let i = 0; i < 2000; i++) {
    if (await predicate()) return;
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  assert.fail(`timed out waiting for ${what}`);
}

/** A scripted sync server: a log of accepted events, answers to push/pull, and live streams the test drives. */
class FakeServer {
  log = [];
  versions = new Map();
  requests = [];
  /** Answers to use before the real ones, by path prefix: `[status, body]`. */
  failures = [];
  maxBatch = Infinity;
  lives = [];
  liveStatus = 200;

  fetch = async (url, init = {}) => {
    const { pathname, searchParams } = new URL(url);
    const method = init.method ?? 'GET';
    this.requests.push(`${method} ${pathname}`);
    if (init.signal?.aborted) throw new DOMException('aborted', 'AbortError');
    if (pathname === '/v1/live') return this.#live(init.signal);
    const failure = this.failures.findIndex(([prefix]) => pathname.startsWith(prefix));
    if (failure !== -1) {
      const [, status, body] = this.failures.splice(failure, 1)[0];
      if (status === 0) throw new TypeError('fetch failed');
      return new Response(body, { status });
    }
    if (pathname === '/v1/push') return this.#push(JSON.parse(init.body));
    const after = Number(searchParams.get('after') ?? 0);
    const limit = Number(searchParams.get('limit'));
    const page = this.log.filter((event) => event.position > after).slice(0, limit);
    const cursor = String(page.at(-1)?.position ?? after);
    const more = this.log.some((event) => event.position > Number(cursor));
    return Response.json({ events: page, cursor, more });
  };

  #push({ events }) {
    if (events.length > this.maxBatch) {
      return Response.json({ code: 'BATCH_TOO_LARGE', message: 'too many events' }, { status: 413 });
    }
    const outcomes = events.map((event) => {
      const known = this.log.find((stored) => stored.event_id === event.event_id);
      if (known) return { status: 'accepted', event_id: known.event_id, position: known.position, version: known.version, duplicate: true };
      const version = (this.versions.get(event.stream) ?? 0) + 1;
      this.versions.set(event.stream, version);
      const stored = { position: this.log.length + 1, event_id: event.event_id, stream: event.stream, version, type: event.type, data: event.data, recorded_at: Date.now() };
      this.log.push(stored);
      return { status: 'accepted', event_id: stored.event_id, position: stored.position, version, duplicate: false };
    });
    this.head();
    return Response.json({ outcomes });
  }

  #live(signal) {
    if (this.liveStatus !== 200) {
      return new Response(JSON.stringify({ code: 'UNAUTHORIZED', message: 'bad token' }), { status: this.liveStatus });
    }
    let controller;
    const body = new ReadableStream({ start: (c) => void (controller = c) });
    const live = {
      send: (text) => controller.enqueue(new TextEncoder().encode(text)),
      end: () => controller.close(),
    };
    signal?.addEventListener('abort', () => controller.error(new DOMException('aborted', 'AbortError')));
    this.lives.push(live);
    // The first head arrives on connecting, split across chunks as a network may split it.
    live.send('event: he');
    live.send(`ad\r\ndata: {"position":${this.log.length}}\r\n`);
    live.send('\r\n');
    return new Response(body, { status: 200, headers: { 'content-type': 'text/event-stream' } });
  }

  /** Tells every open live stream that the head moved. */
  head() {
    for (const live of this.lives) {
      try {
        live.send(`: keep-alive\n\nevent: head\ndata: {"position":${this.log.length}}\n\n`);
      } catch {
        // A closed stream.
      }
    }
  }

  count(request) {
    return this.requests.filter((r) => r === request).length;
  }
}

describe('sync transport (scripted fetch)', { timeout: 30_000 }, () => {
  let server;
  let realFetch;
  beforeEach(() => {
    server = new FakeServer();
    realFetch = globalThis.fetch;
    globalThis.fetch = server.fetch;
  });
  afterEach(() => {
    globalThis.fetch = realFetch;
  });

  test('a failed round is reported, then retried after core\'s backoff until it succeeds', async () => {
    const store = await open();
    await store.appendToStream('a-1', [{ type: 'A', data: 1 }]);
    server.failures.push(['/v1/push', 503, '<html>unavailable</html>'], ['/v1/push', 0]);
    const errors = [];
    const onStatus = ({ lastError }) => lastError && errors.at(-1) !== lastError.code && errors.push(lastError.code);
    const sync = await store.sync({ url: 'http://sync.test', token: 't', onStatus });
    await until(() => sync.status.pending === 0 && sync.status.lastError === null, 'the retries to succeed');
    assert.deepEqual(errors, ['HTTP_503', 'NETWORK'], 'each failure was shown until the next round');
    assert.equal(server.count('POST /v1/push'), 3, 'two failures, then the push that went through');
    assert.equal(server.log.length, 1);
    assert.equal(sync.status.state, 'online');
    await store.close();
  });

  test('syncNow rejects with the failure of the round that covers it, and the next round succeeds', async () => {
    const store = await open();
    const sync = await store.sync({ url: 'http://sync.test', token: 't', online: false });
    await sync.setOnline(true);
    await until(() => sync.status.state === 'online' && !sync.status.syncing, 'the first round');
    await store.appendToStream('b-1', [{ type: 'B', data: null }]);
    await until(() => !sync.status.syncing && sync.status.pending === 0, 'the append to be pushed');
    server.failures.push(['/v1/pull', 500, '{"code":"INTERNAL","message":"boom"}']);
    const error = await rejectsWith(sync.syncNow(), 'INTERNAL');
    assert.equal(error.details.status, 500);
    // What sync did since sync() (no syncNow answered yet): the append pushed, and pulled back as confirmed.
    const report = await sync.syncNow();
    assert.deepEqual([report.pushed, report.pulled, report.conflicts], [1, 1, []]);
    const next = await sync.syncNow();
    assert.deepEqual([next.pushed, next.pulled, next.conflicts], [0, 0, []], 'the previous answer reported it');
    await store.close();
  });

  test('going offline rejects a syncNow still waiting for its round', async () => {
    const store = await open();
    const sync = await store.sync({ url: 'http://sync.test', token: 't', online: false });
    await sync.setOnline(true);
    await until(() => sync.status.state === 'online' && !sync.status.syncing, 'the first round');
    // A pull that never answers keeps the round running; a second syncNow is promised the round after it.
    let release;
    const hanging = new Promise((resolve) => (release = resolve));
    const fetch = globalThis.fetch;
    globalThis.fetch = async (url, init) =>
      new URL(url).pathname === '/v1/pull' ? (await hanging, fetch(url, init)) : fetch(url, init);
    try {
      const first = rejectsWith(sync.syncNow(), 'SYNC_STOPPED');
      await until(() => sync.status.syncing, 'the round to start');
      const second = rejectsWith(sync.syncNow(), 'SYNC_STOPPED');
      await sync.setOnline(false);
      await first;
      await second;
    } finally {
      globalThis.fetch = fetch;
      release();
    }
    await store.close();
  });

  test('a push refused with 413 is halved, and a batch the server never takes is set aside as core says', async () => {
    const store = await open();
    server.maxBatch = 2;
    const seen = [];
    const sync = await store.sync({ url: 'http://sync.test', token: 't', online: false, onConflict: (c) => seen.push(...c) });
    for (const n of [1, 2, 3]) await store.appendToStream(`one-${n}`, [{ type: 'One', data: { n } }]);
    const big = await store.appendToStream('three-1', [1, 2, 3].map((n) => ({ type: 'Part', data: { n } })));
    await sync.setOnline(true);
    const report = await sync.syncNow();
    assert.deepEqual(seen.map((c) => [c.eventId, c.code]), big.eventIds.map((id) => [id, 'BATCH_TOO_LARGE']));
    assert.equal(server.log.length, 3);
    assert.equal(sync.status.pending, 0);
    // 6 events refused; 2 single events; 4 refused; 1; the 3-event batch refused and set aside.
    assert.equal(server.count('POST /v1/push'), 5);
    // setOnline's round set the batch aside while syncNow waited for the next: the report counts from that round.
    assert.deepEqual(report.conflicts.map((c) => c.eventId), big.eventIds);
    assert.equal(report.pushed, 3);
    await store.close();
  });

  test('live: head events split across chunks start rounds; a stream that ends reconnects with backoff', async () => {
    const store = await open();
    const sync = await store.sync({ url: 'http://sync.test', token: 't' });
    await until(() => sync.status.state === 'online', 'the first head');
    await until(() => !sync.status.syncing, 'the first round');
    const pulls = server.count('GET /v1/pull');
    // Another device pushed: the server's head moved.
    server.log.push({ position: 1, event_id: '0190f5c2-0000-7000-8000-000000000001', stream: 'x-1', version: 1, type: 'X', data: { from: 'elsewhere' }, recorded_at: 1 });
    server.head();
    await until(() => server.count('GET /v1/pull') > pulls, 'a round after the head');
    await eventually(async () => (await store.readAll()).events.length === 1, 'the pulled event');
    server.lives.at(-1).end();
    await until(() => sync.status.state === 'connecting', 'the lost stream');
    assert.equal(sync.status.lastError?.code, 'NETWORK');
    await until(() => server.count('GET /v1/live') === 2 && sync.status.state === 'online', 'the reconnection');
    await store.close();
  });

  test('a refused live token is shown in the status, and reconnection waits the longest delay', async () => {
    const store = await open();
    server.liveStatus = 401;
    server.failures.push(['/v1/pull', 401, '{"code":"UNAUTHORIZED","message":"bad token"}']);
    const sync = await store.sync({ url: 'http://sync.test', token: 't' });
    await until(() => sync.status.lastError?.code === 'UNAUTHORIZED', 'the refusal');
    await new Promise((resolve) => setTimeout(resolve, 1000));
    assert.equal(server.count('GET /v1/live'), 1, 'no quick retry after a refused token');
    assert.equal(sync.status.state, 'unauthorized');
    assert.equal(sync.status.lastError.retryable, false);
    await sync.stop();
    await store.close();
  });
});
