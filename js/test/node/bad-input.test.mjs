// Bad input from JS: wrong types, missing fields, non-serialisable data, out-of-range versions, unknown options.
// Each is an InvalidArgumentError naming the argument, and the stored data is unchanged.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { describe, test } from 'node:test';

import { InvalidArgumentError, openEventStore } from 'eventlite';

import { contents, events, open, rejectsWith, storage } from './helpers.mjs';

const cyclic = { a: 1 };
cyclic.self = cyclic;
const id = '0190b6a8-0000-7000-8000-0000000000ff';

async function seeded() {
  const store = await open();
  await store.appendToStream('a-1', events(2));
  await store.appendToStream('b-1', events(1));
  await store.saveSnapshot('a-1', 1, { n: 1 }, 'v1');
  await store.saveCheckpoint('projector', 1);
  return store;
}

/** Runs each case, expecting INVALID_ARGUMENT on `argument`, and checks that nothing changed. */
async function expectInvalid(store, cases) {
  const before = await contents(store);
  for (const [name, call, argument] of cases) {
    const error = await rejectsWith(call(), 'INVALID_ARGUMENT', InvalidArgumentError).catch((failure) => {
      throw new Error(`${name}: ${failure.message}`);
    });
    if (argument !== undefined) assert.equal(error.argument, argument, `${name}: ${error.message}`);
  }
  assert.deepEqual(await contents(store), before, 'the stored events are unchanged');
  assert.deepEqual((await store.loadSnapshot('a-1')).state, { n: 1 });
  assert.equal(await store.loadCheckpoint('projector'), 1);
}

