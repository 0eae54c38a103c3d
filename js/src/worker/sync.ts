/**
 * The sync transport (`docs/sync-protocol.md`), on the worker side: it runs where the database lives (the dedicated
 * worker in the browser, the caller's thread in Node) and only moves bytes. Core decides everything else, through
 * the wasm layer (`wasm/src/driver.rs`):
 * - a `SyncDriver` per sync says what to send next (pushes within the server's limits, halved after a `413`; pulls
 *   until the head), what each answer means, and, after a failure, how long to wait before the next round (backoff
 *   with jitter, the longest delay when retrying cannot help);
 * - a `LiveFeed` reads the live stream's bytes (`live.ts`) and says when to connect again.
 * This file sends the requests (`fetch`, with a timeout), keeps the timers, and coalesces the requests for a round:
 * an append, a live notification or `syncNow` while a round runs asks for one more round after it.
 */

import { SYNC_STOPPED, type ErrorShape } from '../common/errors.js';
import type { SyncMethods, SyncNotice, SyncStartRequest } from '../common/protocol.js';
import type { ProjectionFailure, SyncState, SyncStatus } from '../common/types.js';
import type {
  LiveFeed,
  SyncDriver,
  SyncedPageWire,
  SyncStepWire,
  WasmErrorShape,
  WasmStore,
} from '../wasm/eventlite_wasm.js';
import { LiveConnection } from './live.js';
import { explainFetchFailure } from './network.js';
import { Pages } from './pages.js';

/** The wasm classes the transport drives. */
export interface WasmSync {
  SyncDriver: typeof SyncDriver;
  LiveFeed: typeof LiveFeed;
}

/** How long a push or a pull may take before it counts as a transport failure (retried with backoff). */
const REQUEST_TIMEOUT_MS = 30_000;

const CLOSED: ErrorShape = { name: 'EventLiteError', code: 'STORE_CLOSED', message: 'the store is closed' };

/**
 * The worker side of one store's sync, created on the first `sync*` request. Runs one round at a time; requests for
 * a round while one runs coalesce into one more round after it.
 */
export class SyncHost {
  #options: SyncStartRequest | undefined;
  #online = false;
  /** The sync in progress: rounds until one succeeds (a new driver for the next request after that). */
  #driver: SyncDriver | undefined;
  #abort = new AbortController();
  #live: LiveConnection | undefined;
  /** The wait after a failed round. */
  #retryTimer: ReturnType<typeof setTimeout> | undefined;
  #running = false;
  #again = false;
  /** Rounds started: a `done` notice names the round it ends. */
  #started = 0;
  #lastSyncedAt: number | null = null;
  #lastError: SyncStatus['lastError'] = null;
  readonly #pages: Pages<SyncedPageWire>;
  #nextSubscription = 1;

