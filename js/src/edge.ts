/**
 * The edge entry point (export conditions `workerd` and `edge-light`): Cloudflare Workers (workerd, `wrangler`) and
 * Vercel's Edge Functions. These runtimes have no `Worker` and refuse to compile WebAssembly from bytes at run time;
 * their bundlers compile a `.wasm` module import ahead of time instead. So this entry imports the wasm as a module
 * (`?module`, the suffix both wrangler and Vercel read as "a compiled `WebAssembly.Module`"), instantiates it
 * synchronously, and runs the host on the caller's thread, as the Node entry does: a memory store
 * (`storageMode: 'memory'`), gone when the isolate is.
 */

import wasmModule from './wasm/eventlite_wasm_bg.wasm?module';

import { StorageUnavailableError, toEventLiteError } from './common/errors.js';
import type { EventType, OpenOptions } from './common/types.js';
import { connect, openRequest, type EventStore } from './page/store.js';
import { inProcessTransport } from './relay/inprocess.js';
import { checkStoreName, initSync, LiveFeed, SyncDriver, WasmStore } from './wasm/eventlite_wasm.js';
import { openMemory } from './worker/host.js';

export * from './index.js';

let loaded = false;

/** Opens a memory store named `options.name` on the caller's thread. */
export async function openEventStore<E extends EventType = EventType>(options: OpenOptions): Promise<EventStore<E>> {
  const request = openRequest(options);
  if (request.path !== undefined) {
    throw toEventLiteError({ code: 'STORAGE_UNAVAILABLE', message: 'file stores (path) need Node, Electron, Bun or Deno' });
  }
  if (request.storage === 'opfs') {
    throw new StorageUnavailableError('STORAGE_UNAVAILABLE', 'OPFS is only available in browsers');
  }
  if (!loaded) {
    initSync({ module: wasmModule });
    loaded = true;
  }
  return connect<E>(request, inProcessTransport({ WasmStore, checkStoreName, SyncDriver, LiveFeed }, openMemory));
}
