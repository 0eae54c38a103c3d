/**
 * Sync with an EventLite server (`docs/sync-protocol.md`): the transport for core's sync engine.
 *
 * Two halves, like the rest of the package:
 * - {@link SyncHost} runs where the database lives (the dedicated worker in the browser, the caller's thread in
 *   Node). It moves the engine's messages: push pending events (whole local batches, `batchSize` events at a time),
 *   pull pages after the stored cursor until `more` is false, and follow the server's live notifications
 *   (`/v1/live`, Server-Sent Events: `EventSource` where there is one, a streamed `fetch` otherwise), reconnecting
 *   with exponential backoff and full jitter. Every rule (what to push, rebasing, conflicts) is core's, through the
 *   wasm store's `nextPush` / `applyPushResponse` / `applyPull`; every step is safe to retry.
 * - {@link SyncClient} is the caller's handle (`store.sync({ url, token })`): status, conflicts, `syncNow`, an
 *   online/offline switch, and listeners. The host posts notices to it; no user code runs in the host.
 */

import type { EventFilter, RecordedEvent } from './api.js';
import type { Client } from './client.js';
import { decodeEvents } from './encode.js';
import { EventLiteError, toEventLiteError, type ErrorShape } from './errors.js';

/** Where a sync connection stands. */
export type SyncState =
  /** `setOnline(false)` or `stop()`: nothing goes over the network; appends stay pending locally. */
  | 'offline'
  /** Trying to reach the server (first connection, or reconnecting after a failure with backoff). */
  | 'connecting'
  /** Connected to the live stream: the server's new events arrive within moments. */
  | 'online';

/** The sync state and the local store's sync counters. */
export interface SyncStatus {
  state: SyncState;
  /** This store's replica id (a UUID created once). */
  replicaId: string;
  /** Local events the server has not confirmed yet. */
  pending: number;
  /** The local position of the last confirmed event (0: none). */
  confirmedThrough: number;
  /** Entries in the conflicts list. */
  conflicts: number;
  /** True while a push/pull round is running. */
  syncing: boolean;
  /** When the last round finished without error (ms since the epoch), or `null`. */
  lastSyncedAt: number | null;
  /** The last round's or connection's failure, cleared by the next success. */
  lastError: { code: string; message: string } | null;
}

/** An event the server rejected: it left its stream and is kept in the conflicts list until dismissed. */
export interface SyncConflict {
  /** Order of rejection, increasing. */
  id: number;
  eventId: string;
  stream: string;
  type: string;
  /** Parsed JSON, or a `Uint8Array` for binary data. */
  data: unknown;
  contentType: string;
  metadata: Record<string, unknown> | null;
  /** The expectation it was appended with: `'any'`, `'no_stream'`, `'stream_exists'` or a version. */
  expected: 'any' | 'no_stream' | 'stream_exists' | number;
  /** `'WRONG_EXPECTED_VERSION'` (another replica got there first), `'FOLLOWS_REJECTED'` or `'IDEMPOTENCY_CONFLICT'`. */
  code: string;
  /** The server stream's version when the event was checked. */
  actualVersion: number | null;
  message: string;
  /** When it was appended locally. */
  recordedAt: number;
  rejectedAt: number;
}

/** What one push/pull round did. */
export interface SyncReport {
  /** Events sent (including ones the server already had). */
  pushed: number;
  /** Server events applied locally. */
  pulled: number;
  /** Events rejected during the round. */
  conflicts: SyncConflict[];
  /** When the local log was rewritten (rebase or rejection), the position after which it was; else `null`. */
  rewoundFrom: number | null;
}

/** Options of `store.sync`. */
export interface SyncOptions {
  /** The server's base URL, e.g. `'https://sync.example.com'` (relative URLs resolve against the page). */
  url: string;
  /** A bearer token the server maps to a tenant. */
  token: string;
  /** Events per push and per pull page (default 500, at most 1,000). */
  batchSize?: number;
  /**
   * The server's push limits (default: the reference server's defaults, 1,000 events, 16 MiB per request, 1 MiB
   * per event). Pushes stay within them; a local batch over them on its own is set aside as a conflict
   * (`BATCH_TOO_LARGE` / `EVENT_TOO_LARGE`) instead of blocking the events behind it.
   */
  limits?: SyncLimits;
  /** Start online (default `true`); `false` starts offline until `setOnline(true)`. */
  online?: boolean;
  /** Called with the events each round rejected (also emitted as `'conflict'`). */
  onConflict?: (conflicts: SyncConflict[]) => void;
  /** Called whenever the status changes (also emitted as `'status'`). */
  onStatus?: (status: SyncStatus) => void;
}

/** A server's push limits; each defaults to the reference server's. */
export interface SyncLimits {
  maxEvents?: number;
  maxBytes?: number;
  maxEventSize?: number;
}

