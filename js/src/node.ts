/**
 * The Node entry point (`import { openEventStore } from 'eventlite'` under Node, Electron's main process, Bun and
 * Deno): the same API on the caller's thread. With `path`, a file-backed store (SQLite in WAL mode through the native
 * core: the Node-API addon of this platform, `storageMode: 'file'`); without, a memory store in wasm (`'memory'`).
 * There is no OPFS here: `storage: 'opfs'` fails with `STORAGE_UNAVAILABLE`, and so does `path` when no addon
 * matches this platform.
 */

import { readFileSync } from 'node:fs';

import { fileOpener, loadAddon } from './addon.js';
import { StorageUnavailableError } from './common/errors.js';
import type { EventType, OpenOptions } from './common/types.js';
import { connect, openRequest, type EventStore } from './page/store.js';
import { inProcessTransport } from './relay/inprocess.js';
import { checkStoreName, initSync, LiveFeed, SyncDriver, WasmStore } from './wasm/eventlite_wasm.js';
import { openMemory } from './worker/host.js';

export * from './index.js';

let loaded = false;

/** Opens the file store `options.path`, or a memory store named `options.name`. */
export async function openEventStore<E extends EventType = EventType>(options: OpenOptions): Promise<EventStore<E>> {
  const request = openRequest(options);
  if (request.storage === 'opfs') {
    throw new StorageUnavailableError('STORAGE_UNAVAILABLE', 'OPFS is only available in browsers');
  }
  if (request.path !== undefined) {
    const loaded = loadAddon();
    if ('reason' in loaded) {
      throw new StorageUnavailableError('STORAGE_UNAVAILABLE', `cannot open ${request.path}: ${loaded.reason}`);
    }
    return connect<E>(request, inProcessTransport(loaded.addon, fileOpener(loaded.addon)));
  }
  if (!loaded) {
    initSync({ module: readFileSync(new URL('./wasm/eventlite_wasm_bg.wasm', import.meta.url)) });
    loaded = true;
  }
  return connect<E>(request, inProcessTransport({ WasmStore, checkStoreName, SyncDriver, LiveFeed }, openMemory));
}
