// Read models over the built package: registering projections, read-only queries with typed rows and parameters,
// watched queries (once per relevant commit, coalesced, never for other tables), and bad input with typed errors
// and nothing written. Runs over memory stores and, with EVENTLITE_TEST_STORAGE=file, over file stores (the addon).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { InvalidArgumentError, ProjectionFailedError } from 'eventlite';

import { contents, open, paths, rejectsWith, settle, storage, until } from './helpers.mjs';

const todos = {
  name: 'todos',
  version: 1,
  setup: `CREATE TABLE todos (id TEXT PRIMARY KEY, title TEXT NOT NULL CHECK (title <> ''), done INTEGER NOT NULL DEFAULT 0);
          CREATE TABLE todo_counts (k INTEGER PRIMARY KEY CHECK (k = 1), n INTEGER NOT NULL);
          INSERT INTO todo_counts VALUES (1, 0)`,
  handlers: [
    {
      type: 'TodoAdded',
      statements: [
        "INSERT INTO todos (id, title) VALUES (:stream, :data ->> '$.title')",
        'UPDATE todo_counts SET n = n + 1',
      ],
    },
    { type: 'TodoDone', statements: ['UPDATE todos SET done = 1 WHERE id = :stream'] },
  ],
};

const notes = {
  name: 'notes',
  version: 1,
  setup: 'CREATE TABLE notes (id TEXT PRIMARY KEY, body TEXT)',
  handlers: [{ category: 'note', statements: ["INSERT OR REPLACE INTO notes VALUES (:stream, :data ->> '$.body')"] }],
};

const add = (title) => [{ type: 'TodoAdded', data: { title } }];

/** A watch whose callback records every call. */
async function watched(store, sql, params) {
  const calls = [];
  const errors = [];
  const watch = await store.watch(sql, params, (rows) => calls.push(rows), { onError: (error) => errors.push(error) });
  await until(() => calls.length === 1, 'the first rows');
  return { watch, calls, errors };
}

