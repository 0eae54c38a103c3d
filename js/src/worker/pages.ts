/**
 * The host's side of subscription delivery, written once for the store's subscriptions and the synced ones: each
 * cursor has at most one page in flight, and the next page is read only after the caller acknowledged the previous
 * one, so a slow subscriber holds one page and never blocks writers. No user code runs here.
 */

import { toErrorShape, type ErrorShape } from '../common/errors.js';

/** A subscription's cursor in the wasm store. */
export interface Cursor<P> {
  /** The next page, or `undefined` when caught up. Never blocks. */
  poll(): P | undefined;
  /** Releases the cursor. */
  close(): void;
}

export class Pages<P> {
  readonly #cursors = new Map<number, { cursor: Cursor<P>; inFlight: boolean }>();

  constructor(
    private readonly post: (id: number, page: P) => void,
    /** A cursor failed while polling; it has been closed. */
    private readonly fail: (id: number, error: ErrorShape) => void,
  ) {}

  /** Adds a cursor; nothing is delivered before its first {@link ack} (the caller must know the id first). */
  open(id: number, cursor: Cursor<P>): void {
    this.#cursors.set(id, { cursor, inFlight: true });
  }

  /** The caller handled the page in flight: the next may go. */
  ack(id: number): void {
    const entry = this.#cursors.get(id);
    if (entry) entry.inFlight = false;
  }

  /** Closes a cursor; unknown ids are ignored (closing twice is harmless). */
  close(id: number): void {
    this.#cursors.get(id)?.cursor.close();
    this.#cursors.delete(id);
  }

  closeAll(): void {
    for (const { cursor } of this.#cursors.values()) cursor.close();
    this.#cursors.clear();
  }

  /** Posts the next page of every cursor that has none in flight. */
  pump(): void {
    for (const [id, entry] of this.#cursors) {
      if (entry.inFlight) continue;
      try {
        const page = entry.cursor.poll();
        if (page === undefined) continue;
        entry.inFlight = true;
        this.post(id, page);
      } catch (error) {
        this.close(id);
        this.fail(id, toErrorShape(error));
      }
    }
  }
}
