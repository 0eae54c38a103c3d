/**
 * The public API: {@link EventStore} and its option and result types. Environment-neutral; the `browser` and
 * `node` entry points supply the transport (a dedicated worker owning the OPFS database, or the same thread).
 *
 * Versions and positions are JS numbers. They are exact up to 2^53 - 1 (`Number.MAX_SAFE_INTEGER`); arguments may
 * also be bigints within that bound, and anything beyond it is refused with `INVALID_ARGUMENT`.
 */

import { Client, type Transport } from './client.js';
import { decodeEvents, encodeEvents, strictJson, toPosition } from './encode.js';
import { EventLiteError, invalidArgument, StoreClosedError, toEventLiteError } from './errors.js';
import type { Delivery, OpenRequest, SubscriptionFailure } from './protocol.js';
import { startSync, type SyncClient, type SyncOptions } from './sync.js';

/** Append whatever the stream's version. */
export const ANY = 'any';
/** Append only if the stream has no events. */
export const NO_STREAM = 'no_stream';
/** Append only if the stream has at least one event. */
export const STREAM_EXISTS = 'stream_exists';

/** An append's expectation: one of the constants, or the exact current version (number or bigint). */
export type ExpectedVersion = typeof ANY | typeof NO_STREAM | typeof STREAM_EXISTS | number | bigint;

/** JSON-serialisable data. */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json | undefined };

/** An event to append. */
export interface EventInput<Data = unknown, Metadata extends Record<string, unknown> = Record<string, unknown>> {
  /** The event type, e.g. `'OrderPlaced'`: non-empty, at most 256 bytes, no control characters. */
  type: string;
  /** JSON-serialisable data (`null` for none), or bytes (`Uint8Array`) with a `contentType`. */
  data: Data;
  /** The MIME type of `Uint8Array` data. */
  contentType?: string;
  /** A plain object; `correlationId` and `causationId` are the conventional keys. */
  metadata?: Metadata;
  /** A UUID. Give one to make retries idempotent across calls; otherwise a UUID v7 is generated. */
  eventId?: string;
}

/** A stored event. */
export interface RecordedEvent<Data = unknown, Metadata extends Record<string, unknown> = Record<string, unknown>> {
  /** Global position: 1-based, increasing in commit order, never reused; may have gaps. */
  position: number;
  eventId: string;
  stream: string;
  /** The event's version in its stream: 1 for the first, dense. */
  version: number;
  type: string;
  /** Parsed JSON, or a `Uint8Array` when `contentType` is not `application/json`. */
  data: Data;
  contentType: string;
  metadata: Metadata | null;
  /** When the store recorded it: ms since the Unix epoch. */
  recordedAt: number;
}

/** What `appendToStream` resolves with, after the transaction has committed. */
export interface AppendResult {
  /** The stream's version after the append. */
  streamVersion: number;
  /** The events' global positions, in batch order. */
  positions: number[];
  /** The events' ids, in batch order (generated ones included): pass them again to retry idempotently. */
  eventIds: string[];
  /** True when this batch had already been appended (a retry): nothing was written. */
  alreadyAppended: boolean;
}

/** Options of `appendToStream`. */
export interface AppendOptions {
  /** Default `ANY`. */
  expectedVersion?: ExpectedVersion;
}

/** `'forwards'` (default) or `'backwards'`. */
export type Direction = 'forwards' | 'backwards';

/** Options of `readStream`. */
export interface ReadStreamOptions {
  /** Inclusive start version; default the first (forwards) or the last (backwards). */
  fromVersion?: number | bigint;
  direction?: Direction;
  /** Default 1,000. */
  maxCount?: number;
}

/** A page of a stream. */
export interface StreamPage<Data = unknown> {
  events: RecordedEvent<Data>[];
  /** The stream's current version (0 when it does not exist). */
  version: number;
}

/** Which events of the log: all conditions must hold; a list matches any of its entries. */
export interface EventFilter {
  /** Streams whose id starts with this. */
  streamPrefix?: string;
  /** Categories: the part of the stream id before the first `-`. */
  categories?: string[];
  eventTypes?: string[];
}