/** Options of {@link SyncClient.subscribe}. */
export interface SyncedSubscriptionOptions {
  /**
   * `'confirmed'` (default): only events the server confirmed, in server order; never rewound, so a read model fed
   * from it never has to undo anything. `'pending'`: also local events not confirmed yet (optimistic), with
   * `onRewound` called first whenever a rebase or a rejection rewrote the log.
   */
  mode?: 'confirmed' | 'pending';
  /** `'start'` (default), `'end'`, or an exclusive position. */
  from?: 'start' | 'end' | number | bigint;
  filter?: EventFilter;
  /** Events per page, default 500. */
  batchSize?: number;
  /**
   * `'pending'` mode: every event delivered after `fromPosition` is void (rebased or rejected); the current log
   * after it follows. Awaited before the next event.
   */
  onRewound?: (fromPosition: number) => void | Promise<void>;
  /** Called when the handler (or `onRewound`) throws (default: `console.error`); delivery continues. */
  onError?: (error: unknown, event: RecordedEvent | undefined) => void;
}

/** A subscription from {@link SyncClient.subscribe}. */
export interface SyncedSubscription {
  /** The position of the last event the handler finished (or of the last rewind). */
  readonly position: number;
  /** Stops delivery at once (the rest of a page is dropped). */
  unsubscribe(): Promise<void>;
}

/** What the host needs from the wasm store (see `wasm/src/sync.rs`). */
export interface SyncStore {
  nextPush(maxEvents: number, maxBatches: number | undefined, budget: SyncLimits): NextPush;
  applyPushResponse(request: string, response: string): string;
  applyPull(response: string): string;
  pullCursor(): string | undefined;
  syncStatus(): string;
  syncConflicts(): string;
  dismissConflict(eventId: unknown): boolean;
  subscribeSynced(mode: unknown, options: unknown): SyncedCursor;
}

/** What `nextPush` gives: the push to send (`body` undefined: nothing pending) and the batches set aside. */
export interface NextPush {
  body?: string;
  count?: number;
  firstEventId?: string;
  batches: number;
  /** Conflicts (JSON array) of local batches no push can carry. */
  rejected: string;
  rewoundFrom?: number;
}

/** The wasm layer's synced subscription: a cursor holding the store's connection until freed. */
export interface SyncedCursor {
  poll(): { rewoundFrom: number | undefined; events: string } | undefined;
  free(): void;
}

/** The host methods sync adds to the worker protocol (`protocol.ts`). */
export interface SyncMethods {
  /** Starts (or restarts with new options) the sync of the host's store. */
  syncStart(options: SyncStartRequest): SyncStatus;
  /** Stops it: closes the live stream and aborts requests in flight. */
  syncStop(): void;
  /** Starts a round; returns its number (a `syncDone` notice with `run >= number` ends the wait). */
  syncNow(): number;
  syncSetOnline(online: boolean): SyncStatus;
  /** The network is back (the browser's `online` event): reconnect now instead of waiting out the backoff. */
  syncReconnect(): void;
  syncStatus(): SyncStatus;
  /** The conflicts list as JSON text. */
  syncConflicts(): string;
  syncDismissConflict(eventId: unknown): boolean;
  /** Opens a synced subscription; pages flow after the first `syncAck`, one in flight at a time. */
  syncSubscribe(mode: unknown, options: unknown): number;
  syncAck(subscription: number): void;
  syncUnsubscribe(subscription: number): void;
}

/** `syncStart`'s argument: {@link SyncOptions} without the callbacks, the URL made absolute. */
export interface SyncStartRequest {
  url: string;
  token: string;
  batchSize: number;
  online: boolean;
  limits: SyncLimits;
}

/** What the host posts to the caller about sync. */
export type SyncNotice =
  | { kind: 'sync'; type: 'status'; status: SyncStatus }
  | { kind: 'sync'; type: 'conflicts'; conflicts: string }
  | { kind: 'sync'; type: 'done'; run: number; ok: true; report: Omit<SyncReport, 'conflicts'> & { conflicts: number } }
  | { kind: 'sync'; type: 'done'; run: number; ok: false; error: ErrorShape }
  // `synced`, not `subscription`: these ids are not the store's subscription ids (tabs route those).
  | { kind: 'sync'; type: 'page'; synced: number; rewoundFrom: number | undefined; events: string }
  | { kind: 'sync'; type: 'pageError'; synced: number; error: ErrorShape };

// Thrown across the host as `EventLiteError`-named shapes: the host treats anything else as a crash (`INTERNAL`).
const STOPPED: ErrorShape = { name: 'EventLiteError', code: 'SYNC_STOPPED', message: 'sync is offline or stopped' };
const REQUEST_TIMEOUT_MS = 30_000;
const SUBSCRIBE_KEYS = ['mode', 'from', 'filter', 'batchSize', 'onRewound', 'onError'];
const MAX_BATCH = 1000;

/** A failed step: an HTTP answer (`status`) or a transport failure (`status` 0). */
class SyncFailure extends Error {
  constructor(
    readonly shape: ErrorShape,
    readonly status: number,
  ) {
    super(shape.message);
  }