describe('projections', () => {
  test('register folds the stored log; queries return rows as objects, with columns', async () => {
    const store = await open();
    await store.appendToStream('todo-1', add('milk'));
    await store.appendToStream('todo-2', add('bread'));
    await store.appendToStream('todo-1', [{ type: 'TodoDone', data: null }]);
    const status = await store.registerProjection(todos);
    assert.deepEqual(
      { ...status, tables: [...status.tables].sort() },
      { name: 'todos', version: 1, confirmedOnly: false, appliedThrough: 3, tables: ['todo_counts', 'todos'], failure: null },
    );
    assert.deepEqual(await store.query('SELECT id, title, done FROM todos ORDER BY id'), [
      { id: 'todo-1', title: 'milk', done: 1 },
      { id: 'todo-2', title: 'bread', done: 0 },
    ]);
    assert.deepEqual(await store.queryRows('SELECT n, n * 2 AS twice FROM todo_counts'), {
      columns: ['n', 'twice'],
      rows: [{ n: 2, twice: 4 }],
    });
    // New appends are folded in their own transaction: the query sees them as soon as the append resolved.
    await store.appendToStream('todo-3', add('eggs'));
    assert.deepEqual(await store.query('SELECT title FROM todos WHERE done = 0 ORDER BY title'), [
      { title: 'bread' },
      { title: 'eggs' },
    ]);
  });

  test('parameters: positional and named; integers, reals, booleans, bigints, text, blobs and NULL', async () => {
    const store = await open();
    await store.registerProjection(todos);
    await store.appendToStream('todo-1', add('milk'));
    assert.deepEqual(await store.query('SELECT id FROM todos WHERE title = ? AND done = ?', ['milk', false]), [
      { id: 'todo-1' },
    ]);
    assert.deepEqual(await store.query('SELECT id FROM todos WHERE title = :title', { title: 'milk' }), [{ id: 'todo-1' }]);
    assert.deepEqual(await store.query('SELECT id FROM todos WHERE title = :title', { ':title': 'bread' }), []);
    const [row] = await store.query(
      'SELECT ?1 AS i, ?2 AS r, ?3 AS t, ?4 AS b, ?5 AS big, ?6 AS n, ?7 AS yes FROM todos',
      [7, 1.5, 'x', new Uint8Array([1, 2, 255]), 9007199254740993n, null, true],
    );
    assert.deepEqual(row, { i: 7, r: 1.5, t: 'x', b: new Uint8Array([1, 2, 255]), big: 9007199254740993n, n: null, yes: 1 });
    // Integers within 2^53 are numbers, beyond it bigints.
    assert.deepEqual(await store.query('SELECT 9007199254740991 AS max, -9007199254740993 AS under FROM todos'), [
      { max: 9007199254740991, under: -9007199254740993n },
    ]);
  });

  test('registering the same version again changes nothing; a new version rebuilds; drop removes the tables', async () => {
    const store = await open();
    await store.appendToStream('todo-1', add('milk'));
    await store.registerProjection(todos);
    await store.registerProjection(JSON.stringify(todos)); // the portable JSON text works too
    assert.deepEqual((await store.projections()).map(({ name, version }) => [name, version]), [['todos', 1]]);
    const v2 = { ...todos, version: 2, handlers: [{ type: 'TodoAdded', statements: ["INSERT INTO todos (id, title) VALUES (:stream, upper(:data ->> '$.title'))"] }] };
    await store.registerProjection(v2);
    assert.deepEqual(await store.query('SELECT title FROM todos'), [{ title: 'MILK' }]);
    assert.equal(await store.dropProjection('todos'), true);
    assert.equal(await store.dropProjection('todos'), false);
    assert.deepEqual(await store.projections(), []);
    await rejectsWith(store.query('SELECT * FROM todos'), 'INVALID_ARGUMENT', InvalidArgumentError);
  });

  test('invalid projection SQL is INVALID_ARGUMENT with SQLite\'s message; nothing is written', async () => {
    const store = await open();
    await store.appendToStream('todo-1', add('milk'));
    const before = await contents(store);
    const broken = { ...todos, handlers: [{ type: 'TodoAdded', statements: ['INSERT INTO todos VALUES (:stream,, 1)'] }] };
    const error = await rejectsWith(store.registerProjection(broken), 'INVALID_ARGUMENT', InvalidArgumentError);
    assert.match(error.message, /near ",": syntax error/);
    assert.equal(error.argument, 'projection.handlers[0].statements[0]');
    await rejectsWith(store.registerProjection({ ...todos, setup: 'CREATE TABLE (' }), 'INVALID_ARGUMENT');
    // A statement may write only its own projection's tables.
    const writesEvents = { ...todos, handlers: [{ statements: ['DELETE FROM events'] }] };
    await rejectsWith(store.registerProjection(writesEvents), 'INVALID_ARGUMENT', InvalidArgumentError);
    await rejectsWith(store.registerProjection({ name: 'x' }), 'INVALID_ARGUMENT', InvalidArgumentError);
    await rejectsWith(store.registerProjection(42), 'INVALID_ARGUMENT', InvalidArgumentError);
    assert.deepEqual(await store.projections(), []);
    assert.deepEqual(await contents(store), before);
  });

  test('an append whose projection statement fails is PROJECTION_FAILED (projection, index); nothing is written', async () => {
    const store = await open();
    await store.registerProjection(todos);
    await store.appendToStream('todo-1', add('milk'));
    const before = await contents(store);
    // The second event breaks the CHECK (title <> ''): the whole batch is refused.
    const batch = [...add('bread'), { type: 'TodoAdded', data: { title: '' } }];
    const error = await rejectsWith(store.appendToStream('todo-2', batch), 'PROJECTION_FAILED', ProjectionFailedError);
    assert.equal(error.projection, 'todos');
    assert.equal(error.index, 1);
    assert.match(error.message, /CHECK constraint failed/);
    assert.deepEqual(await contents(store), before);
    assert.deepEqual(await store.query('SELECT id FROM todos'), [{ id: 'todo-1' }]);
    assert.deepEqual(await store.query('SELECT n FROM todo_counts'), [{ n: 1 }]);
  });

  test('a registration whose statement fails on a stored event is PROJECTION_FAILED with its position', async () => {
    const store = await open();
    await store.appendToStream('todo-1', add('milk'));
    await store.appendToStream('todo-2', [{ type: 'TodoAdded', data: { title: '' } }]);
    const error = await rejectsWith(store.registerProjection(todos), 'PROJECTION_FAILED', ProjectionFailedError);
    assert.equal(error.projection, 'todos');
    assert.equal(error.position, 2);
    assert.deepEqual(await store.projections(), []);
  });

  test('queries are read-only: writes, several statements and bad parameters are INVALID_ARGUMENT', async () => {
    const store = await open();
    await store.registerProjection(todos);
    await store.appendToStream('todo-1', add('milk'));
    const before = await contents(store);
    for (const sql of [
      "INSERT INTO todos (id, title) VALUES ('x', 'y')",
      'DELETE FROM todos',
      'UPDATE todo_counts SET n = 0',
      'DROP TABLE todos',
      'SELECT 1; DELETE FROM todos',
      'PRAGMA user_version = 3',
      'SELECT nonsense FROM',
    ]) {
      await rejectsWith(store.query(sql), 'INVALID_ARGUMENT', InvalidArgumentError);
    }
    await rejectsWith(store.query('SELECT * FROM todos WHERE id = ?'), 'INVALID_ARGUMENT');
    await rejectsWith(store.query('SELECT * FROM todos WHERE id = ?', [{ nested: 1 }]), 'INVALID_ARGUMENT');
    await rejectsWith(store.query('SELECT * FROM todos WHERE id = ?', [1n << 70n]), 'INVALID_ARGUMENT');
    await rejectsWith(store.query('SELECT 1', 'x'), 'INVALID_ARGUMENT');
    await rejectsWith(store.query(42), 'INVALID_ARGUMENT');
    await rejectsWith(store.watch('DELETE FROM todos', () => {}), 'INVALID_ARGUMENT', InvalidArgumentError);
    await rejectsWith(store.watch('SELECT 1', [], 'not a function'), 'INVALID_ARGUMENT');
    assert.deepEqual(await contents(store), before);
    assert.deepEqual(await store.query('SELECT count(*) AS n FROM todos'), [{ n: 1 }]);
  });
});

