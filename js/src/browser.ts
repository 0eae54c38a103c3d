/**
 * The browser entry point: the store lives in a dedicated worker (`worker.js`, next to this file) that owns the
 * OPFS database; every call is a message to it and resolves with its answer, so `appendToStream` resolves after the
 * worker's commit. Bundlers (Vite, webpack, Rollup) pick the worker and the wasm file up from the
 * `new URL(..., import.meta.url)` references, with no configuration.
 */

import { toEventLiteError, type ErrorShape } from './common/errors.js';
import type { HostMessage, OpenRequest } from './common/protocol.js';
import type { EventType, OpenOptions } from './common/types.js';
import type { Transport } from './page/client.js';
import { connect, openRequest, type EventStore } from './page/store.js';
import { canShare, SharedTransport } from './relay/tabs.js';

export * from './index.js';

function startWorker(): Worker {
  return new Worker(new URL('./worker.js', import.meta.url), { type: 'module', name: 'eventlite' });
}

function workerTransport(): Transport {
  const worker = startWorker();
  return {
    send(request) {
      worker.postMessage(request);
    },
    listen(onMessage, onFailure) {
      worker.onmessage = (event: MessageEvent<HostMessage>) => onMessage(event.data);
      worker.onerror = (event: ErrorEvent) => {
        event.preventDefault();
        onFailure({ code: 'INTERNAL', message: `the eventlite worker failed: ${event.message || 'could not load'}` });
      };
      worker.onmessageerror = () => onFailure({ code: 'INTERNAL', message: 'a worker message could not be read' });
    },
    terminate() {
      worker.terminate();
    },
  };
}

/**
 * Where there is no `Worker` (a service worker, an edge runtime whose bundler picked this entry): the host runs on
 * the caller's thread, as in Node, over a memory store. The wasm glue and the host are imported only here, so a page
 * with workers never loads them on its main thread.
 */
async function openHere<E extends EventType>(request: OpenRequest): Promise<EventStore<E>> {
  if (request.storage === 'opfs') {
    throw toEventLiteError({
      code: 'STORAGE_UNAVAILABLE',
      message: 'OPFS needs a dedicated worker, and this context cannot start one (no Worker)',
    });
  }
  const [wasm, { inProcessTransport }, { openMemory }] = await Promise.all([
    import('./wasm/eventlite_wasm.js'),
    import('./relay/inprocess.js'),
    import('./worker/host.js'),
  ]);
  await wasm.default(); // once: fetches the wasm next to the glue (`new URL(..., import.meta.url)`)
  const { WasmStore, checkStoreName, SyncDriver, LiveFeed } = wasm;
  return connect<E>(request, inProcessTransport({ WasmStore, checkStoreName, SyncDriver, LiveFeed }, openMemory));
}

let warned = false;

/** Says once per page that a store fell back to memory, and why: a store that forgets on reload must not be silent. */
function warnMemory(name: string): void {
  if (warned) return;
  warned = true;
  const why =
    typeof Worker === 'undefined'
      ? 'this context cannot start a dedicated worker (no Worker), which OPFS needs'
      : globalThis.isSecureContext === false
        ? 'this page is not a secure context (plain http on a host other than localhost)'
        : 'this browser offers no OPFS sync access handles';
  console.warn(
    `eventlite: the store ${JSON.stringify(name)} is in memory: its events are lost when the page closes or ` +
      `reloads. OPFS is not available because ${why}. Serve the page over https (or from localhost), or pass ` +
      "storage: 'opfs' to refuse to open without it.",
  );
}

/**
 * Opens the store `options.name`: in OPFS when the browser offers it (`storageMode: 'opfs'`), otherwise in memory
 * (`storageMode: 'memory'`, with a console warning) unless `storage: 'opfs'` or `'persistent'` demands persistence.
 * Tabs of one origin share a store: the first one's worker owns it and the others forward to it (see
 * `relay/tabs.ts`); a memory store is private to its tab. Where there is no `Worker`, a memory store on the caller's
 * thread.
 */
export async function openEventStore<E extends EventType = EventType>(options: OpenOptions): Promise<EventStore<E>> {
  const request = openRequest(options);
  if (request.path !== undefined) {
    throw toEventLiteError({ code: 'STORAGE_UNAVAILABLE', message: 'file stores (path) need Node, Electron, Bun or Deno' });
  }
  let store: EventStore<E>;
  if (typeof Worker === 'undefined') {
    store = await openHere<E>(request);
  } else if (request.storage === 'memory' || !canShare()) {
    store = await connect<E>(request, workerTransport());
  } else {
    let transport: Transport;
    try {
      transport = await SharedTransport.start(request, startWorker);
    } catch (error) {
      throw toEventLiteError(error as ErrorShape);
    }
    store = await connect<E>(request, transport);
  }
  if (options.storage === 'persistent' && !(await store.requestPersistence())) {
    await store.close();
    throw toEventLiteError({
      code: 'STORAGE_UNAVAILABLE',
      message: "the browser did not grant persistent storage (navigator.storage.persist()) to this origin",
    });
  }
  if (store.storageMode === 'memory' && request.storage === 'auto') warnMemory(request.name);
  return store;
}
