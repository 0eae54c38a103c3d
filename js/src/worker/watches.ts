/**
 * The host's side of watched queries: after commits (this host's appends, registrations, sync rounds, and, for
 * file stores, other processes' commits) it polls every open watch once, however many commits came in the same
 * task. Core re-runs a watch's query only when a table it reads changed (`QueryWatch::poll`), so a poll for a
 * commit that touched other tables costs a comparison of counters and posts nothing. No user code runs here.
 */

import { toErrorShape } from '../common/errors.js';
import type { WatchNotice } from '../common/protocol.js';
import type { WasmStore } from '../wasm/eventlite_wasm.js';

/** Runs `task` in a later macrotask (after the messages already queued), as soon as the platform allows. */
const later: (task: () => void) => void =
  typeof setImmediate === 'function' ? (task) => void setImmediate(task) : (task) => void setTimeout(task, 0);

export class Watches {
  /** Open watches by the store's id, with the failure last posted (posted once until the query answers again). */
  readonly #open = new Map<number, { failed: string | undefined }>();
  #scheduled = false;

  constructor(
    private readonly store: () => WasmStore | undefined,
    private readonly post: (notice: WatchNotice) => void,
  ) {}

  /** Opens a watch in the store; its first rows are posted in a later task (after the caller learnt its id). */
  open(sql: unknown, params: unknown): number {
    const store = this.store();
    if (!store) throw { name: 'EventLiteError', code: 'STORE_CLOSED', message: 'the store is closed' };
    const id = store.watch(sql, params);
    this.#open.set(id, { failed: undefined });
    this.schedule();
    return id;
  }

  /** Closes a watch; unknown ids are ignored (closing twice is harmless). */
  close(id: number): void {
    if (this.#open.delete(id)) this.store()?.unwatch(id);
  }

  /** Forgets every watch (the store is closing and frees them). */
  closeAll(): void {
    this.#open.clear();
  }

  /** Something may have committed: poll every watch once, in a later task (commits until then coalesce). */
  schedule(): void {
    if (this.#scheduled || this.#open.size === 0) return;
    this.#scheduled = true;
    later(() => {
      this.#scheduled = false;
      this.#poll();
    });
  }

  #poll(): void {
    const store = this.store();
    if (!store) return;
    for (const [watch, state] of this.#open) {
      try {
        const rows = store.pollWatch(watch);
        if (rows === undefined) continue;
        state.failed = undefined;
        this.post({ kind: 'rows', watch, rows });
      } catch (error) {
        const shape = toErrorShape(error);
        // Core re-runs a failing query at every poll: tell the caller once, and again when it answers (or fails
        // otherwise).
        const key = `${shape.code}:${shape.message}`;
        if (state.failed === key) continue;
        state.failed = key;
        this.post({ kind: 'watchError', watch, error: shape });
      }
    }
  }
}
