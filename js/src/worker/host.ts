/**
 * The host: owns one wasm store and answers {@link Request}s, in a dedicated worker (browser) or on the caller's
 * thread (Node). It never runs user code: after each call returns it posts the pages the call made available
 * ({@link Pages}); the caller runs the callbacks, then acks. After each commit it polls the watched queries
 * ({@link Watches}).
 */

import { EventLiteError, toErrorShape, type ErrorShape } from '../common/errors.js';
import type { HostMessage, OpenRequest, Request } from '../common/protocol.js';
import type { WasmStore } from '../wasm/eventlite_wasm.js';
import { Pages } from './pages.js';
import { SyncHost, type WasmSync } from './sync.js';
import { Watches } from './watches.js';

/** What the host needs from the wasm module (its two entry points differ between browser and Node only in loading). */
export interface WasmModule extends WasmSync {
  WasmStore: typeof WasmStore;
  checkStoreName(name: unknown): void;
}

/**
 * Opens the store for a request: OPFS when asked for and available, else memory when allowed; a file (Node-API
 * addon) when the request has a path. `changed` is for stores that learn of commits by other processes: call it
 * when the log may have changed, and the host delivers to its subscribers.
 */
export type Opener = (wasm: WasmModule, request: OpenRequest, changed: () => void) => Promise<WasmStore>;

/** Opens a memory store (Node, or a browser without OPFS). */
export const openMemory: Opener = async (wasm, request) =>
  wasm.WasmStore.openMemory({ synchronous: request.synchronous, maxEventSize: request.maxEventSize });

/** The calls after which a subscription may have a page to deliver (posted after the call's own answer). */
const pumpAfter = new Set<Request['method']>(['appendToStream', 'ack']);

/** The calls that may change a projection's tables: watches are polled after them. */
const commits = new Set<Request['method']>(['appendToStream', 'registerProjection', 'dropProjection']);

const CLOSED: ErrorShape = { name: 'EventLiteError', code: 'STORE_CLOSED', message: 'the store is closed' };

/**
 * Whether `error` may have left the wasm instance unusable: a trap, a stack overflow, a panic. Errors the store
 * throws on purpose (typed, `name: 'EventLiteError'`, argument conversions included) leave it as it was.
 */
function trapped(error: unknown): boolean {
  if (error instanceof EventLiteError) return false;
  return !(typeof error === 'object' && error !== null && (error as { name?: unknown }).name === 'EventLiteError');
}

/** The calls a file store retries while another process holds the write lock: the store's own calls (a
 * `STORAGE_BUSY` call did nothing: its transaction could not begin, so calling it again is safe), not sync's (sync
 * retries with its own backoff) nor those that move this host's state (acks, watches, close). */
const NOT_RETRIED = new Set<Request['method']>(['close', 'ack', 'unsubscribe', 'watch', 'unwatch']);
function retriesWhenBusy(method: Request['method']): boolean {
  return !method.startsWith('sync') && !NOT_RETRIED.has(method);
}

