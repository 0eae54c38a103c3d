/**
 * Subscription pages on the caller's side, written once for the store's subscriptions (`store.ts`) and the synced
 * ones (`sync.ts`): run the handler over a page, one event at a time, report what throws to `onError`, track the
 * position, then acknowledge the page so the host sends the next. After an owner change (another tab's worker took
 * the store over), every subscription is opened again after the last event its handler finished.
 */

import { toEventLiteError, type ErrorShape } from '../common/errors.js';
import { decodeEvents } from '../common/encode.js';
import type { RecordedEvent } from '../common/types.js';

/** A subscription as the caller's side runs it. */
export interface Subscriber {
  /** The host's id, which changes when another tab's worker takes the store over. */
  id: number;
  closed: boolean;
  /** The position of the last event the handler finished (or of the last rewind). */
  position: number;
  handler: (event: RecordedEvent) => void | Promise<void>;
  onError: (error: unknown, event: RecordedEvent | undefined) => void;
  /** The page being handled, awaited before the subscription is opened again after a takeover. */
  delivering?: Promise<void>;
  /** Set while it is being opened again: the page in flight stops at the next event. */
  reopening?: boolean;
}

/** A page from the host: events (JSON text), after a rewind for synced subscriptions. */
export interface Page {
  events: string;
  rewoundFrom?: number | null;
}

/** What differs between the kinds of subscriptions. */
export interface Hooks<S extends Subscriber> {
  /** Before the page's events: a synced subscription's rewind. */
  beforePage?(subscriber: S, page: Page): Promise<void>;
  /** After the handler finished an event. */
  advance(subscriber: S, event: RecordedEvent): void;
  /** After a whole page, before it is acknowledged: a named subscription's checkpoint. */
  afterPage?(subscriber: S): Promise<void>;
  /** Acknowledges the host's subscription `id`: the host sends its next page. */
  acknowledge(id: number): Promise<void>;
  /** Opens the subscription again in the new host, after what it delivered; resolves with the new id. */
  reopen(subscriber: S): Promise<number>;
  /** Closes the host's subscription `id` (opened again for a subscriber that was closed meanwhile). */
  unsubscribe(id: number): Promise<void>;
}

/** Calls `onError`, which must not stop delivery either when it throws. */
export function report<S extends Subscriber>(subscriber: S, error: unknown, event?: RecordedEvent): void {
  try {
    subscriber.onError(error, event);
  } catch {
    // An onError that throws must not stop delivery (or the reopening of the others).
  }
}

/** The subscriptions of one kind, by the host's id. */
export class Subscribers<S extends Subscriber> {
  readonly #byId = new Map<number, S>();

  constructor(private readonly hooks: Hooks<S>) {}

  /** Starts delivery to a subscription the host just opened (pages arrive after this returns). */
  start(subscriber: S): void {
    this.#byId.set(subscriber.id, subscriber);
    this.hooks.acknowledge(subscriber.id).catch((error: unknown) => {
      if (!subscriber.closed) report(subscriber, error);
    });
  }

  /** Closes a subscriber on this side (the host is told by the caller). */
  remove(subscriber: S): void {
    subscriber.closed = true;
    if (this.#byId.get(subscriber.id) === subscriber) this.#byId.delete(subscriber.id);
  }

  /** Closes every subscriber (the store closed). */
  closeAll(): void {
    for (const subscriber of this.#byId.values()) subscriber.closed = true;
    this.#byId.clear();
  }

  /** Runs the subscriber of `id` over one page, or reports the host's failure of it (the host closed it). */
  async deliver(id: number, page: Page | { error: ErrorShape }): Promise<void> {
    const subscriber = this.#byId.get(id);
    if (!subscriber) return;
    if ('error' in page) {
      this.remove(subscriber);
      report(subscriber, toEventLiteError(page.error));
      return;
    }
    const run = this.#run(subscriber, id, page);
    subscriber.delivering = run;
    await run;
  }

  async #run(subscriber: S, id: number, page: Page): Promise<void> {
    // After a takeover the subscription has a new id in the new worker: this page must neither keep running beside
    // the new one's nor acknowledge it.
    const current = () => !subscriber.closed && subscriber.id === id && !subscriber.reopening;
    if (this.hooks.beforePage) {
      try {
        await this.hooks.beforePage(subscriber, page);
      } catch (error) {
        report(subscriber, error);
      }
    }
    for (const event of decodeEvents<RecordedEvent>(page.events)) {
      if (!current()) return;
      try {
        await subscriber.handler(event);
      } catch (error) {
        report(subscriber, error, event);
      }
      this.hooks.advance(subscriber, event);
    }
    if (!current()) return;
    try {
      await this.hooks.afterPage?.(subscriber);
      await this.hooks.acknowledge(id);
    } catch (error) {
      if (!subscriber.closed) report(subscriber, error);
    }
  }

  /**
   * The host changed: the subscriptions of the previous owner's worker are gone. Opens each again after the last
   * event its handler finished, once the page it was handling stopped.
   */
  async reopenAll(): Promise<void> {
    const subscribers = [...this.#byId];
    // Stop every page in flight at its next event before opening anything again.
    for (const [, subscriber] of subscribers) subscriber.reopening = true;
    for (const [oldId, subscriber] of subscribers) {
      await subscriber.delivering?.catch(() => {});
      subscriber.reopening = false;
      try {
        const id = await this.hooks.reopen(subscriber);
        // The new worker's ids restart: oldId may already be another subscription's new id.
        if (this.#byId.get(oldId) === subscriber) this.#byId.delete(oldId);
        if (subscriber.closed) {
          await this.hooks.unsubscribe(id);
          continue;
        }
        subscriber.id = id;
        this.#byId.set(id, subscriber);
        await this.hooks.acknowledge(id);
      } catch (error) {
        report(subscriber, error);
      }
    }
  }
}
