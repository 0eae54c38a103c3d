/**
 * The browser entry point: the store lives in a dedicated worker (`worker.js`, next to this file) that owns the
 * OPFS database; every call is a message to it and resolves with its answer, so `appendToStream` resolves after the
 * worker's commit. Bundlers (Vite, webpack, Rollup) pick the worker and the wasm file up from the
 * `new URL(..., import.meta.url)` references, with no configuration.
 */

import { toEventLiteError, type ErrorShape } from './common/errors.js';
import type { HostMessage } from './common/protocol.js';
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

let warned = false;

/** Says once per page that a store fell back to memory, and why: a store that forgets on reload must not be silent. */
function warnMemory(name: string): void {
  if (warned) return;
  warned = true;
  const why =
    globalThis.isSecureContext === false
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
 * `relay/tabs.ts`); a memory store is private to its tab.
 */
export async function openEventStore<E extends EventType = EventType>(options: OpenOptions): Promise<EventStore<E>> {
  const request = openRequest(options);
  let store: EventStore<E>;
  if (request.storage === 'memory' || !canShare()) {
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