describe('bad input', () => {
  test('appendToStream: wrong types and missing fields', async () => {
    const store = await seeded();
    const append = (...args) => () => store.appendToStream(...args);
    await expectInvalid(store, [
      ['stream number', append(42, events(1)), 'stream'],
      ['stream missing', append(undefined, events(1)), 'stream'],
      ['stream empty', append('', events(1)), 'stream'],
      ['stream reserved', append('$all', events(1)), 'stream'],
      ['stream control char', append('a\n1', events(1)), 'stream'],
      ['stream too long', append('s'.repeat(257), events(1)), 'stream'],
      ['events not an array', append('a-1', { type: 'A', data: 1 }), 'events'],
      ['events missing', append('a-1'), 'events'],
      ['event null', append('a-1', [null]), 'events[0]'],
      ['event string', append('a-1', ['A']), 'events[0]'],
      ['event array', append('a-1', [[1]]), 'events[0]'],
      ['type missing', append('a-1', [{ data: 1 }]), 'events[0].type'],
      ['type number', append('a-1', [{ type: 7, data: 1 }]), 'events[0].type'],
      ['type empty', append('a-1', [{ type: '', data: 1 }]), 'events[0].type'],
      ['type too long', append('a-1', [{ type: 't'.repeat(257), data: 1 }]), 'events[0].type'],
      ['data missing', append('a-1', [{ type: 'A' }]), 'events[0].data'],
      ['second event bad', append('a-1', [{ type: 'A', data: 1 }, { type: 'B' }]), 'events[1].data'],
      ['unknown field', append('a-1', [{ type: 'A', data: 1, stream: 'x' }]), 'events[0].stream'],
      ['eventId number', append('a-1', [{ type: 'A', data: 1, eventId: 5 }]), 'events[0].eventId'],
      ['eventId not a uuid', append('a-1', [{ type: 'A', data: 1, eventId: 'abc' }]), 'events[0].eventId'],
      ['eventId twice', append('a-1', [{ type: 'A', data: 1, eventId: id }, { type: 'B', data: 1, eventId: id }])],
      ['metadata array', append('a-1', [{ type: 'A', data: 1, metadata: [1] }]), 'events[0].metadata'],
      ['metadata string', append('a-1', [{ type: 'A', data: 1, metadata: 'x' }]), 'events[0].metadata'],
      ['bytes without type', append('a-1', [{ type: 'A', data: new Uint8Array([1]) }]), 'events[0].contentType'],
      ['bytes as json', append('a-1', [{ type: 'A', data: new Uint8Array([1]), contentType: 'application/json' }])],
      ['content type on json', append('a-1', [{ type: 'A', data: 1, contentType: 'text/plain' }]), 'events[0].contentType'],
      ['options not an object', append('a-1', events(1), 'any'), 'options'],
      ['unknown option', append('a-1', events(1), { expected: 'any' }), 'options.expected'],
    ]);
  });

  test('appendToStream: data that is not serialisable as JSON', async () => {
    const store = await seeded();
    const withData = (data) => () => store.appendToStream('a-1', [{ type: 'A', data }]);
    await expectInvalid(store, [
      ['function', withData(() => 1), 'events[0].data'],
      ['nested function', withData({ f() {} }), 'events[0].data'],
      ['symbol', withData({ s: Symbol('x') }), 'events[0].data'],
      ['bigint', withData({ n: 1n }), 'events[0].data'],
      ['NaN', withData({ n: NaN }), 'events[0].data'],
      ['Infinity', withData([Infinity]), 'events[0].data'],
      ['cycle', withData(cyclic), 'events[0].data'],
      ['Map', withData(new Map([[1, 2]])), 'events[0].data'],
      ['Set', withData({ s: new Set([1]) }), 'events[0].data'],
      ['nested bytes', withData({ b: new Uint8Array([1]) }), 'events[0].data'],
      ['throwing toJSON', withData({ toJSON() { throw new Error('no'); } }), 'events[0].data'],
      ['metadata bigint', () => store.appendToStream('a-1', [{ type: 'A', data: 1, metadata: { n: 2n } }]), 'events[0].metadata'],
    ]);
  });

  test('appendToStream: out-of-range and malformed expected versions', async () => {
    const store = await seeded();
    const expecting = (expectedVersion) => () => store.appendToStream('a-1', events(1), { expectedVersion });
    await expectInvalid(store, [
      ['negative', expecting(-1), 'expectedVersion'],
      ['fraction', expecting(1.5), 'expectedVersion'],
      ['NaN', expecting(NaN), 'expectedVersion'],
      ['Infinity', expecting(Infinity), 'expectedVersion'],
      ['2^53', expecting(2 ** 53), 'expectedVersion'],
      ['bigint 2^53', expecting(2n ** 53n), 'expectedVersion'],
      ['bigint 2^64', expecting(2n ** 64n), 'expectedVersion'],
      ['negative bigint', expecting(-1n), 'expectedVersion'],
      ['numeric string', expecting('2'), 'expectedVersion'],
      ['unknown constant', expecting('sometimes'), 'expectedVersion'],
      ['boolean', expecting(true), 'expectedVersion'],
      ['object', expecting({ version: 2 }), 'expectedVersion'],
    ]);
  });

  test('reads: wrong option types and ranges', async () => {
    const store = await seeded();
    const readStream = (options) => () => store.readStream('a-1', options);
    const readAll = (options) => () => store.readAll(options);
    await expectInvalid(store, [
      ['stream type', () => store.readStream(null), 'stream'],
      ['stream empty', () => store.readStream(''), 'stream'],
      ['options string', readStream('forwards'), 'options'],
      ['unknown option', readStream({ from: 1 }), 'options.from'],
      ['direction', readStream({ direction: 'sideways' }), 'options.direction'],
      ['maxCount zero', readStream({ maxCount: 0 }), 'options.maxCount'],
      ['maxCount string', readStream({ maxCount: '10' }), 'options.maxCount'],
      ['maxCount fraction', readStream({ maxCount: 2.5 }), 'options.maxCount'],
      ['fromVersion negative', readStream({ fromVersion: -3 }), 'options.fromVersion'],
      ['fromVersion huge', readStream({ fromVersion: 2n ** 60n }), 'options.fromVersion'],
      ['fromPosition huge', readAll({ fromPosition: 1e300 }), 'options.fromPosition'],
      ['filter number', readAll({ filter: 5 }), 'options.filter'],
      ['filter unknown key', readAll({ filter: { category: ['a'] } }), 'options.filter.category'],
      ['categories string', readAll({ filter: { categories: 'order' } }), 'options.filter.categories'],
      ['event type number', readAll({ filter: { eventTypes: [1] } }), 'options.filter.eventTypes[0]'],
      ['event type empty', readAll({ filter: { eventTypes: [''] } })],
      ['streamVersion type', () => store.streamVersion(3), 'stream'],
    ]);
  });

  test('cyclic and nested option values (in a child: a crash fails only this test): INVALID_ARGUMENT, the store still works', () => {
    // Once a crash of the file store (the addon's conversion recursed until the native stack overflowed) and a
    // memory store left unusable (a stack overflow in wasm marked the host broken).
    const script = `
      const { openEventStore } = await import(${JSON.stringify(import.meta.resolve('eventlite'))});
      const { mkdtempSync } = await import('node:fs');
      const { tmpdir } = await import('node:os');
      const { join } = await import('node:path');
      const path = join(mkdtempSync(join(tmpdir(), 'eventlite-cyclic-')), 'store.db');
      const store = await openEventStore(${JSON.stringify(storage)} === 'file' ? { path } : { name: 'cyclic' });
      const contents = async () => (await store.readAll()).events.map((e) => [e.stream, e.version, e.data]);
      await store.appendToStream('a-1', [{ type: 'E', data: 1 }]);
      const before = await contents();
      const cyclic = ['a'];
      cyclic.push(cyclic);
      const handler = () => {};
      const calls = {
        'readAll categories': () => store.readAll({ filter: { categories: cyclic } }),
        'readAll eventTypes': () => store.readAll({ filter: { eventTypes: cyclic } }),
        'readAll streamPrefix': () => store.readAll({ filter: { streamPrefix: cyclic } }),
        'readAll maxCount': () => store.readAll({ maxCount: cyclic }),
        'readStream direction': () => store.readStream('a-1', { direction: cyclic }),
        'subscribeToAll categories': () => store.subscribeToAll({ filter: { categories: cyclic } }, handler),
        'subscribeToAll from': () => store.subscribeToAll({ from: cyclic }, handler),
        'subscribeToStream filter': () => store.subscribeToStream('a-1', { filter: { eventTypes: cyclic } }, handler),
        'loadSnapshot schemaTag': () => store.loadSnapshot('a-1', { schemaTag: cyclic }),
        'saveCheckpoint name': () => store.saveCheckpoint(cyclic, 1),
        'query positional params': () => store.query('SELECT ?', [cyclic]),
        'query named params': () => store.query('SELECT :a', { a: { nested: cyclic } }),
        'watch params': () => store.watch('SELECT count(*) FROM t', [cyclic], handler),
      };
      const results = {};
      for (const [name, call] of Object.entries(calls)) {
        results[name] = await call().then(() => 'accepted', (error) => [error.code, error.argument]);
      }
      await store.appendToStream('a-1', [{ type: 'E', data: 2 }]);
      const seen = [];
      const subscription = await store.subscribeToAll({ from: 'start' }, (event) => seen.push(event.version));
      while (seen.length < 2) await new Promise((resolve) => setTimeout(resolve, 5));
      await subscription.unsubscribe();
      const after = await contents();
      await store.close();
      console.log(JSON.stringify({ results, before, after, seen }));
    `;
    const output = execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
    const { results, before, after, seen } = JSON.parse(output);
    const argument = {
      'readAll categories': 'options.filter.categories[1]',
      'readAll eventTypes': 'options.filter.eventTypes[1]',
      'readAll streamPrefix': 'options.filter.streamPrefix',
      'readAll maxCount': 'options.maxCount',
      'readStream direction': 'options.direction',
      'subscribeToAll categories': 'options.filter.categories[1]',
      'subscribeToAll from': 'options.from',
      'subscribeToStream filter': 'options.filter.eventTypes[1]',
      'loadSnapshot schemaTag': 'schemaTag',
      'saveCheckpoint name': 'name',
      'query positional params': 'params[0]',
      'query named params': 'params.a',
      'watch params': 'params[0]',
    };
    for (const [name, expected] of Object.entries(argument)) {
      assert.deepEqual(results[name], ['INVALID_ARGUMENT', expected], name);
    }
    assert.deepEqual(before, [['a-1', 1, 1]], 'the refused calls wrote nothing');
    assert.deepEqual(after, [['a-1', 1, 1], ['a-1', 2, 2]], 'the store still appends');
    assert.deepEqual(seen, [1, 2], 'and delivers');
  });

  test('snapshots, checkpoints and aggregateStream', async () => {
    const store = await seeded();
    await expectInvalid(store, [
      ['state function', () => store.saveSnapshot('a-1', 2, () => 1, 'v1'), 'state'],
      ['state undefined', () => store.saveSnapshot('a-1', 2, undefined, 'v1'), 'state'],
      ['state cycle', () => store.saveSnapshot('a-1', 2, cyclic, 'v1'), 'state'],
      ['version beyond the stream', () => store.saveSnapshot('a-1', 9, {}, 'v1'), 'version'],
      ['version zero', () => store.saveSnapshot('a-1', 0, {}, 'v1'), 'version'],
      ['version negative', () => store.saveSnapshot('a-1', -1, {}, 'v1'), 'version'],
      ['version string', () => store.saveSnapshot('a-1', '2', {}, 'v1'), 'version'],
      ['schema tag missing', () => store.saveSnapshot('a-1', 2, {}), 'schemaTag'],
      ['schema tag empty', () => store.saveSnapshot('a-1', 2, {}, '')],
      ['load options', () => store.loadSnapshot('a-1', 'v1'), 'options'],
      ['load tag type', () => store.loadSnapshot('a-1', { schemaTag: 3 }), 'schemaTag'],
      ['checkpoint position', () => store.saveCheckpoint('projector', -1), 'position'],
      ['checkpoint fraction', () => store.saveCheckpoint('projector', 0.5), 'position'],
      ['checkpoint name', () => store.saveCheckpoint(5, 1), 'name'],
      ['checkpoint name empty', () => store.saveCheckpoint('', 9)],
      ['load checkpoint name', () => store.loadCheckpoint(null), 'name'],
      ['aggregate evolve', () => store.aggregateStream('a-1', { initial: 0 }), 'options.evolve'],
      ['aggregate options', () => store.aggregateStream('a-1'), 'options.evolve'],
      ['aggregate tag', () => store.aggregateStream('a-1', { initial: 0, evolve: (s) => s, schemaTag: 1 }), 'options.schemaTag'],
      ['aggregate stream', () => store.aggregateStream(1, { initial: 0, evolve: (s) => s }), 'stream'],
    ]);
  });

  test('openEventStore: bad options', async () => {
    const cases = [
      [undefined, 'options'],
      ['app', 'options'],
      [{}, 'options.name'],
      [{ name: 5 }, 'options.name'],
      [{ name: '' }, 'name'],
      [{ name: '../escape' }, 'name'],
      [{ name: '.hidden' }, 'name'],
      [{ name: 'x'.repeat(65) }, 'name'],
      [{ name: 'app', storage: 'disk' }, 'options.storage'],
      [{ name: 'app', synchronous: 'always' }, 'options.synchronous'],
      [{ name: 'app', maxEventSize: 0 }, 'options.maxEventSize'],
      [{ name: 'app', maxEventSize: -5 }, 'options.maxEventSize'],
      [{ name: 'app', openTimeoutMs: 'soon' }, 'options.openTimeoutMs'],
      [{ name: 'app', cache: true }, 'options.cache'],
    ];
    for (const [options, argument] of cases) {
      const error = await rejectsWith(openEventStore(options), 'INVALID_ARGUMENT', InvalidArgumentError);
      assert.equal(error.argument, argument, JSON.stringify(options));
    }
  });
});