/** Options of `readAll`. */
export interface ReadAllOptions {
  /** Exclusive position: forwards reads after it, backwards before it. Default the start / the end. */
  fromPosition?: number | bigint;
  direction?: Direction;
  /** Default 1,000. */
  maxCount?: number;
  filter?: EventFilter;
}

/** A page of the log. */
export interface LogPage<Data = unknown> {
  events: RecordedEvent<Data>[];
  /** The highest position stored. */
  headPosition: number;
}

/** Options of `subscribeToAll` / `subscribeToStream`. */
export interface SubscriptionOptions {
  /** `'start'` (default), `'end'`, or an exclusive position (`subscribeToAll`) / version (`subscribeToStream`). */
  from?: 'start' | 'end' | number | bigint;
  /** `subscribeToAll` only. */
  filter?: EventFilter;
  /** A named subscription saves its checkpoint after each page it processed and resumes after it (at-least-once). */
  name?: string;
  /** Events per page, default 500. */
  batchSize?: number;
  /** Called when the handler throws (default: `console.error`); delivery continues with the next event. */
  onError?: (error: unknown, event: RecordedEvent | undefined) => void;
}

/** Handles one event; may return a promise, which is awaited before the next event. */
export type EventHandler<Data = unknown> = (event: RecordedEvent<Data>) => void | Promise<void>;

/** A snapshot of a stream's state. */
export interface Snapshot<State = unknown> {
  stream: string;
  /** The stream version the state includes. */
  version: number;
  schemaTag: string;
  state: State;
  recordedAt: number;
}

/** Options of `aggregateStream`. */
export interface AggregateOptions<State, Data = unknown> {
  initial: State;
  evolve: (state: State, event: RecordedEvent<Data>) => State;
  /** Start from the snapshot saved under this tag, if any (snapshots with other tags are ignored). */
  schemaTag?: string;
}

/** What `aggregateStream` resolves with. */
export interface Aggregate<State> {
  state: State;
  /** The stream version the state includes (0 for a stream with no events). */
  version: number;
  /** The version of the snapshot the fold started from, or `null`. */
  snapshotVersion: number | null;
  /** How many events were folded (those after the snapshot). */
  eventsFolded: number;
}

/** Where the events live: `'opfs'` survives reloads; `'memory'` is gone when the store closes. */
export type StorageMode = 'opfs' | 'memory';

/** Options of `openEventStore`. */
export interface OpenOptions {
  /** The store's name: 1 to 64 of `A-Z a-z 0-9 . _ -`, not starting with `.`. */
  name: string;
  /**
   * `'auto'` (default): OPFS when available, else memory (and `storageMode` says so). `'opfs'`: fail with
   * `STORAGE_UNAVAILABLE` rather than fall back. `'memory'`: never persist.
   */
  storage?: 'auto' | 'opfs' | 'memory';
  /** `'normal'` (default): survives a crashed or closed tab. `'full'`: also flushes each commit to disk. */
  synchronous?: 'normal' | 'full';
  /** The largest event accepted, in bytes (type + data + metadata). Default 1 MiB. */
  maxEventSize?: number;
  /** How long to wait for another tab or a reloading page to release the OPFS store. Default 5,000 ms. */
  openTimeoutMs?: number;
}

function checkObject(value: unknown, argument: string, keys: readonly string[]): Record<string, unknown> {
  if (value === undefined || value === null) return {};
  if (typeof value !== 'object' || Array.isArray(value)) throw invalidArgument(argument, 'must be an object');
  const object = value as Record<string, unknown>;
  for (const key of Object.keys(object)) {
    if (!keys.includes(key)) throw invalidArgument(`${argument}.${key}`, 'is not a known option');
  }
  return object;
}

/** A copy of an options object with only its known keys (functions stay on this side). */
function pick(value: unknown, argument: string, keys: readonly string[]): Record<string, unknown> | undefined {
  const object = checkObject(value, argument, keys);
  const out: Record<string, unknown> = {};
  for (const key of keys) if (object[key] !== undefined) out[key] = object[key];
  return out;
}

function checkStream(stream: unknown): string {
  if (typeof stream !== 'string') throw invalidArgument('stream', 'must be a string');
  return stream;
}

