/**
 * The messages between the caller's thread (the page side) and the store's host (the worker side: a dedicated worker
 * in the browser, the same thread in Node). Everything is structured-cloneable; event pages travel as JSON text.
 *
 * The store's own calls are typed by the wasm layer's declarations (`wasm/src`, generated into `../wasm`): this file
 * names which of them the host answers as they are, and adds the host's own methods.
 */

import type { QueryRowsWire, RoundReportWire, StoreOptionsWire, WasmStore } from '../wasm/eventlite_wasm.js';
import type { ErrorShape } from './errors.js';
import type { StorageMode, SyncLimits, SyncStatus } from './types.js';

/** What `open` needs. */
export interface OpenRequest {
  name: string;
  storage: 'auto' | 'opfs' | 'memory';
  /** A file store's path (Node-API addon); absent for OPFS and memory stores. */
  path?: string;
  synchronous?: StoreOptionsWire['synchronous'];
  maxEventSize?: number;
  openTimeoutMs: number;
  /** A file store's: how long a call retries while another process holds the write lock (`STORAGE_BUSY`). */
  busyTimeoutMs?: number;
}

/** A call to the host. `method` names a {@link HostMethods} entry. */
export interface Request {
  id: number;
  method: keyof HostMethods;
  args: unknown[];
}

/** The host's answer to one request. */
export type Response = { id: number; ok: true; value: unknown } | { id: number; ok: false; error: ErrorShape };

/** A page of events for a subscription; the host sends the next only after an `ack`. */
export interface Delivery {
  kind: 'events';
  subscription: number;
  events: string;
}

/** A subscription that failed while polling; the host has closed it. */
export interface SubscriptionFailure {
  kind: 'subscriptionError';
  subscription: number;
  error: ErrorShape;
}

/** A watched query's fresh rows: after it opened, and after each commit that changed a table it reads. */
export interface WatchRows {
  kind: 'rows';
  watch: number;
  rows: QueryRowsWire;
}

/** A watched query failed when re-run (e.g. `PROJECTION_FAILED`); it stays open and answers again once it can. */
export interface WatchFailure {
  kind: 'watchError';
  watch: number;
  error: ErrorShape;
}

/** What the host posts about watched queries. */
export type WatchNotice = WatchRows | WatchFailure;

/** What the host posts to the caller about sync. */
export type SyncNotice =
  | { kind: 'sync'; type: 'status'; status: SyncStatus }
  /** Events set aside (JSON array of conflicts) in round `run`, as they happen. */
  | { kind: 'sync'; type: 'conflicts'; run: number; conflicts: string }
  | { kind: 'sync'; type: 'done'; run: number; ok: true; report: RoundReportWire }
  | { kind: 'sync'; type: 'done'; run: number; ok: false; error: ErrorShape }
  // `synced`, not `subscription`: these ids are not the store's subscription ids (tabs route those).
  | { kind: 'sync'; type: 'page'; synced: number; rewoundFrom: number | null; events: string }
  | { kind: 'sync'; type: 'pageError'; synced: number; error: ErrorShape };

/** Anything the host sends that is not an answer. */
export type HostNotice = Delivery | SubscriptionFailure | WatchNotice | SyncNotice;

/** Anything the host sends. */
export type HostMessage = Response | HostNotice;

/** The store calls the host answers with the wasm store's method of the same name and signature. */
export type StoreCall =
  | 'appendToStream'
  | 'readStream'
  | 'readAll'
  | 'headPosition'
  | 'streamVersion'
  | 'saveCheckpoint'
  | 'loadCheckpoint'
  | 'saveSnapshot'
  | 'loadSnapshot'
  | 'registerProjection'
  | 'dropProjection'
  | 'projections'
  | 'query';

/** `syncStart`'s argument: the sync options without the callbacks, the URL made absolute. */
export interface SyncStartRequest {
  url: string;
  token: string;
  batchSize: number;
  online: boolean;
  limits: SyncLimits;
}

/** The host methods sync adds to the protocol (the worker side's `SyncHost` answers them). */
export interface SyncMethods {
  /** Starts (or restarts with new options) the sync of the host's store. */
  syncStart(options: SyncStartRequest): SyncStatus;
  /** Stops it: closes the live stream and aborts requests in flight. */
  syncStop(): void;
  /** Asks for a round; returns the number of the one that covers the call (its `done` notice ends the wait). */
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

/** The host's methods, by name, with their wire arguments and results. */
export interface HostMethods extends Pick<WasmStore, StoreCall>, SyncMethods {
  open(request: OpenRequest): { storageMode: StorageMode };
  subscribeToAll(options: unknown): number;
  subscribeToStream(stream: unknown, options: unknown): number;
  ack(subscription: number): void;
  unsubscribe(subscription: number): void;
  /** Opens a watched query; its rows follow the answer as {@link WatchRows} notices. */
  watch(sql: unknown, params: unknown): number;
  unwatch(watch: number): void;
  close(): void;
}