  /** Transport failures, timeouts, 5xx and 429 are worth retrying; other 4xx are not (the protocol's rule). */
  get retryable(): boolean {
    return this.status === 0 || this.status >= 500 || this.status === 429 || this.shape.code === 'STORAGE_BUSY';
  }
}

/** Exponential backoff with full jitter: a delay drawn from [base/2, base], base doubling from 100 ms up to 10 s. */
export class Backoff {
  static readonly START_MS = 100;
  static readonly MAX_MS = 10_000;
  #base = Backoff.START_MS;

  next(): number {
    const delay = this.#base * (0.5 + Math.random() / 2);
    this.#base = Math.min(this.#base * 2, Backoff.MAX_MS);
    return delay;
  }

  reset(): void {
    this.#base = Backoff.START_MS;
  }
}

/**
 * The host side: one per store, created on the first `sync*` request. Runs one push/pull round at a time; requests
 * for a round while one runs (an append, a live notification, `syncNow`) coalesce into one more round after it.
 */
export class SyncHost {
  #options: SyncStartRequest | undefined;
  #online = false;
  #connected = false;
  #abort = new AbortController();
  #live: { close(): void } | undefined;
  #liveBackoff = new Backoff();
  #retryBackoff = new Backoff();
  #retryTimer: ReturnType<typeof setTimeout> | undefined;
  #liveTimer: ReturnType<typeof setTimeout> | undefined;
  #running = false;
  #again = false;
  #started = 0;
  #lastSyncedAt: number | null = null;
  #lastError: { code: string; message: string } | null = null;
  readonly #subscriptions = new Map<number, { cursor: SyncedCursor; inFlight: boolean }>();
  #nextSubscription = 1;

  constructor(
    private readonly store: () => SyncStore | undefined,
    private readonly post: (notice: SyncNotice) => void,
    /** Called after a round changed the log, so the host can deliver to subscribers. */
    private readonly onChanged: () => void,
  ) {}

  /** The log changed (a round, a local append): deliver to the host's subscribers and to the synced ones. */
  private changed(): void {
    this.onChanged();
    this.#pump();
  }