function checkExpected(value: unknown): ExpectedVersion {
  if (value === undefined) return ANY;
  if (value === ANY || value === NO_STREAM || value === STREAM_EXISTS) return value;
  if (typeof value === 'string') {
    throw invalidArgument('expectedVersion', 'must be ANY, NO_STREAM, STREAM_EXISTS or a version');
  }
  return toPosition(value, 'expectedVersion');
}

const FILTER_KEYS = ['streamPrefix', 'categories', 'eventTypes'] as const;

function pickFilter(options: Record<string, unknown> | undefined, argument: string): void {
  if (options && options.filter !== undefined) options.filter = pick(options.filter, argument, FILTER_KEYS);
}

/** A live subscription. Pages are delivered one at a time; the next is read only after the handler finished. */
export class Subscription {
  #closed = false;
  #position = 0;
  #version = 0;

  /** @internal */
  constructor(
    /** @internal */ public id: number,
    private readonly store: EventStore,
  ) {}

  /** The position of the last event the handler finished (0 before any). */
  get position(): number {
    return this.#position;
  }

  /** Whether `unsubscribe` was called or the subscription failed. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Stops delivery at once (an event being handled finishes; no further event is delivered). */
  async unsubscribe(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.store._unsubscribe(this);
  }

  /** The stream version of the last event the handler finished (stream subscriptions), else 0. @internal */
  get _version(): number {
    return this.#version;
  }

  /** @internal */
  _advance(position: number, version: number): void {
    this.#position = position;
    this.#version = version;
  }

  /** @internal */
  _close(): void {
    this.#closed = true;
  }
}

interface SubscriptionState {
  subscription: Subscription;
  handler: EventHandler;
  name: string | undefined;
  onError: (error: unknown, event: RecordedEvent | undefined) => void;
  /** What it was opened with, to open it again after another tab took the store over. */
  stream: string | undefined;
  wire: Record<string, unknown>;
  /** The page being handled, awaited before the subscription is opened again after a takeover. */
  delivering?: Promise<void>;
  /** Set while it is being opened again: the old page stops at the next event. */
  reopening?: boolean;
}

const defaultOnError = (error: unknown, event: RecordedEvent | undefined): void => {
  console.error('eventlite: a subscription handler failed', event ? `at position ${event.position}` : '', error);
};

/** An open event store. Every method returns a promise; errors are {@link EventLiteError} subclasses. */
export class EventStore {
  readonly #client: Client;
  readonly #subscriptions = new Map<number, SubscriptionState>();
  #closed = false;

  /** @internal */
  constructor(
    client: Client,
    /** The store's name. */
    readonly name: string,
    /** Where the events live: `'opfs'` persists across reloads, `'memory'` does not. */
    readonly storageMode: StorageMode,
  ) {
    this.#client = client;
    client.onDelivery = (message) => void this.#deliver(message);
    client.onReconnect = () => void this.#reopenSubscriptions();
  }

  #check(): void {
    if (this.#closed) throw new StoreClosedError('STORE_CLOSED', 'the store is closed');
  }

  /**
   * Appends `events` to `stream` atomically if its version satisfies `expectedVersion` (default `ANY`). Resolves
   * after the transaction has committed to storage. A retry of a batch with the same `eventId`s returns the original
   * result with `alreadyAppended: true` and writes nothing.
   */
  async appendToStream(stream: string, events: EventInput[], options?: AppendOptions): Promise<AppendResult> {
    this.#check();
    checkStream(stream);
    const expected = checkExpected(checkObject(options, 'options', ['expectedVersion']).expectedVersion);
    const { json, eventIds } = encodeEvents(events);
    const result = await this.#client.call('appendToStream', stream, json, expected);
    return { ...result, eventIds };
  }

  /** Reads a page of one stream. A stream that does not exist reads as empty at version 0. */
  async readStream<Data = unknown>(stream: string, options?: ReadStreamOptions): Promise<StreamPage<Data>> {
    this.#check();
    checkStream(stream);
    const wire = pick(options, 'options', ['fromVersion', 'direction', 'maxCount']);
    const page = await this.#client.call('readStream', stream, wire);
    return { events: decodeEvents<RecordedEvent<Data>>(page.events), version: page.version };
  }

