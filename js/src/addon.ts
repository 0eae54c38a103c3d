/**
 * The Node-API addon (`js/addon`, napi-rs): file-backed stores through the native core, for Node 20+, Electron's
 * main process, Bun and Deno. It ships as one npm package per platform (`@eventlite/node-linux-x64-gnu`, ...), each
 * an optional dependency of `eventlite`, as napi-rs projects are packaged: npm installs the one whose `os`, `cpu`
 * and `libc` match. Its classes have the wasm layer's surface, so the host runs unchanged over it.
 */

import { readdirSync } from 'node:fs';
import { createRequire } from 'node:module';

import type { StoreOptionsWire, WasmStore } from './wasm/eventlite_wasm.js';
import type { Opener, WasmModule } from './worker/host.js';

/** A store opened by the addon: the wasm store's surface, plus the commit callback (see `js/addon/src/store.rs`). */
export interface AddonStore extends WasmStore {
  /** Calls `callback` when the log may have changed (this process's commits or another's), while subscribed. */
  onCommit(callback: () => void): void;
}

/** The addon's exports. */
export interface Addon extends WasmModule {
  WasmStore: WasmModule['WasmStore'] & {
    openFile(path: string, options: StoreOptionsWire | undefined): AddonStore;
  };
}

/** Whether this Linux uses musl: its dynamic loader is `/lib/ld-musl-<arch>.so.1` (no process.report: it takes
 * hundreds of milliseconds). */
function isMusl(): boolean {
  try {
    return readdirSync('/lib').some((name) => name.startsWith('ld-musl-'));
  } catch {
    return false;
  }
}

/** The platform package for this process, named as napi-rs names its targets. */
export function platformPackage(): string {
  const { platform, arch } = process;
  if (platform === 'linux') return `@eventlite/node-linux-${arch}-${isMusl() ? 'musl' : 'gnu'}`;
  if (platform === 'win32') return `@eventlite/node-win32-${arch}-msvc`;
  return `@eventlite/node-${platform}-${arch}`;
}

let loaded: { addon: Addon } | { reason: string } | undefined;

/** The addon for this platform, or why there is none (loaded once). */
export function loadAddon(): { addon: Addon } | { reason: string } {
  if (loaded) return loaded;
  const name = platformPackage();
  try {
    // The platform package's `main` is its `.node` file; `require` is how Node (and Bun, Deno, Electron) load one.
    loaded = { addon: createRequire(import.meta.url)(name) as Addon };
  } catch (error) {
    const why = (error as { code?: string }).code === 'MODULE_NOT_FOUND' ? 'is not installed' : `failed to load: ${error}`;
    loaded = { reason: `the Node-API addon for this platform (${name}) ${why}` };
  }
  return loaded;
}

/** Opens the file `request.path` with the addon; other processes' commits reach the host through `changed`. */
export function fileOpener(addon: Addon): Opener {
  return async (_wasm, request, changed) => {
    const options: StoreOptionsWire = {};
    if (request.synchronous !== undefined) options.synchronous = request.synchronous;
    if (request.maxEventSize !== undefined) options.maxEventSize = request.maxEventSize;
    const store = addon.WasmStore.openFile(request.path ?? '', options);
    store.onCommit(changed);
    return store;
  };
}