  constructor(
    private readonly wasm: WasmSync,
    private readonly store: () => WasmStore | undefined,
    private readonly post: (notice: SyncNotice) => void,
    /** Called after a round changed the log, so the host can deliver to its subscribers. */
    private readonly onChanged: () => void,
    /**
     * Called after each answer the round applied (a pull, a push result: confirmations move confirmed-only
     * projections even when the log is unchanged), so the host polls its watched queries.
     */
    private readonly onApplied: () => void = () => {},
  ) {
    this.#pages = new Pages(
      (synced, page) => post({ kind: 'sync', type: 'page', synced, rewoundFrom: page.rewoundFrom, events: page.events }),
      (synced, error) => post({ kind: 'sync', type: 'pageError', synced, error }),
    );
  }

  /** Answers a `sync*` request. */
  call(method: keyof SyncMethods, args: unknown[]): unknown {
    switch (method) {
      case 'syncStart': {
        const options = args[0] as SyncStartRequest;
        const same = (a: SyncStartRequest) => JSON.stringify({ ...a, online: undefined });
        if (this.#options && same(options) === same(this.#options)) {
          // The same sync again (another tab restarting it after an owner change): keep the round in progress.
          this.#setOnline(options.online);
          return this.#status();
        }
        this.#disconnect();
        // The wasm layer checks the options (unknown limits, zero values) now, not at the first round.
        new this.wasm.SyncDriver(this.#store(), { batchSize: options.batchSize, limits: options.limits }).free();
        this.#options = options;
        this.#setOnline(options.online);
        return this.#status();
      }
      case 'syncStop':
        this.#disconnect();
        this.#options = undefined;
        this.#postStatus();
        return undefined;
      case 'syncNow': {
        if (!this.#options || !this.#online) throw { ...SYNC_STOPPED };
        // The round that covers this request: the one starting now, or the one after the running round (which may
        // have read the pending events before this call).
        const wasRunning = this.#running;
        this.#request();
        return wasRunning ? this.#started + 1 : this.#started;
      }
      case 'syncSetOnline':
        if (!this.#options) throw { ...SYNC_STOPPED, message: 'sync is not started' };
        this.#setOnline(Boolean(args[0]));
        return this.#status();
      case 'syncReconnect':
        if (!this.#options || !this.#online) return undefined;
        this.#driver?.retryNow();
        this.#live?.reconnectNow();
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
        this.#pages.open(id, { poll: () => cursor.poll(), close: () => cursor.free() });
        return id;
      }
      case 'syncAck':
        this.#pages.ack(args[0] as number);
        this.#pages.pump();
        return undefined;
      case 'syncUnsubscribe':
        this.#pages.close(args[0] as number);
        return undefined;
    }
  }

  /** A local append: deliver it to synced subscribers, report the new pending count, and push it when online. */
  localAppend(): void {
    this.#pages.pump();
    if (!this.#options) return;
    this.#postStatus();
    if (this.#online) this.#request();
  }

  /** The store is closing: disconnect, and release the synced subscriptions (they hold its connection). */
  stop(): void {
    this.#disconnect();
    this.#pages.closeAll();
  }

  /** The log changed (a round): deliver to the host's subscribers and to the synced ones. */
  #changed(): void {
    this.onChanged();
    this.#pages.pump();
  }

  /** Goes offline: closes the live stream, aborts requests in flight, cancels timers, drops the sync in progress. */
  #disconnect(): void {
    this.#online = false;
    this.#abort.abort();
    this.#abort = new AbortController();
    this.#live?.close();
    this.#live = undefined;
    clearTimeout(this.#retryTimer);
    this.#retryTimer = undefined;
    this.#driver?.free();
    this.#driver = undefined;
  }

  #setOnline(online: boolean): void {
    if (online === this.#online) return;
    if (!online) {
      this.#disconnect();
      this.#postStatus();
      return;
    }
    const options = this.#options;
    if (!options) return;
    this.#online = true;
    const live = new LiveConnection(
      new this.wasm.LiveFeed(),
      this.wasm.LiveFeed.silenceMs(),
      joinUrl(options.url, '/v1/live'),
      options.token,
      {
        head: (first) => {
          if (first) this.#postStatus(); // now 'online'
          this.#request();
        },
        lost: (error) => {
          this.#lastError = brief(error);
          this.#postStatus();
        },
      },
    );
    this.#live = live;
    live.open();
    this.#request();
    this.#postStatus();
  }

  #store(): WasmStore {
    const store = this.store();
    if (!store) throw { ...CLOSED };
    return store;
  }

  #status(): SyncStatus {
    const store = this.store();
    const counters = store?.syncStatus() ?? { replicaId: '', pending: 0, confirmedThrough: 0, conflicts: 0, logResets: 0 };
    return {
      state: this.#state(),
      replicaId: counters.replicaId,
      pending: counters.pending,
      confirmedThrough: counters.confirmedThrough,
      conflicts: counters.conflicts,
      logResets: counters.logResets,
      syncing: this.#running,
      lastSyncedAt: this.#lastSyncedAt,
      lastError: this.#lastError,
      failedProjections: failedProjections(store),
    };
  }

  /** Offline; refused; failed in a way waiting cannot fix (core's retry class); live; or still trying. */
  #state(): SyncState {
    if (!this.#online) return 'offline';
    if (this.#lastError?.code === 'UNAUTHORIZED') return 'unauthorized';
    if (this.#lastError?.retryable === false) return 'error';
    return this.#live?.connected ? 'online' : 'connecting';
  }

  #postStatus(): void {
    if (!this.store()) return;
    this.post({ kind: 'sync', type: 'status', status: this.#status() });
  }

  /** Asks for a round: starts one now (cutting a wait short), or one more after the running one. */
  #request(): void {
    if (this.#running) {
      this.#again = true;
      return;
    }
    clearTimeout(this.#retryTimer);
    this.#retryTimer = undefined;
    void this.#round();
  }

  /** Runs one round of the driver: sends what it asks for until it says the round is over. */
  async #round(): Promise<void> {
    const store = this.store();
    if (!this.#options || !this.#online || !store) return;
    this.#running = true;
    this.#again = false;
    const run = ++this.#started;
    const signal = this.#abort.signal;
    const driver = (this.#driver ??= new this.wasm.SyncDriver(store, {
      batchSize: this.#options.batchSize,
      limits: this.#options.limits,
    }));
    this.#postStatus();
    const step = await this.#steps(driver, signal, run);
    this.#running = false;
    if (step === undefined) {
      // Offline, stopped or closed meanwhile: the driver was freed; nothing to retry.
      this.post({ kind: 'sync', type: 'done', run, ok: false, error: { ...SYNC_STOPPED } });
    } else if (step.kind === 'done') {
      driver.free();
      this.#driver = undefined;
      this.#lastSyncedAt = Date.now();
      this.#lastError = null;
      this.#live?.synced();
      this.#postStatus(); // before 'done', so a caller awaiting syncNow sees the new counters
      this.post({ kind: 'sync', type: 'done', run, ok: true, report: step.report });
    } else {
      if (step.kind === 'failed') {
        driver.free();
        this.#driver = undefined;
      }
      this.#lastError = brief(step.error);
      this.#postStatus();
      this.post({ kind: 'sync', type: 'done', run, ok: false, error: step.error });
      if (step.kind === 'wait' && !this.#again) {
        this.#retryTimer = setTimeout(() => {
          this.#retryTimer = undefined;
          this.#request();
        }, step.delayMs);
      }
    }
    if (this.#again) this.#request();
  }

  /** Sends what the driver asks for until the round is over; `undefined` when it was cut (offline, closed). */
  async #steps(
    driver: SyncDriver,
    signal: AbortSignal,
    run: number,
  ): Promise<Exclude<SyncStepWire, { kind: 'send' }> | undefined> {
    for (;;) {
      const step = driver.nextStep();
      this.#news(driver, run);
      if (step.kind !== 'send') return step;
      const answer = await this.#send(step, signal);
      if (signal.aborted || !this.store()) return undefined;
      if (answer.ok) driver.onResponse(answer.status, answer.body);
      else driver.onTransportError(answer.message);
      this.#news(driver, run);
    }
  }

  /** Tells the caller about events set aside in round `run`, and the subscribers about a changed log. */
  #news(driver: SyncDriver, run: number): void {
    const conflicts = driver.takeNewConflicts();
    if (conflicts !== undefined) this.post({ kind: 'sync', type: 'conflicts', run, conflicts });
    if (driver.takeLogChanged() || conflicts !== undefined) this.#changed();
    this.onApplied();
  }

  /** Sends one request of the driver's; resolves with the answer, or with why there was none. */
  async #send(
    step: Extract<SyncStepWire, { kind: 'send' }>,
    signal: AbortSignal,
  ): Promise<{ ok: true; status: number; body: Uint8Array } | { ok: false; message: string }> {
    const options = this.#options;
    if (!options) return { ok: false, message: 'sync is stopped' };
    const headers: Record<string, string> = { authorization: `Bearer ${options.token}` };
    if (step.body !== null) headers['content-type'] = 'application/json';
    const url = joinUrl(options.url, step.path);
    try {
      const response = await fetch(url, {
        method: step.method,
        headers,
        body: step.body ?? undefined,
        signal: AbortSignal.any([signal, AbortSignal.timeout(REQUEST_TIMEOUT_MS)]),
      });
      return { ok: true, status: response.status, body: new Uint8Array(await response.arrayBuffer()) };
    } catch (error) {
      const why = signal.aborted ? String(error) : await explainFetchFailure(url, error);
      return { ok: false, message: `${step.method} ${step.path}: ${why}` };
    }
  }
}

/** The projections a pulled event made fail (statuses are a small read; the status is posted per round). */
function failedProjections(store: WasmStore | undefined): ProjectionFailure[] {
  if (!store) return [];
  const failed: ProjectionFailure[] = [];
  let statuses: ReturnType<WasmStore['projections']>;
  try {
    statuses = store.projections();
  } catch {
    return []; // the status must not fail: the storage error shows on the next call that needs the database
  }
  for (const { name, failure } of statuses) {
    if (failure) failed.push({ name, position: failure.position, eventId: failure.eventId, message: failure.message });
  }
  return failed;
}

/** The status's form of a failure: code, message, and the details callers act on. */
function brief(error: WasmErrorShape): NonNullable<SyncStatus['lastError']> {
  const out: NonNullable<SyncStatus['lastError']> = { code: error.code, message: error.message };
  if (typeof error.retryable === 'boolean') out.retryable = error.retryable;
  if (typeof error.status === 'number') out.status = error.status;
  return out;
}

function joinUrl(base: string, path: string): string {
  return base.replace(/\/+$/, '') + path;
}