  /** Reads a page of the whole log (or of the events `filter` selects) after / before an exclusive position. */
  async readAll<Data = unknown>(options?: ReadAllOptions): Promise<LogPage<Data>> {
    this.#check();
    const wire = pick(options, 'options', ['fromPosition', 'direction', 'maxCount', 'filter']);
    pickFilter(wire, 'options.filter');
    const page = await this.#client.call('readAll', wire);
    return { events: decodeEvents<RecordedEvent<Data>>(page.events), headPosition: page.headPosition };
  }

  /** The highest position stored (0 when empty). */
  async headPosition(): Promise<number> {
    this.#check();
    return this.#client.call('headPosition');
  }

  /** A stream's current version (0 when it does not exist). */
  async streamVersion(stream: string): Promise<number> {
    this.#check();
    return this.#client.call('streamVersion', checkStream(stream));
  }

  /** Subscribes to the log: history first, then live events, in order, without gap or duplicate. */
  subscribeToAll<Data = unknown>(options: SubscriptionOptions, handler: EventHandler<Data>): Promise<Subscription>;
  subscribeToAll<Data = unknown>(handler: EventHandler<Data>): Promise<Subscription>;
  async subscribeToAll<Data = unknown>(
    options: SubscriptionOptions | EventHandler<Data>,
    handler?: EventHandler<Data>,
  ): Promise<Subscription> {
    return this.#subscribe(undefined, options, handler);
  }

  /** Subscribes to one stream; a numeric `from` is an exclusive stream version. */
  subscribeToStream<Data = unknown>(
    stream: string,
    options: SubscriptionOptions,
    handler: EventHandler<Data>,
  ): Promise<Subscription>;
  subscribeToStream<Data = unknown>(stream: string, handler: EventHandler<Data>): Promise<Subscription>;
  async subscribeToStream<Data = unknown>(
    stream: string,
    options: SubscriptionOptions | EventHandler<Data>,
    handler?: EventHandler<Data>,
  ): Promise<Subscription> {
    return this.#subscribe(checkStream(stream), options, handler);
  }

