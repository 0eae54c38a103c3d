/**
 * The caller's handle on a store's sync: {@link SyncClient} (`store.sync({ url, token })`), on the page side. The
 * transport (`worker/sync.ts`) runs where the database lives and posts notices here; this object mirrors the status,
 * relays conflicts, resolves `syncNow` when the round that covers it ends, and delivers synced subscriptions' pages.
 * No user code runs in the host.
 */

import { decodeConflicts, toPosition } from '../common/encode.js';
import { EventLiteError, SYNC_STOPPED, toEventLiteError } from '../common/errors.js';
import type { SyncNotice, SyncStartRequest } from '../common/protocol.js';
import type {
  EventType,
  ProjectionFailure,
  RecordedEvent,
  SyncConflict,
  SyncedSubscription,
  SyncedSubscriptionOptions,
  SyncOptions,
  SyncReport,
  SyncStatus,
} from '../common/types.js';
import type { Client } from './client.js';
import { Subscribers, type Subscriber } from './delivery.js';

const SUBSCRIBE_KEYS = ['mode', 'from', 'after', 'filter', 'batchSize', 'onRewound', 'onError'];
const MAX_BATCH = 1000;

/** A synced subscription on the caller's side. */
interface SyncedSubscriber extends Subscriber {
  mode: unknown;
  wire: Record<string, unknown>;
  onRewound: (fromPosition: number) => void | Promise<void>;
}

/** A `syncNow` call, answered when round `run` ends. */
type Waiter = { run: number; resolve: (report: SyncReport) => void; reject: (error: unknown) => void };

const emptyReport = (): SyncReport => ({ pushed: 0, pulled: 0, conflicts: [], rewoundFrom: null, logReset: false });

type Listeners = {
  status: (status: SyncStatus) => void;
  conflict: (conflicts: SyncConflict[]) => void;
  synced: (report: SyncReport) => void;
  projectionFailed: (failure: ProjectionFailure) => void;
};

/**
 * The caller's handle on a store's sync (from `store.sync({ url, token })`). The transport runs where the database
 * lives; this object mirrors its status and relays its conflicts.
 */
