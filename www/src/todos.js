// The demo's domain: a shared todo list, event-sourced. Each todo is a stream `todo-<id>`:
//   TodoAdded { title }        appended with NO_STREAM  (a new todo)
//   TodoRenamed { title }      appended with the exact version the user saw: renaming a todo someone else changed
//   TodoCompleted {}           meanwhile is a conflict (the server rejects it; it shows in the conflicts list)
// The list is a read model: a projection the store keeps in the same transaction as the events (local appends,
// pulls, rebases), so pending (local, unconfirmed) changes show at once and a rebase or a rejected event rewrites
// it. The page watches one query over it.
import { NO_STREAM, uuidv7 } from 'eventlite';

export const CATEGORY = 'todo';

/**
 * The todos, by stream, in the order they first appeared in the log. Every todo event upserts its row (so a
 * stream whose TodoAdded is missing still shows) and records the stream's version, which renames and completions
 * are appended against; then the event's own handler applies it. Change `version` whenever the SQL changes.
 */
export const todosProjection = {
  name: 'todos',
  version: 1,
  setup: `CREATE TABLE todos (
            stream TEXT PRIMARY KEY,
            title TEXT NOT NULL DEFAULT '',
            done INTEGER NOT NULL DEFAULT 0,
            version INTEGER NOT NULL,
            first_position INTEGER NOT NULL
          )`,
  handlers: [
    {
      category: CATEGORY,
      statements: [
        `INSERT INTO todos (stream, version, first_position) VALUES (:stream, :version, :position)
         ON CONFLICT (stream) DO UPDATE SET version = excluded.version`,
      ],
    },
    { category: CATEGORY, type: 'TodoAdded', statements: ["UPDATE todos SET title = coalesce(:data ->> '$.title', '') WHERE stream = :stream"] },
    { category: CATEGORY, type: 'TodoRenamed', statements: ["UPDATE todos SET title = coalesce(:data ->> '$.title', '') WHERE stream = :stream"] },
    { category: CATEGORY, type: 'TodoCompleted', statements: ['UPDATE todos SET done = 1 WHERE stream = :stream'] },
  ],
};

/** What the list shows: the watched query. */
export const TODOS_QUERY = 'SELECT stream, title, done, version FROM todos ORDER BY first_position';

/** A row of {@link TODOS_QUERY} as the page uses it. */
export const toTodo = ({ stream, title, done, version }) => ({ stream, title, done: done === 1, version });

export function addTodo(store, title) {
  const stream = `${CATEGORY}-${uuidv7()}`;
  return store.appendToStream(stream, [{ type: 'TodoAdded', data: { title } }], { expectedVersion: NO_STREAM });
}

export function renameTodo(store, todo, title) {
  return store.appendToStream(todo.stream, [{ type: 'TodoRenamed', data: { title } }], {
    expectedVersion: todo.version,
  });
}

export function completeTodo(store, todo) {
  return store.appendToStream(todo.stream, [{ type: 'TodoCompleted', data: {} }], { expectedVersion: todo.version });
}
