/**
 * The dedicated worker that owns a store (the entry point `browser.js` starts; the host itself is in `worker/`). It
 * holds a Web Lock named after the store while the store is open, so a reloading page's new worker waits for the old
 * one instead of failing on OPFS handles.
 */

import { toErrorShape } from './common/errors.js';
import type { HostMessage, Request } from './common/protocol.js';
import init, { checkStoreName, LiveFeed, SyncDriver, WasmStore } from './wasm/eventlite_wasm.js';
import { Host, openMemory, type Opener } from './worker/host.js';

/** The dedicated worker's global scope (the package is typed against the DOM library, not the worker one). */
interface WorkerScope {
  onmessage: ((event: MessageEvent<Request>) => void) | null;
  postMessage(message: HostMessage): void;
  close(): void;
}
const scope: WorkerScope = globalThis as typeof globalThis & WorkerScope;

function opfsAvailable(): boolean {
  return (
    typeof navigator !== 'undefined' &&
    typeof navigator.storage?.getDirectory === 'function' &&
    typeof FileSystemFileHandle !== 'undefined' &&
    'createSyncAccessHandle' in FileSystemFileHandle.prototype
  );
}

/** Waits up to `timeoutMs` for the store's lock; resolves with its release function. */
function acquireLock(name: string, timeoutMs: number): Promise<() => void> {
  if (typeof navigator === 'undefined' || !navigator.locks) return Promise.resolve(() => {});
  return new Promise((resolve, reject) => {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), timeoutMs);
    navigator.locks
      .request(`eventlite:${name}`, { signal: controller.signal }, () => {
        clearTimeout(timer);
        return new Promise<void>((release) => resolve(() => release()));
      })
      .catch(() => {
        clearTimeout(timer);
        reject({
          name: 'EventLiteError',
          code: 'STORAGE_BUSY',
          message: `the store ${JSON.stringify(name)} is open in another tab or worker`,
        });
      });
  });
}

const openInBrowser: Opener = async (wasm, request, changed) => {
  if (request.storage === 'memory') return openMemory(wasm, request, changed);
  if (!opfsAvailable()) {
    if (request.storage === 'opfs') {
      throw { name: 'EventLiteError', code: 'STORAGE_UNAVAILABLE', message: 'OPFS is not available here' };
    }
    return openMemory(wasm, request, changed);
  }
  const release = await acquireLock(request.name, request.openTimeoutMs);
  try {
    const options = { synchronous: request.synchronous, maxEventSize: request.maxEventSize };
    return await wasm.WasmStore.openOpfs(request.name, options);
  } catch (error) {
    release();
    const unsupported = (error as { opfsUnsupported?: boolean }).opfsUnsupported === true;
    if (unsupported && request.storage === 'auto') return openMemory(wasm, request, changed);
    throw error;
  }
};

const ready = init();
let queue: Promise<void> = Promise.resolve();
const host = new Host(
  { WasmStore, checkStoreName, SyncDriver, LiveFeed },
  openInBrowser,
  (message) => scope.postMessage(message),
  () => scope.close(),
);

scope.onmessage = (event) => {
  const request = event.data;
  queue = queue.then(async () => {
    try {
      await ready;
    } catch (error) {
      scope.postMessage({ id: request.id, ok: false, error: toErrorShape(error) });
      return;
    }
    await host.handle(request);
  });
};