export class SyncClient<E extends EventType = EventType> {
  #status: SyncStatus;
  #stopped = false;
  readonly #listeners: { [K in keyof Listeners]: Set<Listeners[K]> } = {
    status: new Set(),
    conflict: new Set(),
    synced: new Set(),
    projectionFailed: new Set(),
  };
  readonly #waiters: Waiter[] = [];
  /** Conflicts of the round running now, for its `'synced'` report. */
  #roundConflicts: SyncConflict[] = [];
  /** What sync did since the last `syncNow` answer (or since `sync()`): the next answer's report. */
  #unreported: SyncReport = emptyReport();
  /** The last round that ended (the host's number) and how. */
  #ended: { run: number; error?: EventLiteError } = { run: 0 };
  readonly #subscribers: Subscribers<SyncedSubscriber>;

  /** @internal */
  constructor(
    private readonly client: Client,
    status: SyncStatus,
    options: Pick<SyncOptions, 'onConflict' | 'onStatus' | 'onProjectionFailed'>,
  ) {
    this.#status = status;
    if (options.onStatus) this.#listeners.status.add(options.onStatus);
    if (options.onConflict) this.#listeners.conflict.add(options.onConflict);
    if (options.onProjectionFailed) this.#listeners.projectionFailed.add(options.onProjectionFailed);
    this.#subscribers = new Subscribers<SyncedSubscriber>({
      beforePage: async (subscriber, { rewoundFrom }) => {
        if (rewoundFrom === null || rewoundFrom === undefined) return;
        try {
          await subscriber.onRewound(rewoundFrom);
        } finally {
          subscriber.position = rewoundFrom;
        }
      },
      advance: (subscriber, event) => {
        subscriber.position = event.position;
      },
      acknowledge: (id) => client.call('syncAck', id),
      reopen: ({ mode, wire, position }) =>
        client.call('syncSubscribe', mode, position > 0 ? { ...wire, from: position } : wire),
      unsubscribe: (id) => client.call('syncUnsubscribe', id),
    });
    // In a browser, the page learns first when the network returns: skip the rest of the backoff.
    const page = globalThis as { addEventListener?: typeof addEventListener; document?: unknown };
    if (page.document !== undefined && typeof page.addEventListener === 'function') {
      page.addEventListener('online', this.#onNetwork);
    }
  }

  readonly #onNetwork = (): void => {
    this.client.call('syncReconnect').catch(() => {
      // The store is closed or sync stopped: nothing to reconnect.
    });
  };

  /** The latest status (also delivered to `'status'` listeners as it changes). */
  get status(): SyncStatus {
    return this.#status;
  }

  /**
   * Listens to `'status'`, `'conflict'` (events the server rejected), `'synced'` (a round ended) or
   * `'projectionFailed'` (a pulled event made a projection fail); returns the unsubscribe function.
   */
  on<K extends keyof Listeners>(type: K, listener: Listeners[K]): () => void {
    this.#listeners[type].add(listener);
    return () => void this.#listeners[type].delete(listener);
  }

  /** The conflicts list, oldest first. */
  async conflicts(): Promise<SyncConflict[]> {
    return decodeConflicts(await this.client.call('syncConflicts'));
  }

  /** Removes a conflict from the list (the app handled it); `false` when there was none. */
  async dismissConflict(eventId: string): Promise<boolean> {
    return this.client.call('syncDismissConflict', eventId);
  }

  /**
   * Runs a push/pull round now (or after the running one); rejects when that round fails or sync is offline. The
   * report covers what sync did since the previous `syncNow()` answer (or since `sync()`) up to the end of that
   * round: the rounds `sync()`, `setOnline(true)`, appends or live notifications started meanwhile included.
   */
  async syncNow(): Promise<SyncReport> {
    const run = await this.client.call('syncNow');
    return new Promise((resolve, reject) => {
      this.#waiters.push({ run, resolve, reject });
      this.#settle();
    });
  }

  /**
   * Subscribes to the log as sync shapes it: confirmed events only (default), or also pending ones with rewind
   * notices (see {@link SyncedSubscriptionOptions.mode}). History first, then live: events the server sends and
   * this store's appends. Delivery runs on the caller's side, one page at a time.
   */
  async subscribe<S extends E = E>(
    options: SyncedSubscriptionOptions,
    handler: (event: RecordedEvent<S>) => void | Promise<void>,
  ): Promise<SyncedSubscription> {
    if (typeof options !== 'object' || options === null) throw invalidSync('options', 'must be an object');
    for (const key of Object.keys(options)) {
      if (!SUBSCRIBE_KEYS.includes(key)) throw invalidSync(`options.${key}`, 'is not an option');
    }
    if (typeof handler !== 'function') throw invalidSync('handler', 'must be a function');
    const { mode = 'confirmed', onRewound = () => {}, onError = defaultOnError, after, ...wire } = options;
    if (after !== undefined) {
      if (wire.from !== undefined) throw invalidSync('options.after', 'cannot be combined with options.from');
      wire.from = toPosition(after, 'options.after');
    }
    for (const [name, value] of [['onRewound', onRewound], ['onError', onError]] as const) {
      if (typeof value !== 'function') throw invalidSync(`options.${name}`, 'must be a function');
    }
    const id = await this.client.call('syncSubscribe', mode, wire);
    const state: SyncedSubscriber = {
      id,
      mode,
      wire,
      handler: handler as SyncedSubscriber['handler'],
      onRewound,
      onError,
      position: 0,
      closed: false,
    };
    this.#subscribers.start(state);
    return {
      get position() {
        return state.position;
      },
      unsubscribe: async () => {
        if (state.closed) return;
        this.#subscribers.remove(state);
        await this.client.call('syncUnsubscribe', state.id);
      },
    };
  }

  /** Simulates (or follows) connectivity: offline closes the live stream and stops requests; appends stay pending. */
  async setOnline(online: boolean): Promise<SyncStatus> {
    const status = await this.client.call('syncSetOnline', online);
    this.#setStatus(status);
    return status;
  }

  /** Stops syncing (the local store stays open). */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    (globalThis as { removeEventListener?: typeof removeEventListener }).removeEventListener?.('online', this.#onNetwork);
    await this.client.call('syncStop');
    this.#setStatus({ ...this.#status, state: 'offline', syncing: false });
    for (const waiter of this.#waiters.splice(0)) waiter.reject(toEventLiteError(SYNC_STOPPED));
  }

  /**
   * @internal The store's host changed (the owning tab closed and this tab's or another's worker took over): start
   * sync there again with the same options and state, and reopen the synced subscriptions after what they delivered.
   */
  async _reconnected(start: SyncStartRequest): Promise<void> {
    if (this.#stopped) return;
    // The new host numbers its rounds afresh: the calls still waiting ask it again.
    this.#ended = { run: 0 };
    const waiting = this.#waiters.splice(0);
    try {
      this.#setStatus(await this.client.call('syncStart', { ...start, online: this.#status.state !== 'offline' }));
    } catch (error) {
      console.error('eventlite: could not restart sync after the store changed hands', error);
    }
    for (const waiter of waiting) this.syncNow().then(waiter.resolve, waiter.reject);
    await this.#subscribers.reopenAll();
  }

  /** @internal A notice from the host. */
  _receive(notice: SyncNotice): void {
    if (notice.type === 'page' || notice.type === 'pageError') {
      void this.#subscribers.deliver(notice.synced, notice);
      return;
    }
    if (this.#stopped) return;
    if (notice.type === 'status') {
      this.#setStatus(notice.status);
    } else if (notice.type === 'conflicts') {
      const conflicts = decodeConflicts(notice.conflicts);
      this.#roundConflicts.push(...conflicts);
      this.#unreported.conflicts.push(...conflicts);
      this.#emit('conflict', conflicts);
    } else {
      const conflicts = this.#roundConflicts;
      this.#roundConflicts = [];
      if (notice.ok) {
        const report: SyncReport = { ...notice.report, conflicts };
        const total = this.#unreported;
        total.pushed += report.pushed;
        total.pulled += report.pulled;
        if (report.rewoundFrom !== null) total.rewoundFrom = Math.min(total.rewoundFrom ?? Infinity, report.rewoundFrom);
        total.logReset ||= report.logReset;
        this.#ended = { run: notice.run };
        this.#settle();
        this.#emit('synced', report);
      } else {
        this.#ended = { run: notice.run, error: toEventLiteError(notice.error) };
        this.#settle();
      }
    }
  }

  /**
   * Answers the `syncNow` calls whose round has ended (rounds end in order): the round's error, or what sync did
   * since the last answer. A call whose round ended before its answer arrived gets the latest end.
   */
  #settle(): void {
    const { run, error } = this.#ended;
    const done = this.#waiters.filter((waiter) => waiter.run <= run);
    if (done.length === 0) return;
    for (const waiter of done) this.#waiters.splice(this.#waiters.indexOf(waiter), 1);
    if (error) {
      for (const waiter of done) waiter.reject(error);
      return;
    }
    const report = this.#unreported;
    this.#unreported = emptyReport();
    for (const waiter of done) waiter.resolve(report);
  }

  #setStatus(status: SyncStatus): void {
    const before = this.#status.failedProjections ?? [];
    const known = (failure: ProjectionFailure) =>
      before.some((old) => old.name === failure.name && old.position === failure.position);
    const failed = (status.failedProjections ?? []).filter((failure) => !known(failure));
    this.#status = status;
    for (const failure of failed) this.#emit('projectionFailed', failure);
    // Offline (here or in another tab), no round runs: a syncNow still waiting for one would wait forever.
    if (status.state === 'offline') {
      for (const waiter of this.#waiters.splice(0)) waiter.reject(toEventLiteError(SYNC_STOPPED));
    }
    this.#emit('status', status);
  }

  #emit<K extends keyof Listeners>(type: K, value: Parameters<Listeners[K]>[0]): void {
    for (const listener of this.#listeners[type]) {
      try {
        (listener as (value: unknown) => void)(value);
      } catch (error) {
        console.error(`eventlite: a sync '${type}' listener failed`, error);
      }
    }
  }
}

