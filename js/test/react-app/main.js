// A React app built by Vite with no configuration over the packed package's `eventlite/react` entry. The Chromium
// test (test/browser/react.test.mjs) drives it through `window.app`: open a store, render components that call
// useQuery, count their renders, unmount.
import { createElement as h, StrictMode, useState } from 'react';
import { createRoot } from 'react-dom/client';
import * as eventlite from 'eventlite';
import { EventStoreProvider, useEventStore, useQuery } from 'eventlite/react';

/** Renders and the last state, per component name. */
const renders = {};
const seen = (name, state) => {
  renders[name] = { count: (renders[name]?.count ?? 0) + 1, state };
};

/** Context form: the provider's store; a fresh params array at every render (equal values keep the watch). */
function OpenTodos({ name }) {
  const state = useQuery('SELECT id, title FROM todos WHERE done = ? ORDER BY id', [0]);
  seen(name, state);
  useEventStore(); // throws without a provider
  return h(
    'ul',
    { id: name },
    (state.rows ?? []).map((todo) => h('li', { key: todo.id }, todo.title)),
  );
}

/** The form: useQuery(store, sql, params). */
function Count({ name, store }) {
  const state = useQuery(store, 'SELECT count(*) AS n FROM todos WHERE done = :done', { done: 0 });
  seen(name, state);
  return h('p', { id: name }, state.loading ? 'loading' : String(state.rows?.[0]?.n));
}

function Broken({ name }) {
  const state = useQuery('DELETE FROM todos');
  seen(name, state);
  return h('p', { id: name }, state.error ? `${state.error.code}` : 'no error');
}

/** Re-renders on demand (`app.bump()`) with the same query: the watch must stay the same. */
let bump = () => {};
function Shell({ store, children }) {
  const [, setTick] = useState(0);
  bump = () => setTick((n) => n + 1);
  return h(StrictMode, null, h(EventStoreProvider, { store }, children));
}

let root;
window.app = {
  eventlite,
  renders,
  /** Opens `name`, wraps store.watch to count watches opened and stopped, registers the todos projection. */
  async open(name) {
    const store = await eventlite.openEventStore({ name });
    const counts = { opened: 0, stopped: 0 };
    const watch = store.watch.bind(store);
    store.watch = async (...args) => {
      const opened = await watch(...args);
      counts.opened += 1;
      const stop = opened.stop.bind(opened);
      opened.stop = async () => {
        counts.stopped += 1;
        return stop();
      };
      return opened;
    };
    await store.registerProjection({
      name: 'todos',
      version: 1,
      setup: 'CREATE TABLE todos (id TEXT PRIMARY KEY, title TEXT NOT NULL, done INTEGER NOT NULL DEFAULT 0)',
      handlers: [
        { type: 'TodoAdded', statements: ["INSERT INTO todos (id, title) VALUES (:stream, :data ->> '$.title')"] },
        { type: 'TodoDone', statements: ['UPDATE todos SET done = 1 WHERE id = :stream'] },
      ],
    });
    this.store = store;
    this.counts = counts;
    return store.storageMode;
  },
  /** Renders the components named in `which` (OpenTodos, Count, Broken; a digit after the name: another one). */
  render(which) {
    const parts = { OpenTodos, Count, Broken };
    root ??= createRoot(document.getElementById('root'));
    const children = which.map((name) => h(parts[name.replace(/\d+$/, '')], { key: name, name, store: this.store }));
    root.render(h(Shell, { store: this.store }, ...children));
  },
  bump: () => bump(),
  unmount() {
    root?.unmount();
    root = undefined;
  },
  text: (id) => document.getElementById(id)?.textContent ?? null,
};
document.title = 'ready';
