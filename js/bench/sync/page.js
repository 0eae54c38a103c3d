// The first-sync benchmark page (run by run.mjs, served by the `eventlite serve` it syncs with, so same origin).
// `openStore` opens an empty store through the package; `syncToEnd` starts its sync and resolves when the store
// has confirmed every server event; `pullOnly` reads the same pages with fetch on this thread and applies nothing.
import { openEventStore } from '../../dist/browser.js';

/** Opens store `name` (empty) through the package on `storage` ('opfs' or 'memory'); the time in ms and the mode. */
async function openStore({ name, storage }) {
  const started = performance.now();
  window.benchStore = await openEventStore({ name, storage });
  return { ms: performance.now() - started, mode: window.benchStore.storageMode };
}

/** Syncs the open store with the server until it holds `total` confirmed events; the time in ms and the status. */
async function syncToEnd({ token, total, batchSize }) {
  const store = window.benchStore;
  let statuses = 0;
  let caughtUp;
  const done = new Promise((resolve, reject) => {
    caughtUp = (status) => {
      statuses++;
      if (status.confirmedThrough >= total) resolve(status);
      else if (status.state === 'unauthorized' || status.state === 'error') reject(new Error(JSON.stringify(status.lastError)));
    };
  });
  const started = performance.now();
  const sync = await store.sync({ url: location.origin, token, batchSize, onStatus: (status) => caughtUp(status) });
  caughtUp(sync.status);
  const status = await done;
  const finished = performance.now();
  // The last event is there, at the last position: the whole log arrived.
  const { events } = await store.readAll({ direction: 'backwards', maxCount: 1 });
  const last = events.at(-1) ?? null;
  await sync.stop();
  return {
    syncMs: finished - started,
    statuses,
    status: { state: status.state, pending: status.pending, confirmedThrough: status.confirmedThrough, conflicts: status.conflicts },
    last: last && { position: last.position, stream: last.stream, version: last.version },
  };
}

/** Closes the open store (and so ends its worker). */
async function closeStore() {
  await window.benchStore.close();
  window.benchStore = undefined;
}

/** The pull half alone: every page with `fetch` on the page's thread, body read as bytes, nothing applied. */
async function pullOnly({ token, limit }) {
  const started = performance.now();
  let after = '';
  let pages = 0;
  let bytes = 0;
  let parseMs = 0;
  for (;;) {
    const response = await fetch(`/v1/pull?limit=${limit}&after=${encodeURIComponent(after)}`, { headers: { authorization: `Bearer ${token}` } });
    if (response.status !== 200) throw new Error(`pull: ${response.status} ${await response.text()}`);
    const body = await response.arrayBuffer();
    bytes += body.byteLength;
    pages++;
    // Parsed only to follow the cursor; the parse is timed apart and left out of `ms`.
    const parsing = performance.now();
    const page = JSON.parse(new TextDecoder().decode(body));
    parseMs += performance.now() - parsing;
    after = page.cursor;
    if (!page.more) return { ms: performance.now() - started - parseMs, parseMs, pages, bytes };
  }
}

window.openStore = openStore;
window.syncToEnd = syncToEnd;
window.closeStore = closeStore;
window.pullOnly = pullOnly;
window.benchReady = true;
document.getElementById('out').textContent = 'ready';