/**
 * @internal Starts syncing the store behind `client` (used by `EventStore.sync`) and routes the host's sync notices to the
 * returned {@link SyncClient}.
 */
export async function startSync<E extends EventType>(client: Client, options: SyncOptions): Promise<SyncClient<E>> {
  if (typeof options !== 'object' || options === null) throw invalidSync('options', 'must be an object');
  const { url, token, batchSize = 500, online = true, limits = {}, onConflict, onStatus, onProjectionFailed } = options;
  if (typeof url !== 'string' || url === '') throw invalidSync('options.url', 'must be a URL');
  if (typeof token !== 'string' || token === '') throw invalidSync('options.token', 'must be a non-empty string');
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > MAX_BATCH) {
    throw invalidSync('options.batchSize', `must be an integer from 1 to ${MAX_BATCH}`);
  }
  if (typeof limits !== 'object' || limits === null) throw invalidSync('options.limits', 'must be an object');
  const callbacks = [['onConflict', onConflict], ['onStatus', onStatus], ['onProjectionFailed', onProjectionFailed]] as const;
  for (const [name, value] of callbacks) {
    if (value !== undefined && typeof value !== 'function') throw invalidSync(`options.${name}`, 'must be a function');
  }
  let absolute: string;
  try {
    const page = (globalThis as { location?: { href: string } }).location?.href;
    absolute = new URL(url, page).href;
  } catch {
    throw invalidSync('options.url', 'must be an absolute URL (or relative to the page)');
  }
  let sync: SyncClient<E> | undefined;
  const early: SyncNotice[] = [];
  client.onSync = (notice) => {
    if (sync) sync._receive(notice);
    else early.push(notice);
  };
  const request: SyncStartRequest = { url: absolute, token, batchSize, online: Boolean(online), limits: { ...limits } };
  const status = await client.call('syncStart', request);
  // Projections that had failed before this call are in the first status, not reported as new failures.
  sync = new SyncClient<E>(client, status, { onConflict, onStatus, onProjectionFailed });
  for (const notice of early.splice(0)) sync._receive(notice);
  client.onReconnect(() => void sync?._reconnected(request));
  return sync;
}

const defaultOnError = (error: unknown, event: RecordedEvent | undefined): void => {
  console.error('eventlite: a synced subscription handler failed', event ? `at position ${event.position}` : '', error);
};

function invalidSync(argument: string, reason: string): EventLiteError {
  return toEventLiteError({ code: 'INVALID_ARGUMENT', message: `invalid ${argument}: ${reason}`, argument, reason });
}
