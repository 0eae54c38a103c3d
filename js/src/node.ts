/**
 * The Node entry point (`import { openEventStore } from 'eventlite'` under Node): the same API over a memory store
 * on the caller's thread. Node has no OPFS: `storage: 'opfs'` fails with `STORAGE_UNAVAILABLE`, and `'auto'` opens a
 * memory store whose `storageMode` is `'memory'`.
 */

import { readFileSync } from 'node:fs';

import { StorageUnavailableError } from './common/errors.js';
import type { EventType, OpenOptions } from './common/types.js';
import { connect, openRequest, type EventStore } from './page/store.js';
import { inProcessTransport } from './relay/inprocess.js';
import { checkStoreName, initSync, LiveFeed, SyncDriver, WasmStore } from './wasm/eventlite_wasm.js';
import { openMemory } from './worker/host.js';

export * from './index.js';

let loaded = false;

/** Opens a memory store named `options.name`. */
export async function openEventStore<E extends EventType = EventType>(options: OpenOptions): Promise<EventStore<E>> {
  const request = openRequest(options);
  if (request.storage === 'opfs') {
    throw new StorageUnavailableError('STORAGE_UNAVAILABLE', 'OPFS is only available in browsers');
  }
  if (!loaded) {
    initSync({ module: readFileSync(new URL('./wasm/eventlite_wasm_bg.wasm', import.meta.url)) });
    loaded = true;
  }
  return connect<E>(request, inProcessTransport({ WasmStore, checkStoreName, SyncDriver, LiveFeed }, openMemory));
}
