// The demo page: opens the local store, registers the todos projection, starts syncing with the server that served
// the page, and renders the todo list (a watched query over the projection), the log itself, the sync counters and
// the conflicts list.
import { openEventStore } from 'eventlite';

import { addTodo, completeTodo, renameTodo, TODOS_QUERY, todosProjection, toTodo } from './todos.js';

const params = new URLSearchParams(location.search);
const settings = {
  token: params.get('token') ?? 'demo-token',
  store: params.get('store') ?? 'todos',
  server: params.get('server') ?? location.origin,
  online: params.get('offline') !== '1',
};

const $ = (id) => document.querySelector(`[data-testid="${id}"]`);
// `editing`: the todo being renamed and the draft title, kept across re-renders (which happen on every sync notice).
const view = { log: [], todos: [], conflicts: [], status: null, editing: null };

function showError(error) {
  $('error').hidden = !error;
  $('error').textContent = error ? `${error.code ?? 'ERROR'}: ${error.message}` : '';
}

function el(tag, props = {}, ...children) {
  const node = Object.assign(document.createElement(tag), props);
  for (const child of children) node.append(child);
  return node;
}

const store = await openEventStore({ name: settings.store });
$('storage-mode').textContent = store.storageMode;
// At every start: a no-op once registered (a new version would rebuild the table from the log).
await store.registerProjection(todosProjection);

const sync = await store.sync({
  url: settings.server,
  token: settings.token,
  online: settings.online,
  onProjectionFailed: (failure) => showError({ code: 'PROJECTION_FAILED', message: `${failure.name}: ${failure.message}` }),
});
view.status = sync.status;
window.demo = { store, sync, settings };

// The list: called back with fresh rows after every commit that changed the todos table (this tab's, another
// tab's, a pull, a rebase), and only then.
await store.watch(
  TODOS_QUERY,
  (rows) => {
    view.todos = rows.map(toTodo);
    render();
  },
  { onError: showError },
);

// The log and the conflicts: re-read after every change sync reports; coalesced so a burst of notices costs one
// read.
let refreshing = null;
let again = false;
function refresh() {
  if (refreshing) {
    again = true;
    return refreshing;
  }
  refreshing = (async () => {
    do {
      again = false;
      const events = [];
      for (let after = 0; ; ) {
        const page = await store.readAll({ after, maxCount: 1000 });
        events.push(...page.events);
        if (page.events.length < 1000) break;
        after = page.events.at(-1).position;
      }
      view.log = events;
      view.conflicts = await sync.conflicts();
      view.status = sync.status;
      render();
    } while (again);
  })()
    .catch(showError)
    .finally(() => {
      refreshing = null;
    });
  return refreshing;
}

sync.on('status', () => void refresh());
sync.on('conflict', () => void refresh());
sync.on('synced', () => void refresh());

async function act(action) {
  try {
    showError(null);
    await action();
  } catch (error) {
    showError(error);
  }
  await refresh();
}

function render() {
  const status = view.status;
  const confirmedThrough = status?.confirmedThrough ?? 0;
  $('sync-state').textContent = status.state + (status.syncing ? ' (syncing)' : '');
  $('sync-state').dataset.state = status.state;
  $('toggle-online').textContent = status.state === 'offline' ? 'Go online' : 'Go offline';
  $('toggle-online').disabled = false;
  $('pending').textContent = String(status.pending);
  $('confirmed').textContent = String(view.log.filter((e) => e.position <= confirmedThrough).length);
  $('conflict-count').textContent = String(view.conflicts.length);
  $('replica').textContent = status.replicaId.slice(0, 8);
  if (status.lastError && status.state !== 'offline') {
    $('error').hidden = false;
    $('error').textContent = `sync: ${status.lastError.code}: ${status.lastError.message}`;
  }

  const pendingStreams = new Set(view.log.filter((e) => e.position > confirmedThrough).map((e) => e.stream));
  $('todos').replaceChildren(
    ...view.todos.map((todo) => {
      const item = el('li', { className: todo.done ? 'done' : '' });
      item.dataset.stream = todo.stream;
      item.dataset.testid = 'todo';
      const editing = view.editing?.stream === todo.stream;
      const title = editing
        ? el('input', { value: view.editing.draft, oninput: (event) => (view.editing.draft = event.target.value) })
        : el('span', { className: 'title', textContent: todo.title });
      title.dataset.testid = editing ? 'rename-input' : 'todo-title';
      const complete = el('button', { type: 'button', textContent: 'Done', disabled: todo.done });
      complete.dataset.testid = 'complete';
      complete.onclick = () => act(() => completeTodo(store, todo));
      const rename = el('button', { type: 'button', textContent: editing ? 'Save' : 'Rename' });
      rename.dataset.testid = editing ? 'rename-save' : 'rename';
      rename.onclick = () => {
        if (!editing) {
          view.editing = { stream: todo.stream, draft: todo.title, version: todo.version };
          render();
          return;
        }
        const { draft, version } = view.editing;
        view.editing = null;
        // The expectation is the version this device showed when the user started typing: someone else's change
        // meanwhile (synced or not yet) makes this rename a conflict rather than silently overwriting it.
        const title = draft.trim();
        void act(() => (title && title !== todo.title ? renameTodo(store, { ...todo, version }, title) : undefined));
      };
      item.append(title);
      if (pendingStreams.has(todo.stream)) item.append(el('span', { className: 'pending-tag', textContent: 'pending' }));
      item.append(complete, rename);
      return item;
    }),
  );

  // Re-rendering replaced the rename input: give it the focus back, caret at the end.
  const input = document.querySelector('[data-testid="rename-input"]');
  if (input) {
    input.focus();
    input.setSelectionRange(input.value.length, input.value.length);
  }

  $('conflicts').replaceChildren(
    ...view.conflicts.map((conflict) => {
      const item = el(
        'li',
        {},
        el('b', { textContent: conflict.code }),
        el('span', { textContent: `${conflict.type} ${JSON.stringify(conflict.data)} on ${conflict.stream}` }),
        el('span', {
          className: 'muted',
          textContent: `expected ${conflict.expected}, server at ${conflict.actualVersion ?? '?'}`,
        }),
      );
      item.dataset.testid = 'conflict';
      item.dataset.eventId = conflict.eventId;
      const dismiss = el('button', { type: 'button', textContent: 'Dismiss' });
      dismiss.dataset.testid = 'dismiss';
      dismiss.onclick = () => act(() => sync.dismissConflict(conflict.eventId));
      item.append(dismiss);
      return item;
    }),
  );

  $('log').replaceChildren(
    ...view.log.map((event) => {
      const pending = event.position > confirmedThrough;
      const row = el(
        'tr',
        { className: pending ? 'pending' : '' },
        ...[event.position, event.stream, event.version, event.type, JSON.stringify(event.data)].map((text) =>
          el('td', { textContent: String(text) }),
        ),
        el('td', { textContent: pending ? 'pending' : 'confirmed' }),
      );
      row.dataset.testid = 'log-row';
      return row;
    }),
  );
}

$('add-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const input = $('new-title');
  const title = input.value.trim();
  input.value = '';
  if (title) void act(() => addTodo(store, title));
});
$('toggle-online').addEventListener('click', () =>
  act(() => sync.setOnline(sync.status.state === 'offline')),
);

await refresh();
document.body.dataset.ready = 'true';
