/**
 * The browser entry point: the store lives in a dedicated worker (`worker.js`, next to this file) that owns the
 * OPFS database; every call is a message to it and resolves with its answer, so `appendToStream` resolves after the
 * worker's commit. Bundlers (Vite, webpack, Rollup) pick the worker and the wasm file up from the
 * `new URL(..., import.meta.url)` references, with no configuration.
 */

import { toEventLiteError, type ErrorShape } from './common/errors.js';
import type { HostMessage } from './common/protocol.js';
import type { OpenOptions } from './common/types.js';
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
 * Opens the store `options.name`: in OPFS when the browser offers it (`storageMode: 'opfs'`), otherwise in memory
 * (`storageMode: 'memory'`) unless `storage: 'opfs'` demands persistence. Tabs of one origin share a store: the first
 * one's worker owns it and the others forward to it (see `relay/tabs.ts`); a memory store is private to its tab.
 */
export async function openEventStore(options: OpenOptions): Promise<EventStore> {
  const request = openRequest(options);
  if (request.storage === 'memory' || !canShare()) return connect(request, workerTransport());
  let transport: Transport;
  try {
    transport = await SharedTransport.start(request, startWorker);
  } catch (error) {
    throw toEventLiteError(error as ErrorShape);
  }
  return connect(request, transport);
}