describe('watched queries', () => {
  test('the first call has the current rows, then one call per commit that changed what the query reads', async () => {
    const store = await open();
    await store.registerProjection(todos);
    await store.registerProjection(notes);
    await store.appendToStream('todo-1', add('milk'));
    const { watch, calls } = await watched(store, 'SELECT id, title FROM todos WHERE done = ? ORDER BY id', [0]);
    assert.deepEqual(calls[0], [{ id: 'todo-1', title: 'milk' }]);
    assert.deepEqual(watch.columns, ['id', 'title']);
    await store.appendToStream('todo-2', add('bread'));
    await until(() => calls.length === 2, 'the second rows');
    assert.deepEqual(calls[1], [
      { id: 'todo-1', title: 'milk' },
      { id: 'todo-2', title: 'bread' },
    ]);
    // Commits touching other tables (another projection's; events no projection handles) re-run nothing.
    await store.appendToStream('note-1', [{ type: 'Noted', data: { body: 'hi' } }]);
    await store.appendToStream('other-1', [{ type: 'Unrelated', data: null }]);
    await settle();
    assert.equal(calls.length, 2);
    await store.appendToStream('todo-1', [{ type: 'TodoDone', data: null }]);
    await until(() => calls.length === 3, 'the rows after TodoDone');
    assert.deepEqual(calls[2], [{ id: 'todo-2', title: 'bread' }]);
    assert.deepEqual(watch.rows, calls[2]);
    await watch.stop();
    assert.equal(watch.stopped, true);
    await store.appendToStream('todo-3', add('eggs'));
    await settle();
    assert.equal(calls.length, 3);
  });

  test('commits in quick succession coalesce; the last call has the final rows', async () => {
    const store = await open();
    await store.registerProjection(todos);
    const { calls } = await watched(store, 'SELECT n FROM todo_counts');
    await Promise.all(Array.from({ length: 20 }, (_, n) => store.appendToStream(`todo-${n}`, add(`t${n}`))));
    await until(() => calls.at(-1)[0].n === 20, 'the final count');
    await settle();
    assert.ok(calls.length <= 3, `${calls.length} calls for 20 appends in one burst`);
    assert.deepEqual(calls.at(-1), [{ n: 20 }]);
  });

  test('several watches: each fires only for its own tables', async () => {
    const store = await open();
    await store.registerProjection(todos);
    await store.registerProjection(notes);
    const onTodos = await watched(store, 'SELECT count(*) AS n FROM todos');
    const onNotes = await watched(store, 'SELECT body FROM notes ORDER BY id');
    const joined = await watched(store, 'SELECT (SELECT count(*) FROM todos) + (SELECT count(*) FROM notes) AS n');
    await store.appendToStream('note-1', [{ type: 'Noted', data: { body: 'a' } }]);
    await until(() => onNotes.calls.length === 2 && joined.calls.length === 2, 'the note');
    await store.appendToStream('todo-1', add('milk'));
    await until(() => onTodos.calls.length === 2 && joined.calls.length === 3, 'the todo');
    await settle();
    assert.deepEqual(
      [onTodos.calls.length, onNotes.calls.length, joined.calls.length],
      [2, 2, 3],
    );
    assert.deepEqual(joined.calls.at(-1), [{ n: 2 }]);
  });

  test('a new projection version reaches the watches of its tables', async () => {
    const store = await open();
    await store.registerProjection(todos);
    await store.appendToStream('todo-1', add('milk'));
    const { calls, errors } = await watched(store, 'SELECT title FROM todos');
    await store.registerProjection({ ...todos, version: 2, handlers: [{ type: 'TodoAdded', statements: ["INSERT INTO todos (id, title) VALUES (:stream, upper(:data ->> '$.title'))"] }] });
    await until(() => calls.length === 2, 'the rebuilt rows');
    assert.deepEqual(calls[1], [{ title: 'MILK' }]);
    assert.deepEqual(errors, []);
  });

  test('a callback that throws goes to onError; the watch keeps calling back', async () => {
    const store = await open();
    await store.registerProjection(todos);
    const errors = [];
    const calls = [];
    await store.watch(
      'SELECT n FROM todo_counts',
      (rows) => {
        calls.push(rows);
        if (calls.length === 1) throw new Error('first call fails');
      },
      { onError: (error) => errors.push(error) },
    );
    await until(() => calls.length === 1);
    await store.appendToStream('todo-1', add('milk'));
    await until(() => calls.length === 2);
    assert.deepEqual(calls[1], [{ n: 1 }]);
    assert.equal(errors.length, 1);
    assert.equal(errors[0].message, 'first call fails');
  });

  test('closing the store stops its watches', async () => {
    const store = await open();
    await store.registerProjection(todos);
    const { watch } = await watched(store, 'SELECT n FROM todo_counts');
    await store.close();
    assert.equal(watch.stopped, true);
    await watch.stop(); // harmless
  });

  test("rows carry SQLite's types: text as strings, integers as numbers (row types: test/types)", async () => {
    const store = await open();
    await store.registerProjection(todos);
    await store.appendToStream('todo-1', add('milk'));
    const rows = await store.query('SELECT id, done FROM todos');
    assert.equal(typeof rows[0].id, 'string');
    assert.equal(typeof rows[0].done, 'number');
  });

  if (storage === 'file') {
    test("another connection's appends to the file reach this store's watches (commit watcher)", async () => {
      const { openEventStore } = await import('eventlite');
      const store = await open();
      const path = paths.get(store);
      await store.registerProjection(todos);
      const { calls } = await watched(store, 'SELECT title FROM todos ORDER BY title');
      const other = await openEventStore({ path });
      // The other store runs the stored projection without registering it.
      await other.appendToStream('todo-1', add('from the other'));
      await until(() => calls.length === 2, "the other connection's todo");
      assert.deepEqual(calls[1], [{ title: 'from the other' }]);
      await other.close();
      await store.close();
    });
  }
});