/** Waits `ms` milliseconds without blocking the event loop. */
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export class Host {
  private store: WasmStore | undefined;
  private broken: ErrorShape | undefined;
  /** A file store's busy timeout: its native one is short, and calls are retried here, off the event loop. */
  private busyTimeoutMs = 0;
  private readonly pages: Pages<string>;
  private readonly watches: Watches;
  /** The store's sync transport, created by the first `sync*` request. */
  private sync: SyncHost | undefined;

  constructor(
    private readonly wasm: WasmModule,
    private readonly open: Opener,
    private readonly post: (message: HostMessage) => void,
    private readonly onClose: () => void = () => {},
  ) {
    this.pages = new Pages(
      (subscription, events) => post({ kind: 'events', subscription, events }),
      (subscription, error) => post({ kind: 'subscriptionError', subscription, error }),
    );
    this.watches = new Watches(() => this.store, post);
  }

  /** Answers one request, then delivers what the call made available to subscribers. */
  async handle(request: Request): Promise<void> {
    let changed = false;
    try {
      const value = await this.#dispatchRetryingBusy(request);
      changed = pumpAfter.has(request.method);
      this.post({ id: request.id, ok: true, value });
      if (commits.has(request.method)) this.watches.schedule();
    } catch (error) {
      const shape = toErrorShape(error);
      if (shape.code === 'INTERNAL' && trapped(error)) this.broken = shape; // a trapped instance is not used again
      this.post({ id: request.id, ok: false, error: shape });
    }
    if (changed) this.pages.pump();
    if (changed && request.method === 'appendToStream') this.sync?.localAppend();
    if (request.method === 'close') this.onClose();
  }

  /**
   * Dispatches `request`; while it fails with `STORAGE_BUSY` (another process holds a file store's write lock, and
   * the store's native busy timeout is short, see `addon.ts`), calls it again after a growing delay, until the
   * store's `busyTimeoutMs` has passed. The event loop runs in between; later requests wait, so order is kept.
   */
  async #dispatchRetryingBusy(request: Request): Promise<unknown> {
    if (request.method === 'open') {
      const open = request.args[0] as OpenRequest;
      this.busyTimeoutMs = open.path !== undefined ? (open.busyTimeoutMs ?? 0) : 0;
    }
    const started = Date.now();
    for (let delay = 2; ; delay = Math.min(delay * 2, 50)) {
      try {
        return await this.dispatch(request);
      } catch (error) {
        const busy = (error as { code?: unknown } | null)?.code === 'STORAGE_BUSY';
        if (!busy || !retriesWhenBusy(request.method) || Date.now() - started + delay > this.busyTimeoutMs) throw error;
      }
      await sleep(delay);
    }
  }

  /** Another process (or connection) may have committed: deliver what subscribers have not seen yet. */
  #changed(): void {
    if (!this.store) return;
    this.pages.pump();
    this.watches.schedule();
    this.sync?.localAppend();
  }

  private async dispatch({ method, args }: Request): Promise<unknown> {
    if (this.broken) throw { ...this.broken };
    if (method === 'open') {
      const request = args[0] as OpenRequest;
      if (request.path === undefined) this.wasm.checkStoreName(request.name); // a file store is named by its path
      this.store = await this.open(this.wasm, request, () => this.#changed());
      return { storageMode: this.store.storageMode };
    }
    const store = this.store;
    if (!store) throw { ...CLOSED };
    switch (method) {
      case 'appendToStream':
        return store.appendToStream(args[0], args[1], args[2]);
      case 'readStream':
        return store.readStream(args[0], args[1]);
      case 'readAll':
        return store.readAll(args[0]);
      case 'headPosition':
        return store.headPosition();
      case 'streamVersion':
        return store.streamVersion(args[0]);
      case 'saveCheckpoint':
        return store.saveCheckpoint(args[0], args[1]);
      case 'loadCheckpoint':
        return store.loadCheckpoint(args[0]);
      case 'saveSnapshot':
        return store.saveSnapshot(args[0], args[1], args[2], args[3]);
      case 'loadSnapshot':
        return store.loadSnapshot(args[0], args[1]);
      case 'registerProjection':
        return store.registerProjection(args[0]);
      case 'dropProjection':
        return store.dropProjection(args[0]);
      case 'projections':
        return store.projections();
      case 'query':
        return store.query(args[0], args[1]);
      case 'watch':
        return this.watches.open(args[0], args[1]);
      case 'unwatch':
        this.watches.close(args[0] as number);
        return undefined;
      case 'subscribeToAll':
      case 'subscribeToStream': {
        const id = method === 'subscribeToAll' ? store.subscribeToAll(args[0]) : store.subscribeToStream(args[0], args[1]);
        this.pages.open(id, { poll: () => store.poll(id), close: () => store.unsubscribe(id) });
        return id;
      }
      case 'ack':
        this.pages.ack(args[0] as number);
        return undefined;
      case 'unsubscribe':
        this.pages.close(args[0] as number);
        return undefined;
      case 'close':
        this.sync?.stop();
        this.sync = undefined;
        this.pages.closeAll();
        this.watches.closeAll();
        this.store = undefined;
        store.close();
        store.free();
        return undefined;
      case 'syncStart':
      case 'syncStop':
      case 'syncNow':
      case 'syncSetOnline':
      case 'syncReconnect':
      case 'syncStatus':
      case 'syncConflicts':
      case 'syncDismissConflict':
      case 'syncSubscribe':
      case 'syncAck':
      case 'syncUnsubscribe':
        // Sync notices share the channel with subscription pages; the page side's Client routes them by kind.
        this.sync ??= new SyncHost(
          this.wasm,
          () => this.store,
          (notice) => this.post(notice),
          () => this.pages.pump(),
          () => this.watches.schedule(),
        );
        return this.sync.call(method, args);
      default: {
        // Requests arrive over a message channel: a name outside the protocol is refused, never guessed at.
        const unknown: string = method;
        throw { name: 'EventLiteError', code: 'INVALID_ARGUMENT', message: `unknown method ${unknown}` };
      }
    }
  }
}
