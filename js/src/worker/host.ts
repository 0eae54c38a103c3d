/**
 * The host: owns one wasm store and answers {@link Request}s, in a dedicated worker (browser) or on the caller's
 * thread (Node). It never runs user code: after each call returns it polls the subscriptions whose previous page was
 * acknowledged and posts the next page; the caller runs the callbacks, then acks (one page in flight per
 * subscription, so a slow subscriber holds at most one page and never blocks writers).
 */

import { toErrorShape, type ErrorShape } from './errors.js';
import type { HostMessage, HostMethods, OpenRequest, Request } from './protocol.js';
import { SyncHost, type SyncMethods, type SyncStore } from './sync.js';
import type { WasmStore } from './wasm/eventlite_wasm.js';

/** What the host needs from the wasm module (its two entry points differ between browser and Node only in loading). */
export interface WasmModule {
  WasmStore: typeof WasmStore;
  checkStoreName(name: unknown): void;
}

/** Opens the store for a request: OPFS when asked for and available, else memory when allowed. */
export type Opener = (wasm: WasmModule, request: OpenRequest) => Promise<WasmStore>;

/** Opens a memory store (Node, or a browser without OPFS). */
export const openMemory: Opener = async (wasm, request) =>
  wasm.WasmStore.openMemory({ synchronous: request.synchronous, maxEventSize: request.maxEventSize });

/** The calls after which a subscription may have a page to deliver (posted after the call's own answer). */
const pumpAfter = new Set<Request['method']>(['appendToStream', 'ack']);

/** The requests answered by the wasm store's method of the same name (nothing else is callable by name). */
const direct = new Set<string>([
  'appendToStream',
  'readStream',
  'readAll',
  'headPosition',
  'streamVersion',
  'saveCheckpoint',
  'loadCheckpoint',
  'saveSnapshot',
  'loadSnapshot',
]);

export class Host {
  private store: WasmStore | undefined;
  private broken: ErrorShape | undefined;
  /** Open subscriptions: whether a page is waiting for its ack. */
  private readonly subscriptions = new Map<number, { inFlight: boolean }>();
  /** The store's sync transport, created by the first `sync*` request. */
  private sync: SyncHost | undefined;

  constructor(
    private readonly wasm: WasmModule,
    private readonly open: Opener,
    private readonly post: (message: HostMessage) => void,
    private readonly onClose: () => void = () => {},
  ) {}

  /** Answers one request, then delivers what the call made available to subscribers. */
  async handle(request: Request): Promise<void> {
    let changed = false;
    try {
      const value = await this.dispatch(request);
      changed = pumpAfter.has(request.method);
      this.post({ id: request.id, ok: true, value });
    } catch (error) {
      const shape = toErrorShape(error);
      if (shape.code === 'INTERNAL') this.broken = shape; // a trapped wasm instance must not be used again
      this.post({ id: request.id, ok: false, error: shape });
    }
    if (changed) this.pump();
    if (changed && request.method === 'appendToStream') this.sync?.localAppend();
    if (request.method === 'close') this.onClose();
  }

  private async dispatch({ method, args }: Request): Promise<unknown> {
    if (this.broken) throw { ...this.broken };
    if (method === 'open') {
      const request = args[0] as OpenRequest;
      this.wasm.checkStoreName(request.name);
      this.store = await this.open(this.wasm, request);
      return { storageMode: this.store.storageMode };
    }
    const store = this.store;
    if (!store) throw { name: 'EventLiteError', code: 'STORE_CLOSED', message: 'the store is closed' };
    if (method.startsWith('sync')) {
      // Sync notices share the channel with subscription pages; `startSync` (sync.ts) routes them on the caller's side.
      this.sync ??= new SyncHost(
        () => this.store as unknown as SyncStore | undefined,
        (notice) => this.post(notice as unknown as HostMessage),
        () => this.pump(),
      );
      return this.sync.call(method as keyof SyncMethods, args);
    }
    switch (method) {
      case 'close':
        this.sync?.stop();
        this.sync = undefined;
        this.subscriptions.clear();
        this.store = undefined;
        store.close();
        store.free();
        return undefined;
      case 'ack': {
        const subscription = this.subscriptions.get(args[0] as number);
        if (subscription) subscription.inFlight = false;
        return undefined;
      }
      case 'subscribeToAll':
      case 'subscribeToStream': {
        const id = method === 'subscribeToAll' ? store.subscribeToAll(args[0]) : store.subscribeToStream(args[0], args[1]);
        // Nothing is delivered until the caller's first `ack`: it must know the id before pages arrive.
        this.subscriptions.set(id, { inFlight: true });
        return id;
      }
      case 'unsubscribe':
        this.subscriptions.delete(args[0] as number);
        store.unsubscribe(args[0] as number);
        return undefined;
      default: {
        if (!direct.has(method)) {
          throw { name: 'EventLiteError', code: 'INVALID_ARGUMENT', message: `unknown method ${String(method)}` };
        }
        const call = (store as unknown as Record<string, (...a: unknown[]) => unknown>)[method];
        return (call as (...a: unknown[]) => unknown).apply(store, args);
      }
    }
  }

  /** Posts the next page of every subscription that has none in flight. */
  private pump(): void {
    const store = this.store;
    if (!store) return;
    for (const [id, subscription] of this.subscriptions) {
      if (subscription.inFlight) continue;
      try {
        const events = store.poll(id);
        if (events === undefined) continue;
        subscription.inFlight = true;
        this.post({ kind: 'events', subscription: id, events });
      } catch (error) {
        this.subscriptions.delete(id);
        store.unsubscribe(id);
        this.post({ kind: 'subscriptionError', subscription: id, error: toErrorShape(error) });
      }
    }
  }
}

export type { HostMethods };