  async #subscribe<Data>(
    stream: string | undefined,
    options: SubscriptionOptions | EventHandler<Data>,
    handler: EventHandler<Data> | undefined,
  ): Promise<Subscription> {
    this.#check();
    if (typeof options === 'function') [options, handler] = [{}, options];
    if (typeof handler !== 'function') throw invalidArgument('handler', 'must be a function');
    const keys = ['from', 'filter', 'name', 'batchSize', 'onError'] as const;
    const wire = pick(options, 'options', keys) ?? {};
    const onError = wire.onError ?? defaultOnError;
    if (typeof onError !== 'function') throw invalidArgument('options.onError', 'must be a function');
    delete wire.onError;
    pickFilter(wire, 'options.filter');
    const id =
      stream === undefined
        ? await this.#client.call('subscribeToAll', wire)
        : await this.#client.call('subscribeToStream', stream, wire);
    const subscription = new Subscription(id, this);
    this.#subscriptions.set(id, {
      subscription,
      handler: handler as EventHandler,
      name: typeof wire.name === 'string' ? wire.name : undefined,
      onError: onError as SubscriptionState['onError'],
      stream,
      wire,
    });
    // Starts delivery (history first, then live events); pages arrive after this promise has resolved.
    this.#client.call('ack', id).catch((error: unknown) => {
      if (!this.#closed) (onError as SubscriptionState['onError'])(error, undefined);
    });
    return subscription;
  }

  /** Runs the handler over one page, then saves the checkpoint (named subscriptions) and asks for the next page. */
  async #deliver(message: Delivery | SubscriptionFailure): Promise<void> {
    const state = this.#subscriptions.get(message.subscription);
    if (!state) return;
    const run = this.#deliverPage(state, message);
    state.delivering = run;
    await run;
  }

  async #deliverPage(state: SubscriptionState, message: Delivery | SubscriptionFailure): Promise<void> {
    const { subscription, handler, onError, name } = state;
    // The id this page belongs to: after a takeover the subscription has a new id in the new worker, and this page
    // must neither keep running beside the new one's nor ack it.
    const id = message.subscription;
    const current = () => !subscription.closed && subscription.id === id && !state.reopening;
    if (message.kind === 'subscriptionError') {
      this.#subscriptions.delete(message.subscription);
      subscription._close();
      onError(toEventLiteError(message.error), undefined);
      return;
    }
    for (const event of decodeEvents<RecordedEvent>(message.events)) {
      if (!current()) return;
      try {
        await handler(event);
      } catch (error) {
        try {
          onError(error, event);
        } catch {
          // An onError that throws must not stop delivery either.
        }
      }
      subscription._advance(event.position, event.version);
    }
    if (!current() || this.#closed) return;
    try {
      if (name !== undefined) await this.#client.call('saveCheckpoint', name, subscription.position);
      await this.#client.call('ack', id);
    } catch (error) {
      if (!this.#closed) onError(error, undefined);
    }
  }

  /**
   * After another tab took the store over, the subscriptions this tab had in the old owner's worker are gone: open
   * each again after the last event its handler finished (a named one resumes from its checkpoint).
   */
  async #reopenSubscriptions(): Promise<void> {
    const states = [...this.#subscriptions];
    // Stop every page in flight at its next event before opening anything again.
    for (const [, state] of states) state.reopening = true;
    for (const [oldId, state] of states) {
      const { subscription, stream, wire } = state;
      await state.delivering?.catch(() => {});
      state.reopening = false;
      const done = stream === undefined ? subscription.position : subscription._version;
      const options = done > 0 ? { ...wire, from: done } : wire;
      try {
        const id =
          stream === undefined
            ? await this.#client.call('subscribeToAll', options)
            : await this.#client.call('subscribeToStream', stream, options);
        if (subscription.closed || this.#closed) {
          await this.#client.call('unsubscribe', id);
          continue;
        }
        // The new worker's ids restart: oldId may already be another subscription's new id.
        if (this.#subscriptions.get(oldId) === state) this.#subscriptions.delete(oldId);
        subscription.id = id;
        this.#subscriptions.set(id, state);
        await this.#client.call('ack', id);
      } catch (error) {
        try {
          state.onError(error, undefined);
        } catch {
          // One throwing onError must not stop the others from being opened again.
        }
      }
    }
  }

  /** @internal */
  async _unsubscribe(subscription: Subscription): Promise<void> {
    this.#subscriptions.delete(subscription.id);
    if (!this.#closed) await this.#client.call('unsubscribe', subscription.id);
  }

  /** Stores a named subscription's checkpoint: the position of the last event it processed. */
  async saveCheckpoint(name: string, position: number | bigint): Promise<void> {
    this.#check();
    await this.#client.call('saveCheckpoint', name, toPosition(position, 'position'));
  }

  /** A named subscription's stored checkpoint, or `undefined`. */
  async loadCheckpoint(name: string): Promise<number | undefined> {
    this.#check();
    return this.#client.call('loadCheckpoint', name);
  }

  /**
   * Saves `state` (JSON-serialisable) as the snapshot of `stream` at `version` (1 to the stream's version) under
   * `schemaTag`. A snapshot with the same tag and a higher version is kept.
   */
  async saveSnapshot(stream: string, version: number | bigint, state: unknown, schemaTag: string): Promise<void> {
    this.#check();
    checkStream(stream);
    const wireVersion = toPosition(version, 'version');
    await this.#client.call('saveSnapshot', stream, wireVersion, strictJson(state, 'state'), schemaTag);
  }

  /** The latest snapshot of `stream` (only those saved under `schemaTag`, when given), or `null`. */
  async loadSnapshot<State = unknown>(stream: string, options?: { schemaTag?: string }): Promise<Snapshot<State> | null> {
    this.#check();
    checkStream(stream);
    const { schemaTag } = checkObject(options, 'options', ['schemaTag']);
    const json = await this.#client.call('loadSnapshot', stream, schemaTag);
    return json === undefined ? null : (JSON.parse(json) as Snapshot<State>);
  }

  /**
   * Folds `stream` into state: from the snapshot saved under `schemaTag` when there is one, otherwise from
   * `initial`, applying `evolve` to each later event in version order. Reads in pages of 1,000; `evolve` runs on
   * the caller's thread.
   */
  async aggregateStream<State, Data = unknown>(
    stream: string,
    options: AggregateOptions<State, Data>,
  ): Promise<Aggregate<State>> {
    this.#check();
    checkStream(stream);
    const { initial, evolve, schemaTag } = checkObject(options, 'options', ['initial', 'evolve', 'schemaTag']);
    if (typeof evolve !== 'function') throw invalidArgument('options.evolve', 'must be a function');
    if (schemaTag !== undefined && typeof schemaTag !== 'string') {
      throw invalidArgument('options.schemaTag', 'must be a string');
    }
    const snapshot = schemaTag === undefined ? null : await this.loadSnapshot<State>(stream, { schemaTag });
    let state = snapshot ? snapshot.state : (initial as State);
    let version = snapshot ? snapshot.version : 0;
    let eventsFolded = 0;
    for (;;) {
      const page = await this.readStream<Data>(stream, { fromVersion: version + 1, maxCount: 1000 });
      if (page.events.length === 0) break;
      for (const event of page.events) {
        state = (evolve as AggregateOptions<State, Data>['evolve'])(state, event);
        eventsFolded++;
        version = event.version;
      }
    }
    return { state, version, snapshotVersion: snapshot ? snapshot.version : null, eventsFolded };
  }

  /**
   * Starts syncing with an EventLite server (`docs/sync-protocol.md`): pushes pending events, pulls the server's, and
   * follows its live notifications, from where the database lives (the worker in the browser). Resolves with the
   * {@link SyncClient}: status, conflicts (events the server rejected), `syncNow`, `setOnline`, `stop`.
   */
  async sync(options: SyncOptions): Promise<SyncClient> {
    this.#check();
    return startSync(this.#client, options);
  }

  /** Closes the store: stops subscriptions, closes the database (releasing OPFS), ends the worker. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const { subscription } of this.#subscriptions.values()) subscription._close();
    this.#subscriptions.clear();
    try {
      await this.#client.call('close');
    } finally {
      this.#client.terminate();
    }
  }
}

/** Validates `openEventStore`'s options into the host's open request. */
export function openRequest(options: unknown): OpenRequest {
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw invalidArgument('options', 'must be an object with a name');
  }
  const keys = ['name', 'storage', 'synchronous', 'maxEventSize', 'openTimeoutMs'] as const;
  const { name, storage = 'auto', synchronous, maxEventSize, openTimeoutMs = 5000 } = checkObject(
    options,
    'options',
    keys,
  );
  if (typeof name !== 'string') throw invalidArgument('options.name', 'must be a string');
  if (storage !== 'auto' && storage !== 'opfs' && storage !== 'memory') {
    throw invalidArgument('options.storage', "must be 'auto', 'opfs' or 'memory'");
  }
  if (typeof openTimeoutMs !== 'number' || !(openTimeoutMs >= 0)) {
    throw invalidArgument('options.openTimeoutMs', 'must be a non-negative number');
  }
  const request: OpenRequest = { name, storage, openTimeoutMs };
  if (synchronous !== undefined) request.synchronous = synchronous as OpenRequest['synchronous'];
  if (maxEventSize !== undefined) request.maxEventSize = maxEventSize as number;
  return request;
}

/** Opens a store over a transport (used by the entry points). */
export async function connect(request: OpenRequest, transport: Transport): Promise<EventStore> {
  const client = new Client(transport);
  try {
    const { storageMode } = await client.call('open', request);
    if (request.storage === 'opfs' && storageMode !== 'opfs') {
      // Another tab owns this store and could not persist it: do not pretend.
      throw toEventLiteError({ code: 'STORAGE_UNAVAILABLE', message: 'the store is open in memory in another tab' });
    }
    return new EventStore(client, request.name, storageMode);
  } catch (error) {
    client.terminate();
    throw error instanceof EventLiteError ? error : toEventLiteError({ code: 'INTERNAL', message: String(error) });
  }
}