  /** Posts the next page of every synced subscription that has none in flight. */
  #pump(): void {
    for (const [id, subscription] of this.#subscriptions) {
      if (subscription.inFlight) continue;
      try {
        const page = subscription.cursor.poll();
        if (page === undefined) continue;
        subscription.inFlight = true;
        this.post({ kind: 'sync', type: 'page', synced: id, rewoundFrom: page.rewoundFrom, events: page.events });
      } catch (error) {
        this.#subscriptions.delete(id);
        subscription.cursor.free();
        this.post({ kind: 'sync', type: 'pageError', synced: id, error: toShape(error) });
      }
    }
  }

  /** Answers a `sync*` request. */
  call(method: keyof SyncMethods, args: unknown[]): unknown {
    switch (method) {
      case 'syncStart': {
        this.#disconnect();
        this.#options = args[0] as SyncStartRequest;
        this.#setOnline(this.#options.online);
        return this.#status();
      }
      case 'syncStop':
        this.#disconnect();
        this.#options = undefined;
        this.#postStatus();
        return undefined;
      case 'syncNow':
        if (!this.#options || !this.#online) throw { ...STOPPED };
      {
        // The round that covers this request: the one starting now, or the one after the running round.
        const wasRunning = this.#running;
        this.#request();
        return wasRunning ? this.#started + 1 : this.#started;
      }
      case 'syncSetOnline':
        if (!this.#options) throw { ...STOPPED, message: 'sync is not started' };
        this.#setOnline(Boolean(args[0]));
        return this.#status();
      case 'syncReconnect':
        if (!this.#options || !this.#online) return undefined;
        this.#liveBackoff.reset();
        this.#retryBackoff.reset();
        if (!this.#connected) {
          clearTimeout(this.#liveTimer);
          this.#liveTimer = undefined;
          this.#live?.close();
          this.#connectLive();
        }
        this.#request();
        return undefined;
      case 'syncStatus':
        return this.#status();
      case 'syncConflicts':
        return this.#store().syncConflicts();
      case 'syncDismissConflict': {
        const dismissed = this.#store().dismissConflict(args[0]);
        this.#postStatus();
        return dismissed;
      }
      case 'syncSubscribe': {
        const cursor = this.#store().subscribeSynced(args[0], args[1]);
        const id = this.#nextSubscription++;
        // Nothing is delivered before the caller's first ack: it must know the id first.
        this.#subscriptions.set(id, { cursor, inFlight: true });
        return id;
      }
      case 'syncAck': {
        const subscription = this.#subscriptions.get(args[0] as number);
        if (subscription) subscription.inFlight = false;
        this.#pump();
        return undefined;
      }
      case 'syncUnsubscribe': {
        this.#subscriptions.get(args[0] as number)?.cursor.free();
        this.#subscriptions.delete(args[0] as number);
        return undefined;
      }
    }
    // Requests arrive over a message channel: a name outside the protocol is refused, never guessed at.
    throw { name: 'EventLiteError', code: 'INVALID_ARGUMENT', message: `unknown method ${String(method)}` };
  }

  /** A local append: deliver it to synced subscribers, report the new pending count, and push it when online. */
  localAppend(): void {
    this.#pump();
    if (!this.#options) return;
    this.#postStatus();
    if (this.#online) this.#request();
  }

  /** The store is closing: disconnect, and release the synced subscriptions (they hold its connection). */
  stop(): void {
    this.#disconnect();
    for (const { cursor } of this.#subscriptions.values()) cursor.free();
    this.#subscriptions.clear();
  }

  /** Goes offline: closes the live stream, aborts requests in flight, cancels timers. */
  #disconnect(): void {
    this.#online = false;
    this.#connected = false;
    this.#abort.abort();
    this.#abort = new AbortController();
    this.#live?.close();
    this.#live = undefined;
    clearTimeout(this.#retryTimer);
    clearTimeout(this.#liveTimer);
    this.#retryTimer = this.#liveTimer = undefined;
  }

  #setOnline(online: boolean): void {
    if (online === this.#online) return;
    if (!online) {
      this.#disconnect();
      this.#postStatus();
      return;
    }
    this.#online = true;
    this.#liveBackoff.reset();
    this.#retryBackoff.reset();
    this.#connectLive();
    this.#request();
    this.#postStatus();
  }

  #store(): SyncStore {
    const store = this.store();
    if (!store) throw { name: 'EventLiteError', code: 'STORE_CLOSED', message: 'the store is closed' };
    return store;
  }

  #status(): SyncStatus {
    const store = this.store();
    const counters = store
      ? (JSON.parse(store.syncStatus()) as { replicaId: string; pending: number; confirmedThrough: number; conflicts: number })
      : { replicaId: '', pending: 0, confirmedThrough: 0, conflicts: 0 };
    return {
      state: !this.#online ? 'offline' : this.#connected ? 'online' : 'connecting',
      replicaId: counters.replicaId,
      pending: counters.pending,
      confirmedThrough: counters.confirmedThrough,
      conflicts: counters.conflicts,
      syncing: this.#running,
      lastSyncedAt: this.#lastSyncedAt,
      lastError: this.#lastError,
    };
  }

  #postStatus(): void {
    if (!this.store()) return;
    this.post({ kind: 'sync', type: 'status', status: this.#status() });
  }

  /** Asks for a round: starts one now, or one more after the running one. */
  #request(): void {
    if (this.#running) {
      this.#again = true;
      return;
    }
    void this.#loop();
  }

  async #loop(): Promise<void> {
    this.#running = true;
    do {
      this.#again = false;
      const run = ++this.#started;
      const signal = this.#abort.signal;
      this.#postStatus();
      try {
        const report = await this.#round(signal);
        this.#lastSyncedAt = Date.now();
        this.#lastError = null;
        this.#retryBackoff.reset();
        clearTimeout(this.#retryTimer);
        this.#retryTimer = undefined;
        this.#postStatus(); // before 'done', so a caller awaiting syncNow sees the new counters
        this.post({ kind: 'sync', type: 'done', run, ok: true, report });
      } catch (error) {
        const shape = toShape(error);
        if (!signal.aborted && this.store()) this.#lastError = { code: shape.code, message: shape.message };
        this.#postStatus();
        this.post({ kind: 'sync', type: 'done', run, ok: false, error: shape });
        if (signal.aborted || !this.store()) continue; // offline or closed: nothing to retry
        // Retry later; a non-retryable failure (a 401, a refused cursor) is retried at the slowest pace.
        const delay = error instanceof SyncFailure && !error.retryable ? Backoff.MAX_MS : this.#retryBackoff.next();
        clearTimeout(this.#retryTimer);
        this.#retryTimer = setTimeout(() => {
          this.#retryTimer = undefined;
          if (this.#online) this.#request();
        }, delay);
      }
    } while (this.#again && this.#online && this.store());
    this.#running = false;
    this.#postStatus();
  }

  /** One round: push every pending event (pulling after each push so accepted events get confirmed), then pull. */
  async #round(signal: AbortSignal): Promise<Omit<SyncReport, 'conflicts'> & { conflicts: number }> {
    const options = this.#options;
    if (!options) throw new SyncFailure(STOPPED, 0);
    const report = { pushed: 0, pulled: 0, conflicts: 0, rewoundFrom: null as number | null };
    let lastFirst: string | undefined;
    // Local batches per push: halved when the server refuses a push as too large (its limits are lower than ours).
    let maxBatches: number | undefined;
    for (;;) {
      const next = this.#store().nextPush(options.batchSize, maxBatches, options.limits);
      report.rewoundFrom = minPosition(report.rewoundFrom, next.rewoundFrom ?? null);
      this.#reportConflicts(next.rejected, report);
      if (next.body === undefined) break;
      const body = next.body;
      if (next.firstEventId !== undefined && next.firstEventId === lastFirst) {
        throw new SyncFailure(
          { name: 'EventLiteError', code: 'SYNC_PROTOCOL', message: 'the server accepted a push but the following pull did not confirm it' },
          0,
        );
      }
      let response: string;
      try {
        response = await this.#fetch('/v1/push', signal, { method: 'POST', body });
      } catch (error) {
        if (!(error instanceof SyncFailure) || error.status !== 413) throw error;
        if (next.batches > 1) {
          maxBatches = Math.max(1, Math.floor(next.batches / 2)); // nothing was stored: smaller pushes
          continue;
        }
        // One whole local batch the server will never take: set it aside so the events behind it can go.
        response = tooLargeResponse(body, error.shape);
      }
      lastFirst = next.firstEventId;
      report.pushed += next.count ?? 0;
      const applied = JSON.parse(this.#store().applyPushResponse(body, response)) as {
        rejected: unknown[];
        rewoundFrom: number | null;
      };
      report.rewoundFrom = minPosition(report.rewoundFrom, applied.rewoundFrom);
      this.#reportConflicts(JSON.stringify(applied.rejected), report);
      await this.#pull(options, signal, report);
    }
    await this.#pull(options, signal, report);
    return report;
  }

  /** Tells the caller about events that left their streams (a JSON array of conflicts), and the subscribers. */
  #reportConflicts(rejected: string, report: { conflicts: number }): void {
    const count = (JSON.parse(rejected) as unknown[]).length;
    if (count === 0) return;
    report.conflicts += count;
    this.post({ kind: 'sync', type: 'conflicts', conflicts: rejected });
    this.changed();
  }

  async #pull(
    options: SyncStartRequest,
    signal: AbortSignal,
    report: { pulled: number; rewoundFrom: number | null },
  ): Promise<void> {
    for (;;) {
      const cursor = this.#store().pullCursor();
      const query = `limit=${options.batchSize}` + (cursor === undefined ? '' : `&after=${encodeURIComponent(cursor)}`);
      const page = await this.#fetch(`/v1/pull?${query}`, signal, { method: 'GET' });
      const applied = JSON.parse(this.#store().applyPull(page)) as {
        applied: number;
        rewoundFrom: number | null;
        more: boolean;
      };
      report.pulled += applied.applied;
      report.rewoundFrom = minPosition(report.rewoundFrom, applied.rewoundFrom);
      if (applied.applied > 0 || applied.rewoundFrom !== null) this.changed();
      if (!applied.more) return;
    }
  }

  /** One request; resolves with the body of a 200, throws a {@link SyncFailure} otherwise. */
  async #fetch(path: string, signal: AbortSignal, init: { method: string; body?: string }): Promise<string> {
    const options = this.#options;
    if (!options || signal.aborted) throw new SyncFailure(STOPPED, 0);
    const headers: Record<string, string> = { authorization: `Bearer ${options.token}` };
    if (init.body !== undefined) headers['content-type'] = 'application/json';
    let response: Response;
    let text: string;
    try {
      response = await fetch(joinUrl(options.url, path), {
        ...init,
        headers,
        signal: AbortSignal.any([signal, AbortSignal.timeout(REQUEST_TIMEOUT_MS)]),
      });
      text = await response.text();
    } catch (error) {
      if (signal.aborted) throw new SyncFailure(STOPPED, 0);
      throw new SyncFailure({ code: 'NETWORK', message: `${init.method} ${path}: ${String(error)}` }, 0);
    }
    if (response.status === 200) return text;
    let body: { code?: unknown; message?: unknown } = {};
    try {
      body = JSON.parse(text) as typeof body;
    } catch {
      // Not the protocol's error body (a proxy's page, say): keep the status.
    }
    const code = typeof body.code === 'string' ? body.code : `HTTP_${response.status}`;
    const message = typeof body.message === 'string' ? body.message : text.slice(0, 200);
    throw new SyncFailure({ code, message: `${init.method} ${path}: ${message}`, status: response.status }, response.status);
  }

  /** Follows `/v1/live`: a round on every `head` notice (the first arrives on connecting). */
  #connectLive(): void {
    const options = this.#options;
    if (!options || !this.#online) return;
    const onHead = (): void => {
      if (!this.#connected) {
        this.#connected = true;
        this.#liveBackoff.reset();
        this.#postStatus();
      }
      this.#request();
    };
    const onLost = (): void => {
      if (!this.#online) return;
      this.#live?.close();
      this.#live = undefined;
      if (this.#connected) {
        this.#connected = false;
        this.#postStatus();
      }
      clearTimeout(this.#liveTimer);
      this.#liveTimer = setTimeout(() => {
        this.#liveTimer = undefined;
        this.#connectLive();
      }, this.#liveBackoff.next());
    };
    this.#live = openLive(options, onHead, onLost);
  }
}

/** Opens the live stream: `EventSource` (token in the query string) where there is one, a streamed fetch otherwise. */
function openLive(options: SyncStartRequest, onHead: () => void, onLost: () => void): { close(): void } {
  const EventSourceClass = (globalThis as { EventSource?: typeof EventSource }).EventSource;
  if (EventSourceClass) {
    const source = new EventSourceClass(joinUrl(options.url, `/v1/live?access_token=${encodeURIComponent(options.token)}`));
    source.addEventListener('head', onHead);
    // EventSource would retry on its own at a fixed pace; the protocol asks for backoff with jitter instead.
    source.onerror = () => {
      source.close();
      onLost();
    };
    return { close: () => source.close() };
  }
  const controller = new AbortController();
  void (async () => {
    try {
      const response = await fetch(joinUrl(options.url, '/v1/live'), {
        headers: { authorization: `Bearer ${options.token}`, accept: 'text/event-stream' },
        signal: controller.signal,
      });
      if (response.status !== 200 || !response.body) throw new Error(`live: HTTP ${response.status}`);
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value;
        let end: number;
        let head = false;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          head ||= buffer.slice(0, end).split('\n').includes('event: head');
          buffer = buffer.slice(end + 2);
        }
        if (head) onHead();
      }
    } catch {
      // Cut, refused or aborted: onLost decides (it does nothing once offline).
    }
    if (!controller.signal.aborted) onLost();
  })();
  return { close: () => controller.abort() };
}

/** A push response rejecting every event of `body` with the server's "too large" code: nothing was stored. */
function tooLargeResponse(body: string, error: ErrorShape): string {
  const code = error.code === 'EVENT_TOO_LARGE' ? 'EVENT_TOO_LARGE' : 'BATCH_TOO_LARGE';
  const message = `the server refused the local batch as too large: ${error.message}`;
  const { events } = JSON.parse(body) as { events: { event_id: string }[] };
  const outcomes = events.map(({ event_id }) => ({ status: 'rejected', event_id, code, actual_version: null, message }));
  return JSON.stringify({ outcomes });
}

function joinUrl(base: string, path: string): string {
  return base.replace(/\/+$/, '') + path;
}

function minPosition(a: number | null, b: number | null): number | null {
  return a === null ? b : b === null ? a : Math.min(a, b);
}

function toShape(error: unknown): ErrorShape {
  if (error instanceof SyncFailure) return error.shape;
  if (typeof error === 'object' && error !== null && typeof (error as ErrorShape).code === 'string') {
    const { name, code, message, ...details } = error as ErrorShape;
    return { name, code, message: String(message), ...details };
  }
  return { code: 'INTERNAL', message: String(error) };
}

/** A conflict as the wasm layer encodes it (`data` embedded JSON, or base64). */
interface WireConflict extends Omit<SyncConflict, 'data'> {
  data?: unknown;
  dataBase64?: string;
}

function decodeConflicts(json: string): SyncConflict[] {
  return (JSON.parse(json) as WireConflict[]).map(({ dataBase64, ...conflict }) => ({
    ...conflict,
    data: dataBase64 === undefined ? (conflict.data ?? null) : base64ToBytes(dataBase64),
  }));
}

function base64ToBytes(text: string): Uint8Array {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

type SubscriberState = {
  /** The host's id, which changes when another tab's worker takes the store over. */
  id: number;
  mode: unknown;
  wire: Record<string, unknown>;
  handler: (event: RecordedEvent) => void | Promise<void>;
  onRewound: (fromPosition: number) => void | Promise<void>;
  onError: (error: unknown, event: RecordedEvent | undefined) => void;
  position: number;
  closed: boolean;
  /** The page being handled, awaited before the subscription is opened again after a takeover. */
  delivering?: Promise<void>;
  /** Set while it is being opened again: the old page stops at the next event. */
  reopening?: boolean;
};

type Waiter = { run: number; resolve: (report: SyncReport) => void; reject: (error: unknown) => void };

type Listeners = {
  status: (status: SyncStatus) => void;
  conflict: (conflicts: SyncConflict[]) => void;
  synced: (report: SyncReport) => void;
};

/**
 * The caller's handle on a store's sync (from `store.sync({ url, token })`). The transport runs where the database
 * lives; this object mirrors its status and relays its conflicts.
 */
export class SyncClient {
  #status: SyncStatus;
  #stopped = false;
  readonly #listeners: { [K in keyof Listeners]: Set<Listeners[K]> } = {
    status: new Set(),
    conflict: new Set(),
    synced: new Set(),
  };
  readonly #waiters: Waiter[] = [];
  /** Conflicts reported since the last round ended, for that round's report. */
  #roundConflicts: SyncConflict[] = [];
  readonly #subscribers = new Map<number, SubscriberState>();

  /** @internal */
  constructor(
    private readonly client: Client,
    status: SyncStatus,
    options: SyncOptions,
  ) {
    this.#status = status;
    if (options.onStatus) this.#listeners.status.add(options.onStatus);
    // In a browser, the page learns first when the network returns: skip the rest of the backoff.
    const page = globalThis as { addEventListener?: typeof addEventListener; document?: unknown };
    if (page.document !== undefined && typeof page.addEventListener === 'function') {
      page.addEventListener('online', this.#onNetwork);
    }
    if (options.onConflict) this.#listeners.conflict.add(options.onConflict);
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

  /** Listens to `'status'`, `'conflict'` (events the server rejected) or `'synced'` (a round ended); returns the unsubscribe function. */
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

  /** Runs a push/pull round now (or waits for the one that covers this call); rejects when it fails or offline. */
  async syncNow(): Promise<SyncReport> {
    const run = await this.client.call('syncNow');
    return new Promise((resolve, reject) => this.#waiters.push({ run, resolve, reject }));
  }

  /**
   * Subscribes to the log as sync shapes it: confirmed events only (default), or also pending ones with rewind
   * notices (see {@link SyncedSubscriptionOptions.mode}). History first, then live: events the server sends and
   * this store's appends. Delivery runs on the caller's side, one page at a time.
   */
  async subscribe(
    options: SyncedSubscriptionOptions,
    handler: (event: RecordedEvent) => void | Promise<void>,
  ): Promise<SyncedSubscription> {
    if (typeof options !== 'object' || options === null) throw invalidSync('options', 'must be an object');
    for (const key of Object.keys(options)) {
      if (!SUBSCRIBE_KEYS.includes(key)) throw invalidSync(`options.${key}`, 'is not an option');
    }
    if (typeof handler !== 'function') throw invalidSync('handler', 'must be a function');
    const { mode = 'confirmed', onRewound = () => {}, onError = defaultOnError, ...wire } = options;
    for (const [name, value] of [['onRewound', onRewound], ['onError', onError]] as const) {
      if (typeof value !== 'function') throw invalidSync(`options.${name}`, 'must be a function');
    }
    const id = await this.client.call('syncSubscribe', mode, wire);
    const state: SubscriberState = { id, mode, wire, handler, onRewound, onError, position: 0, closed: false };
    this.#subscribers.set(id, state);
    this.client.call('syncAck', id).catch((error: unknown) => state.onError(error, undefined));
    return {
      get position() {
        return state.position;
      },
      unsubscribe: async () => {
        if (state.closed) return;
        state.closed = true;
        this.#subscribers.delete(state.id);
        await this.client.call('syncUnsubscribe', state.id);
      },
    };
  }

  /** Runs a subscriber over one page, then asks for the next. */
  async #deliver(notice: Extract<SyncNotice, { type: 'page' | 'pageError' }>): Promise<void> {
    const state = this.#subscribers.get(notice.synced);
    if (!state) return;
    const page = this.#deliverPage(state, notice);
    state.delivering = page;
    await page;
  }

  async #deliverPage(
    state: SubscriberState,
    notice: Extract<SyncNotice, { type: 'page' | 'pageError' }>,
  ): Promise<void> {
    // The id this page belongs to: after a takeover the subscription has a new id in the new worker, and this page
    // must neither keep running beside the new one's nor ack it.
    const id = notice.synced;
    const current = () => !state.closed && state.id === id && !state.reopening;
    if (notice.type === 'pageError') {
      this.#subscribers.delete(notice.synced);
      state.closed = true;
      state.onError(toEventLiteError(notice.error), undefined);
      return;
    }
    const run = async (call: () => void | Promise<void>, event: RecordedEvent | undefined): Promise<void> => {
      try {
        await call();
      } catch (error) {
        try {
          state.onError(error, event);
        } catch {
          // An onError that throws must not stop delivery either.
        }
      }
    };
    if (notice.rewoundFrom !== undefined) {
      const from = notice.rewoundFrom;
      await run(() => state.onRewound(from), undefined);
      state.position = from;
    }
    for (const event of decodeEvents<RecordedEvent>(notice.events)) {
      if (!current()) return;
      await run(() => state.handler(event), event);
      state.position = event.position;
    }
    if (!current()) return;
    await this.client.call('syncAck', id).catch((error: unknown) => state.onError(error, undefined));
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
    for (const waiter of this.#waiters.splice(0)) waiter.reject(toEventLiteError(STOPPED));
  }

  /**
   * @internal The store's host changed (the owning tab closed and this tab's or another's worker took over): start
   * sync there again with the same options and state, and reopen the synced subscriptions after what they delivered.
   */
  async _reconnected(start: SyncStartRequest): Promise<void> {
    if (this.#stopped) return;
    try {
      this.#setStatus(await this.client.call('syncStart', { ...start, online: this.#status.state !== 'offline' }));
    } catch (error) {
      console.error('eventlite: could not restart sync after the store changed hands', error);
    }
    const states = [...this.#subscribers];
    // Stop every page in flight at its next event before opening anything again.
    for (const [, state] of states) state.reopening = true;
    for (const [oldId, state] of states) {
      await state.delivering?.catch(() => {});
      state.reopening = false;
      try {
        const wire = state.position > 0 ? { ...state.wire, from: state.position } : state.wire;
        const id = await this.client.call('syncSubscribe', state.mode, wire);
        // The new worker's ids restart: oldId may already be another subscription's new id.
        if (this.#subscribers.get(oldId) === state) this.#subscribers.delete(oldId);
        if (state.closed) {
          await this.client.call('syncUnsubscribe', id);
          continue;
        }
        state.id = id;
        this.#subscribers.set(id, state);
        await this.client.call('syncAck', id);
      } catch (error) {
        try {
          state.onError(error, undefined);
        } catch {
          // One throwing onError must not stop the others from being opened again.
        }
      }
    }
  }

  /** @internal A notice from the host. */
  _receive(notice: SyncNotice): void {
    if (notice.type === 'page' || notice.type === 'pageError') {
      void this.#deliver(notice);
      return;
    }
    if (this.#stopped) return;
    if (notice.type === 'status') {
      this.#setStatus(notice.status);
    } else if (notice.type === 'conflicts') {
      const conflicts = decodeConflicts(notice.conflicts);
      this.#roundConflicts.push(...conflicts);
      this.#emit('conflict', conflicts);
    } else if (notice.ok) {
      const report: SyncReport = { ...notice.report, conflicts: this.#roundConflicts };
      this.#roundConflicts = [];
      for (const waiter of this.#take(notice.run)) waiter.resolve(report);
      this.#emit('synced', report);
    } else {
      this.#roundConflicts = [];
      const error = toEventLiteError(notice.error);
      for (const waiter of this.#take(notice.run)) waiter.reject(error);
    }
  }

  #take(run: number): Waiter[] {
    const done = this.#waiters.filter((waiter) => waiter.run <= run);
    for (const waiter of done) this.#waiters.splice(this.#waiters.indexOf(waiter), 1);
    return done;
  }

  #setStatus(status: SyncStatus): void {
    this.#status = status;
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
 * Starts syncing the store behind `client` (used by `EventStore.sync`). Routes the host's sync notices to the
 * returned {@link SyncClient}; other deliveries go where they went before.
 */
export async function startSync(client: Client, options: SyncOptions): Promise<SyncClient> {
  if (typeof options !== 'object' || options === null) throw invalidSync('options', 'must be an object');
  const { url, token, batchSize = 500, online = true, limits = {}, onConflict, onStatus } = options;
  if (typeof url !== 'string' || url === '') throw invalidSync('options.url', 'must be a URL');
  if (typeof token !== 'string' || token === '') throw invalidSync('options.token', 'must be a non-empty string');
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > MAX_BATCH) {
    throw invalidSync('options.batchSize', `must be an integer from 1 to ${MAX_BATCH}`);
  }
  if (typeof limits !== 'object' || limits === null) throw invalidSync('options.limits', 'must be an object');
  const wireLimits: SyncLimits = {};
  for (const key of Object.keys(limits) as (keyof SyncLimits)[]) {
    const value = limits[key];
    if (!['maxEvents', 'maxBytes', 'maxEventSize'].includes(key)) throw invalidSync(`options.limits.${key}`, 'is not a limit');
    if (value === undefined) continue;
    if (!Number.isSafeInteger(value) || value < 1) throw invalidSync(`options.limits.${key}`, 'must be a positive integer');
    wireLimits[key] = value;
  }
  for (const [name, value] of [['onConflict', onConflict], ['onStatus', onStatus]] as const) {
    if (value !== undefined && typeof value !== 'function') throw invalidSync(`options.${name}`, 'must be a function');
  }
  let absolute: string;
  try {
    const page = (globalThis as { location?: { href: string } }).location?.href;
    absolute = new URL(url, page).href;
  } catch {
    throw invalidSync('options.url', 'must be an absolute URL (or relative to the page)');
  }
  let sync: SyncClient | undefined;
  const early: SyncNotice[] = [];
  const previous = client.onDelivery;
  client.onDelivery = (message) => {
    const notice = message as unknown as SyncNotice;
    if (notice.kind !== 'sync') return previous(message);
    if (sync) sync._receive(notice);
    else early.push(notice);
  };
  const request = { url: absolute, token, batchSize, online: Boolean(online), limits: wireLimits };
  const status = await client.call('syncStart', request);
  sync = new SyncClient(client, status, { url, token, onConflict, onStatus });
  for (const notice of early.splice(0)) sync._receive(notice);
  const previousReconnect = client.onReconnect;
  client.onReconnect = () => {
    previousReconnect();
    void sync?._reconnected(request);
  };
  return sync;
}

const defaultOnError = (error: unknown, event: RecordedEvent | undefined): void => {
  console.error('eventlite: a synced subscription handler failed', event ? `at position ${event.position}` : '', error);
};

function invalidSync(argument: string, reason: string): EventLiteError {
  return toEventLiteError({ code: 'INVALID_ARGUMENT', message: `invalid ${argument}: ${reason}`, argument, reason });
}
