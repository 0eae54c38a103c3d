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

/** A directory's entries, or none when it cannot be read. */
function entries(directory: string): string[] {
  try {
    return readdirSync(directory);
  } catch {
    return [];
  }
}

/**
 * Whether this Linux looks like a musl system: a musl loader (`/lib/ld-musl-<arch>.so.1`) and no glibc loader
 * (`ld-linux-*` in `/lib` or `/lib64`). Only a guess for the order to try the packages in (Debian and Ubuntu with
 * the `musl` package have both loaders and are glibc systems), never the only package tried; no process.report
 * (it takes hundreds of milliseconds).
 */
export function looksMusl(list: (directory: string) => string[] = entries): boolean {
  const lib = list('/lib');
  if (!lib.some((name) => name.startsWith('ld-musl-'))) return false;
  return ![...lib, ...list('/lib64')].some((name) => name.startsWith('ld-linux'));
}

/**
 * The platform packages to try for this process, in order, named as napi-rs names its targets. On Linux both libc
 * variants: the one this system looks like first (see {@link looksMusl}), then the other, so that a wrong guess
 * costs one failed `require`, not the addon.
 */
export function platformPackages(
  platform: string = process.platform,
  arch: string = process.arch,
  musl: () => boolean = looksMusl,
): string[] {
  if (platform === 'linux') {
    const libcs = musl() ? ['musl', 'gnu'] : ['gnu', 'musl'];
    return libcs.map((libc) => `@eventlite/node-linux-${arch}-${libc}`);
  }
  if (platform === 'win32') return [`@eventlite/node-win32-${arch}-msvc`];
  return [`@eventlite/node-${platform}-${arch}`];
}

/**
 * The first of `names` that `load` loads, or why none did: "is not installed" naming the first when none is
 * installed, else each one's load failure (a package for another libc fails to `dlopen`).
 */
export function loadFirst(
  names: readonly string[],
  load: (name: string) => unknown,
): { addon: Addon } | { reason: string } {
  const failures: string[] = [];
  for (const name of names) {
    try {
      return { addon: load(name) as Addon };
    } catch (error) {
      if ((error as { code?: string }).code !== 'MODULE_NOT_FOUND') failures.push(`${name} failed to load: ${error}`);
    }
  }
  if (failures.length > 0) return { reason: `the Node-API addon for this platform ${failures.join('; ')}` };
  const [first, ...others] = names;
  const nor = others.length > 0 ? ` (nor ${others.join(', ')})` : '';
  return { reason: `the Node-API addon for this platform (${first}) is not installed${nor}` };
}

let loaded: { addon: Addon } | { reason: string } | undefined;

/** The addon for this platform, or why there is none (loaded once). */
export function loadAddon(): { addon: Addon } | { reason: string } {
  // The platform package's `main` is its `.node` file; `require` is how Node (and Bun, Deno, Electron) load one.
  loaded ??= loadFirst(platformPackages(), createRequire(import.meta.url));
  return loaded;
}

/**
 * The native busy timeout of file stores: how long one call may block the thread waiting for another process's
 * write lock. The host retries a `STORAGE_BUSY` call asynchronously until the store's `busyTimeoutMs` (default
 * 5,000 ms) has passed, so the event loop (Electron's main process) never freezes for longer than this.
 */
export const NATIVE_BUSY_TIMEOUT_MS = 25;

/** Opens the file `request.path` with the addon; other processes' commits reach the host through `changed`. */
export function fileOpener(addon: Addon): Opener {
  return async (_wasm, request, changed) => {
    const native = Math.min(NATIVE_BUSY_TIMEOUT_MS, request.busyTimeoutMs ?? NATIVE_BUSY_TIMEOUT_MS);
    const options: StoreOptionsWire = { busyTimeoutMs: native };
    if (request.synchronous !== undefined) options.synchronous = request.synchronous;
    if (request.maxEventSize !== undefined) options.maxEventSize = request.maxEventSize;
    const store = addon.WasmStore.openFile(request.path ?? '', options);
    store.onCommit(changed);
    return store;
  };
}
