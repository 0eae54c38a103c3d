/**
 * Watched queries on the caller's side: the host posts a watch's fresh rows after it opened and after each commit
 * that changed a table its query reads (coalesced); this side keeps the latest rows and runs the callback. After an
 * owner change (another tab's worker took the store over) every watch is opened again there, which answers with
 * the current rows.
 */

import { toEventLiteError } from '../common/errors.js';
import type { WatchNotice } from '../common/protocol.js';
import type { Row, SqlParams } from '../common/types.js';
import type { Client } from './client.js';

/** @internal A watch as the caller's side runs it. */
export interface WatchState<R = Row> {
  /** The host's id, which changes when another tab's worker takes the store over. */
  id: number;
  sql: string;
  params: SqlParams | undefined;
  callback: (rows: R[], columns: string[]) => void;
  onError: (error: unknown) => void;
  stopped: boolean;
  rows: R[] | undefined;
  columns: string[] | undefined;
}

/** A watched query (`store.watch`): calls back with fresh rows after each commit that changed what it reads. */
export class Watch<R = Row> {
  /** @internal */
  constructor(
    /** @internal */ readonly _state: WatchState<R>,
    private readonly stopper: (state: WatchState<R>) => Promise<void>,
  ) {}

  /** The latest rows (`undefined` until the first callback). */
  get rows(): R[] | undefined {
    return this._state.rows;
  }

  /** The latest result's column names, in order (`undefined` until the first callback). */
  get columns(): string[] | undefined {
    return this._state.columns;
  }

  /** Whether `stop` was called (or the store closed). */
  get stopped(): boolean {
    return this._state.stopped;
  }

  /** Stops the watch: the callback is not called again. Idempotent. */
  async stop(): Promise<void> {
    if (this._state.stopped) return;
    await this.stopper(this._state);
  }
}

/** @internal */
export const defaultOnWatchError = (error: unknown): void => {
  console.error('eventlite: a watched query failed', error);
};

/** @internal The open watches of one store, by the host's id. */
export class Watches {
  readonly #byId = new Map<number, WatchState<unknown>>();
  /** Notices for ids this side has not registered yet (the answer to `watch` and its rows may race). */
  readonly #early = new Map<number, WatchNotice>();

  constructor(private readonly client: Client) {
    client.onWatch = (notice) => this.#receive(notice);
  }

  async open<R>(
    sql: string,
    params: SqlParams | undefined,
    callback: (rows: R[], columns: string[]) => void,
    onError: (error: unknown) => void,
  ): Promise<Watch<R>> {
    const id = await this.client.call('watch', sql, params);
    const state: WatchState<R> = { id, sql, params, callback, onError, stopped: false, rows: undefined, columns: undefined };
    this.#add(state as WatchState<unknown>);
    return new Watch<R>(state, (watch) => this.stop(watch as WatchState<unknown>));
  }

  async stop(state: WatchState<unknown>): Promise<void> {
    state.stopped = true;
    if (this.#byId.get(state.id) === state) this.#byId.delete(state.id);
    await this.client.call('unwatch', state.id);
    this.#early.delete(state.id);
  }

  /** The store closed: stop every watch on this side (the host frees them with the store). */
  closeAll(): void {
    for (const state of this.#byId.values()) state.stopped = true;
    this.#byId.clear();
    this.#early.clear();
  }

  /** The host changed: open every watch again in the new one (its ids restart). */
  async reopenAll(): Promise<void> {
    const states = [...this.#byId.values()];
    this.#byId.clear();
    this.#early.clear();
    for (const state of states) {
      try {
        const id = await this.client.call('watch', state.sql, state.params);
        if (state.stopped) {
          await this.client.call('unwatch', id);
          continue;
        }
        state.id = id;
        this.#add(state);
      } catch (error) {
        report(state, error);
      }
    }
  }

  #add(state: WatchState<unknown>): void {
    this.#byId.set(state.id, state);
    const early = this.#early.get(state.id);
    if (early) {
      this.#early.delete(state.id);
      this.#receive(early);
    }
  }

  #receive(notice: WatchNotice): void {
    const state = this.#byId.get(notice.watch);
    if (!state) {
      this.#early.set(notice.watch, notice);
      return;
    }
    if (state.stopped) return;
    if (notice.kind === 'watchError') {
      report(state, toEventLiteError(notice.error));
      return;
    }
    state.rows = notice.rows.rows;
    state.columns = notice.rows.columns;
    try {
      state.callback(state.rows, state.columns);
    } catch (error) {
      report(state, error);
    }
  }
}

function report(state: WatchState<unknown>, error: unknown): void {
  try {
    state.onError(error);
  } catch {
    // An onError that throws must not stop the other watches.
  }
}
