/**
 * The messages between the caller's thread and the store's host (a dedicated worker in the browser, the same thread
 * in Node). Everything is structured-cloneable; event pages travel as JSON text.
 */

import type { ErrorShape } from './errors.js';
import type { SyncMethods } from './sync.js';

/** What `open` needs. */
export interface OpenRequest {
  name: string;
  storage: 'auto' | 'opfs' | 'memory';
  synchronous?: 'normal' | 'full';
  maxEventSize?: number;
  openTimeoutMs: number;
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

/** Anything the host sends. */
export type HostMessage = Response | Delivery | SubscriptionFailure;

/** The host's methods, by name, with their wire arguments and results (`sync*`: see `sync.ts`). */
export interface HostMethods extends SyncMethods {
  open(request: OpenRequest): { storageMode: 'opfs' | 'memory' };
  appendToStream(
    stream: unknown,
    events: string,
    expected: unknown,
  ): { streamVersion: number; positions: number[]; alreadyAppended: boolean };
  readStream(stream: unknown, options: unknown): { events: string; version: number };
  readAll(options: unknown): { events: string; headPosition: number };
  headPosition(): number;
  streamVersion(stream: unknown): number;
  subscribeToAll(options: unknown): number;
  subscribeToStream(stream: unknown, options: unknown): number;
  ack(subscription: number): void;
  unsubscribe(subscription: number): void;
  saveCheckpoint(name: unknown, position: unknown): void;
  loadCheckpoint(name: unknown): number | undefined;
  saveSnapshot(stream: unknown, version: unknown, state: string, schemaTag: unknown): void;
  loadSnapshot(stream: unknown, schemaTag: unknown): string | undefined;
  close(): void;
}
