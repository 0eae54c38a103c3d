// The demo's domain: a shared todo list, event-sourced. Each todo is a stream `todo-<id>`:
//   TodoAdded { title }        appended with NO_STREAM  (a new todo)
//   TodoRenamed { title }      appended with the exact version the user saw: renaming a todo someone else changed
//   TodoCompleted {}           meanwhile is a conflict (the server rejects it; it shows in the conflicts list)
// The list is a fold of the local log, so pending (local, unconfirmed) changes show at once.
import { NO_STREAM, uuidv7 } from 'eventlite';

export const CATEGORY = 'todo';

/** Folds events (in log order) into todos, by stream. */
export function fold(events) {
  const todos = new Map();
  for (const event of events) {
    if (!event.stream.startsWith(`${CATEGORY}-`)) continue;
    const todo = todos.get(event.stream) ?? { stream: event.stream, title: '', done: false, version: 0 };
    if (event.type === 'TodoAdded' || event.type === 'TodoRenamed') todo.title = String(event.data?.title ?? '');
    if (event.type === 'TodoCompleted') todo.done = true;
    todo.version = event.version;
    todos.set(event.stream, todo);
  }
  return [...todos.values()];
}

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
