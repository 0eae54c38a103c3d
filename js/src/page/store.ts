/**
 * The public API: {@link EventStore} (its types are in `common/types.ts`). Runs on the caller's side; the `browser`
 * and `node` entry points supply the transport to the host (a dedicated worker owning the OPFS database, or the same
 * thread).
 */

import { decodeEvents, encodeEvents, strictJson, toPosition } from '../common/encode.js';
import { EventLiteError, invalidArgument, StoreClosedError, toEventLiteError } from '../common/errors.js';
import type { OpenRequest } from '../common/protocol.js';
import {
  ANY,
  NO_STREAM,
  STREAM_EXISTS,
  type Aggregate,
  type AggregateOptions,
  type AppendOptions,
  type AppendResult,
  type EventHandler,
  type EventInput,
  type EventType,
  type ExpectedVersion,
  type LoadSnapshotOptions,
  type LogPage,
  type ProjectionDefinition,
  type ProjectionStatus,
  type QueryResult,
  type ReadAllOptions,
  type Row,
  type SqlParams,
  type WatchOptions,
  type ReadStreamOptions,
  type RecordedEvent,
  type SaveSnapshotOptions,
  type Snapshot,
  type StorageMode,
  type StreamPage,
  type SubscriptionOptions,
  type SyncOptions,
} from '../common/types.js';
import { Client, type Transport } from './client.js';
import { Subscribers, type Subscriber } from './delivery.js';
import { startSync, type SyncClient } from './sync.js';
import { defaultOnWatchError, Watches, type Watch } from './watch.js';

function checkObject(value: unknown, argument: string, keys: readonly string[]): Record<string, unknown> {
  if (value === undefined || value === null) return {};
  if (typeof value !== 'object' || Array.isArray(value)) throw invalidArgument(argument, 'must be an object');
  const object = value as Record<string, unknown>;
  for (const key of Object.keys(object)) {
    if (!keys.includes(key)) throw invalidArgument(`${argument}.${key}`, 'is not a known option');
  }
  return object;
}

/**
 * A copy of an options object with only its known keys (functions stay on this side). Every option but `filter`
 * (copied by {@link pickFilter}) and the callbacks is a number, bigint, string or boolean: an object or array is
 * refused here, so that no caller's object graph (a cyclic one included) ever reaches the store's conversions.
 */
function pick(value: unknown, argument: string, keys: readonly string[]): Record<string, unknown> | undefined {
  const object = checkObject(value, argument, keys);
  const out: Record<string, unknown> = {};
  for (const key of keys) {
    const option = object[key];
    if (option === undefined) continue;
    if (key !== 'filter' && typeof option === 'object' && option !== null) {
      throw invalidArgument(`${argument}.${key}`, 'must not be an object or an array');
    }
    out[key] = option;
  }
  return out;
}

function checkSql(sql: unknown): string {
  if (typeof sql !== 'string') throw invalidArgument('sql', 'must be a string');
  return sql;
}

/** One parameter value: a scalar or bytes (anything else, a nested or cyclic value say, is refused here). */
function checkParam(value: unknown, argument: string): unknown {
  if (value === null || value === undefined || value instanceof Uint8Array) return value;
  switch (typeof value) {
    case 'number':
    case 'bigint':
    case 'string':
    case 'boolean':
      return value;
    default:
      throw invalidArgument(argument, 'must be null, a number, a bigint, a boolean, a string or a Uint8Array');
  }
}

/** The parameters, checked and copied: an array (for `?`) or a plain object (for `:name`) of scalars. */
function checkParams(params: unknown): SqlParams | undefined {
  if (params === undefined || params === null) return undefined;
  if (Array.isArray(params)) return params.map((value, index) => checkParam(value, `params[${index}]`)) as SqlParams;
  if (typeof params !== 'object' || params instanceof Uint8Array) {
    throw invalidArgument('params', 'must be an array (for ?) or an object (for :name)');
  }
  const copy: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(params)) copy[name] = checkParam(value, `params.${name}`);
  return copy as SqlParams;
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

/**
 * The read options' bounds, all exclusive: `after` (forwards) or `before` (backwards, implied); `legacy` is the
 * deprecated name's own value. Returns the direction and the exclusive bound (or `undefined`: from the start/end).
 */
function bound(options: Record<string, unknown>, legacy: string): { direction: unknown; exclusive?: number } {
  const { after, before } = options;
  let direction = options.direction;
  const given = [after !== undefined && 'after', before !== undefined && 'before', options[legacy] !== undefined && legacy];
  const names = given.filter(Boolean);
  if (names.length > 1) throw invalidArgument(`options.${names[1]}`, `cannot be combined with options.${names[0]}`);
  if (after !== undefined) {
    if (direction === 'backwards') throw invalidArgument('options.after', "reads forwards: use 'before' to read backwards");
    return { direction: direction ?? 'forwards', exclusive: toPosition(after, 'options.after') };
  }
  if (before !== undefined) {
    if (direction === 'forwards') throw invalidArgument('options.before', "reads backwards: use 'after' to read forwards");
    direction = 'backwards';
    return { direction, exclusive: toPosition(before, 'options.before') };
  }
  return { direction };
}

/** `value` as a new array of strings (`argument[i]` names a bad element). */
function stringArray(value: unknown, argument: string): string[] {
  if (!Array.isArray(value)) throw invalidArgument(argument, 'must be an array of strings');
  const out: string[] = [];
  for (let i = 0; i < value.length; i++) {
    const item: unknown = value[i];
    if (typeof item !== 'string') throw invalidArgument(`${argument}[${i}]`, 'must be a string');
    out.push(item);
  }
  return out;
}

/** Replaces `options.filter` by a checked copy: `streamPrefix` a string, `categories` and `eventTypes` arrays of
 * strings (`null` or absent: no condition). */
function pickFilter(options: Record<string, unknown> | undefined, argument: string): void {
  if (!options || options.filter === undefined || options.filter === null) return;
  const given = checkObject(options.filter, argument, FILTER_KEYS);
  const filter: Record<string, unknown> = {};
  const { streamPrefix, categories, eventTypes } = given;
  if (streamPrefix !== undefined && streamPrefix !== null) {
    if (typeof streamPrefix !== 'string') throw invalidArgument(`${argument}.streamPrefix`, 'must be a string');
    filter.streamPrefix = streamPrefix;
  }
  if (categories !== undefined && categories !== null) {
    filter.categories = stringArray(categories, `${argument}.categories`);
  }
  if (eventTypes !== undefined && eventTypes !== null) {
    filter.eventTypes = stringArray(eventTypes, `${argument}.eventTypes`);
  }
  options.filter = filter;
}

/** A store subscription on the caller's side. */
interface StoreSubscriber extends Subscriber {
  /** The stream version of the last event the handler finished (stream subscriptions), else 0. */
  version: number;
  name: string | undefined;
  /** What it was opened with, to open it again after another tab took the store over. */
  stream: string | undefined;
  wire: Record<string, unknown>;
}

/** A live subscription. Pages are delivered one at a time; the next is read only after the handler finished. */
export class Subscription {
  /** @internal */
  constructor(
    /** @internal */ readonly _state: StoreSubscriber,
    private readonly store: EventStore,
  ) {}

  /** The position of the last event the handler finished (0 before any). */
  get position(): number {
    return this._state.position;
  }

  /** Whether `unsubscribe` was called or the subscription failed. */
  get closed(): boolean {
    return this._state.closed;
  }

  /** Stops delivery at once (an event being handled finishes; no further event is delivered). */
  async unsubscribe(): Promise<void> {
    if (this._state.closed) return;
    await this.store._unsubscribe(this);
  }
}

const defaultOnError = (error: unknown, event: RecordedEvent | undefined): void => {
  console.error('eventlite: a subscription handler failed', event ? `at position ${event.position}` : '', error);
};

/**
 * An open event store. Every method returns a promise; errors are {@link EventLiteError} subclasses. `E` is the
 * union of the application's events (see {@link EventType}); reads take a narrower one when a stream holds fewer.
 */
export class EventStore<E extends EventType = EventType> {
  readonly #client: Client;
  readonly #subscriptions: Subscribers<StoreSubscriber>;
  readonly #watches: Watches;
  #closed = false;

  /** @internal */
  constructor(
    client: Client,
    /** The store's name. */
    readonly name: string,
    /** Where the events live: `'opfs'` persists across reloads, `'file'` is a SQLite file, `'memory'` is neither. */
    readonly storageMode: StorageMode,
  ) {
    this.#client = client;
    this.#subscriptions = new Subscribers<StoreSubscriber>({
      advance: (subscriber, event) => {
        subscriber.position = event.position;
        subscriber.version = event.version;
      },
      afterPage: async ({ name, position }) => {
        if (name !== undefined && !this.#closed) await client.call('saveCheckpoint', name, position);
      },
      acknowledge: (id) => client.call('ack', id),
      reopen: ({ stream, wire, position, version }) => {
        const done = stream === undefined ? position : version;
        const options = done > 0 ? { ...wire, from: done } : wire;
        return stream === undefined
          ? client.call('subscribeToAll', options)
          : client.call('subscribeToStream', stream, options);
      },
      unsubscribe: (id) => client.call('unsubscribe', id),
    });
    client.onDelivery = (message) => void this.#subscriptions.deliver(message.subscription, message);
    this.#watches = new Watches(client);
    client.onReconnect(() => {
      void this.#subscriptions.reopenAll();
      void this.#watches.reopenAll();
    });
  }

  #check(): void {
    if (this.#closed) throw new StoreClosedError('STORE_CLOSED', 'the store is closed');
  }

  /**
   * Appends `events` to `stream` atomically if its version satisfies `expectedVersion` (default `ANY`). Resolves
   * after the transaction has committed to storage. A retry of a batch with the same `eventId`s returns the original
   * result with `alreadyAppended: true` and writes nothing.
   */
  async appendToStream(stream: string, events: EventInput<E>[], options?: AppendOptions): Promise<AppendResult> {
    this.#check();
    checkStream(stream);
    const expected = checkExpected(checkObject(options, 'options', ['expectedVersion']).expectedVersion);
    const { json, eventIds } = encodeEvents(events);
    const result = await this.#client.call('appendToStream', stream, json, expected);
    return { ...result, version: result.streamVersion, eventIds };
  }

  /**
   * Reads a page of one stream: the events after version `after` (forwards, default from the first) or before
   * `before` (backwards; default from the last). Both bounds are exclusive, as everywhere in the API. A stream that
   * does not exist reads as empty at version 0.
   */
  async readStream<S extends E = E>(stream: string, options?: ReadStreamOptions): Promise<StreamPage<S>> {
    this.#check();
    checkStream(stream);
    const given = pick(options, 'options', ['after', 'before', 'fromVersion', 'direction', 'maxCount']) ?? {};
    const { direction, exclusive } = bound(given, 'fromVersion');
    const wire: Record<string, unknown> = { fromVersion: given.fromVersion, direction, maxCount: given.maxCount };
    // Core's stream bound is inclusive.
    if (exclusive !== undefined) wire.fromVersion = direction === 'backwards' ? Math.max(exclusive - 1, 0) : exclusive + 1;
    for (const key of Object.keys(wire)) if (wire[key] === undefined) delete wire[key];
    const page = await this.#client.call('readStream', stream, wire);
    return { events: decodeEvents<RecordedEvent<S>>(page.events), version: page.version };
  }

  /**
   * Reads a page of the whole log (or of the events `filter` selects): after position `after` (forwards, default
   * from the start) or before `before` (backwards, default from the end); both exclusive.
   */
  async readAll<S extends E = E>(options?: ReadAllOptions): Promise<LogPage<S>> {
    this.#check();
    const given = pick(options, 'options', ['after', 'before', 'fromPosition', 'direction', 'maxCount', 'filter']) ?? {};
    const { direction, exclusive } = bound(given, 'fromPosition');
    const { after: _after, before: _before, ...wire } = given;
    wire.fromPosition = exclusive ?? given.fromPosition;
    wire.direction = direction;
    for (const key of Object.keys(wire)) if (wire[key] === undefined) delete wire[key];
    pickFilter(wire, 'options.filter');
    const page = await this.#client.call('readAll', wire);
    return { events: decodeEvents<RecordedEvent<S>>(page.events), headPosition: page.headPosition };
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
  subscribeToAll<S extends E = E>(options: SubscriptionOptions, handler: EventHandler<S>): Promise<Subscription>;
  subscribeToAll<S extends E = E>(handler: EventHandler<S>): Promise<Subscription>;
  async subscribeToAll<S extends E = E>(
    options: SubscriptionOptions | EventHandler<S>,
    handler?: EventHandler<S>,
  ): Promise<Subscription> {
    return this.#subscribe(undefined, options, handler);
  }

  /** Subscribes to one stream; a numeric `from` is an exclusive stream version. */
  subscribeToStream<S extends E = E>(
    stream: string,
    options: SubscriptionOptions,
    handler: EventHandler<S>,
  ): Promise<Subscription>;
  subscribeToStream<S extends E = E>(stream: string, handler: EventHandler<S>): Promise<Subscription>;
  async subscribeToStream<S extends E = E>(
    stream: string,
    options: SubscriptionOptions | EventHandler<S>,
    handler?: EventHandler<S>,
  ): Promise<Subscription> {
    return this.#subscribe(checkStream(stream), options, handler);
  }

  async #subscribe<S extends EventType>(
    stream: string | undefined,
    options: SubscriptionOptions | EventHandler<S>,
    handler: EventHandler<S> | undefined,
  ): Promise<Subscription> {
    this.#check();
    if (typeof options === 'function') [options, handler] = [{}, options];
    if (typeof handler !== 'function') throw invalidArgument('handler', 'must be a function');
    const keys = ['from', 'after', 'filter', 'name', 'batchSize', 'onError'] as const;
    const wire = pick(options, 'options', keys) ?? {};
    if (wire.after !== undefined) {
      if (wire.from !== undefined) throw invalidArgument('options.after', 'cannot be combined with options.from');
      wire.from = toPosition(wire.after, 'options.after');
      delete wire.after;
    }
    const onError = wire.onError ?? defaultOnError;
    if (typeof onError !== 'function') throw invalidArgument('options.onError', 'must be a function');
    delete wire.onError;
    pickFilter(wire, 'options.filter');
    const id =
      stream === undefined
        ? await this.#client.call('subscribeToAll', wire)
        : await this.#client.call('subscribeToStream', stream, wire);
    const state: StoreSubscriber = {
      id,
      closed: false,
      position: 0,
      version: 0,
      handler: handler as EventHandler,
      onError: onError as StoreSubscriber['onError'],
      name: typeof wire.name === 'string' ? wire.name : undefined,
      stream,
      wire,
    };
    // Starts delivery (history first, then live events); pages arrive after this promise has resolved.
    this.#subscriptions.start(state);
    return new Subscription(state, this);
  }

  /** @internal */
  async _unsubscribe(subscription: Subscription): Promise<void> {
    this.#subscriptions.remove(subscription._state);
    if (!this.#closed) await this.#client.call('unsubscribe', subscription._state.id);
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
  async saveSnapshot<State = unknown>(stream: string, snapshot: SaveSnapshotOptions<State>): Promise<void>;
  /** @deprecated Use `saveSnapshot(stream, { version, state, schemaTag })`. */
  async saveSnapshot(stream: string, version: number | bigint, state: unknown, schemaTag: string): Promise<void>;
  async saveSnapshot(stream: string, ...args: unknown[]): Promise<void> {
    this.#check();
    checkStream(stream);
    let [version, state, schemaTag] = args;
    let names = ['version', 'state', 'schemaTag'];
    if (typeof args[0] === 'object' && args[0] !== null && args.length === 1) {
      ({ version, state, schemaTag } = checkObject(args[0], 'options', ['version', 'state', 'schemaTag']));
      names = names.map((name) => `options.${name}`);
    }
    const wireVersion = toPosition(version, names[0]!);
    await this.#client.call('saveSnapshot', stream, wireVersion, strictJson(state, names[1]!), schemaTag);
  }

  /** The latest snapshot of `stream` (only those saved under `schemaTag`, when given), or `null`. */
  async loadSnapshot<State = unknown>(stream: string, options?: LoadSnapshotOptions): Promise<Snapshot<State> | null> {
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
  async aggregateStream<State, S extends E = E>(
    stream: string,
    options: AggregateOptions<State, S>,
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
      const page = await this.readStream<S>(stream, { after: version, maxCount: 1000 });
      if (page.events.length === 0) break;
      for (const event of page.events) {
        state = (evolve as AggregateOptions<State, S>['evolve'])(state, event);
        eventsFolded++;
        version = event.version;
      }
    }
    return { state, version, snapshotVersion: snapshot ? snapshot.version : null, eventsFolded };
  }

  /**
   * Registers a read model (`docs/projections.md`): checks its SQL, creates its tables and folds the stored log
   * into them, in one transaction; from then on every write transaction keeps them (appends, sync pulls and
   * rebases), in every tab and process. Registering the registered version with the same definition changes
   * nothing (do it at every start); a new version rebuilds the tables from the log. Invalid SQL is
   * `INVALID_ARGUMENT` with SQLite's message; a statement failing on a stored event is `PROJECTION_FAILED`.
   */
  async registerProjection(definition: ProjectionDefinition | string): Promise<ProjectionStatus> {
    this.#check();
    if (typeof definition !== 'string' && (typeof definition !== 'object' || definition === null)) {
      throw invalidArgument('projection', 'must be an object or its JSON text');
    }
    return this.#client.call('registerProjection', definition);
  }

  /** Removes a projection and drops its tables; `false` when there was none. */
  async dropProjection(name: string): Promise<boolean> {
    this.#check();
    if (typeof name !== 'string') throw invalidArgument('name', 'must be a string');
    return this.#client.call('dropProjection', name);
  }

  /** Every registered projection's version, progress and failure. */
  async projections(): Promise<ProjectionStatus[]> {
    this.#check();
    return this.#client.call('projections');
  }

  /**
   * Runs one read-only SQL statement over the read models and returns its rows as objects keyed by column
   * (`Row` is a claim about the query's columns, not checked). Parameters: an array for `?`, an object for
   * `:name`. A statement that writes is `INVALID_ARGUMENT`; a table of a failed projection `PROJECTION_FAILED`.
   */
  async query<R = Row>(sql: string, params?: SqlParams): Promise<R[]> {
    return (await this.queryRows<R>(sql, params)).rows;
  }

  /** {@link query}, with the result's column names in order. */
  async queryRows<R = Row>(sql: string, params?: SqlParams): Promise<QueryResult<R>> {
    this.#check();
    const result = await this.#client.call('query', checkSql(sql), checkParams(params));
    return result as unknown as QueryResult<R>;
  }

  /**
   * Watches a read-only query: `callback` gets its rows (and column names) once the watch is open, then fresh rows after each commit
   * (an append here, in another tab or process, a sync pull or rebase) that changed a table it reads; commits in
   * quick succession give one call, and commits that touch other tables none. Resolves once the watch is open;
   * invalid SQL rejects with `INVALID_ARGUMENT`. The query must read at least one projection table.
   */
  watch<R = Row>(
    sql: string,
    params: SqlParams | undefined,
    callback: (rows: R[], columns: string[]) => void,
    options?: WatchOptions,
  ): Promise<Watch<R>>;
  watch<R = Row>(sql: string, callback: (rows: R[], columns: string[]) => void, options?: WatchOptions): Promise<Watch<R>>;
  async watch<R = Row>(sql: string, ...args: unknown[]): Promise<Watch<R>> {
    this.#check();
    if (typeof args[0] === 'function') args.unshift(undefined);
    const [params, callback, options] = args;
    if (typeof callback !== 'function') throw invalidArgument('callback', 'must be a function');
    const { onError = defaultOnWatchError } = checkObject(options, 'options', ['onError']);
    if (typeof onError !== 'function') throw invalidArgument('options.onError', 'must be a function');
    return this.#watches.open<R>(
      checkSql(sql),
      checkParams(params),
      callback as (rows: R[], columns: string[]) => void,
      onError as (error: unknown) => void,
    );
  }

  /**
   * Starts syncing with an EventLite server (`docs/sync-protocol.md`): pushes pending events, pulls the server's, and
   * follows its live notifications, from where the database lives (the worker in the browser). Resolves with the
   * {@link SyncClient}: status, conflicts (events the server rejected), `syncNow`, `setOnline`, `stop`.
   */
  async sync(options: SyncOptions): Promise<SyncClient<E>> {
    this.#check();
    return startSync<E>(this.#client, options);
  }

  /**
   * Whether the browser keeps this store's data under storage pressure (`navigator.storage.persisted()`); always
   * `false` for a memory store and in Node. Without it the browser may evict the origin's OPFS data when space runs
   * low, and a private window's data lasts only for its session whatever this says.
   */
  async persisted(): Promise<boolean> {
    if (this.storageMode !== 'opfs') return false;
    const storage = (globalThis as { navigator?: { storage?: StorageManager } }).navigator?.storage;
    return typeof storage?.persisted === 'function' ? storage.persisted() : false;
  }

  /**
   * Asks the browser to keep this origin's data (`navigator.storage.persist()`); resolves with whether it is now
   * persistent. Browsers decide by their own rules (Chromium: site engagement, an installed app, granted
   * notifications; Firefox asks the user), so call it after a user action. `false` for a memory store and in Node.
   */
  async requestPersistence(): Promise<boolean> {
    if (this.storageMode !== 'opfs') return false;
    const storage = (globalThis as { navigator?: { storage?: StorageManager } }).navigator?.storage;
    if (typeof storage?.persist !== 'function') return false;
    return (await storage.persisted()) || storage.persist();
  }

  /** Closes the store: stops subscriptions, closes the database (releasing OPFS), ends the worker. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#subscriptions.closeAll();
    this.#watches.closeAll();
    try {
      await this.#client.call('close');
    } finally {
      this.#client.terminate();
    }
  }
}

/** @internal Validates `openEventStore`'s options into the host's open request. */
export function openRequest(options: unknown): OpenRequest {
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw invalidArgument('options', 'must be an object with a name');
  }
  const keys = ['name', 'path', 'storage', 'synchronous', 'maxEventSize', 'openTimeoutMs', 'busyTimeoutMs'] as const;
  const given = pick(options, 'options', keys) ?? {};
  const { path, storage = 'auto', synchronous, maxEventSize, openTimeoutMs = 5000, busyTimeoutMs, ...rest } = given;
  if (path !== undefined) {
    if (typeof path !== 'string' || path === '') throw invalidArgument('options.path', 'must be a non-empty string');
    if (storage !== 'auto') throw invalidArgument('options.storage', "cannot be combined with options.path");
    if (rest.name === '') throw invalidArgument('options.name', 'must not be empty (or leave it out: the path)');
  } else if (busyTimeoutMs !== undefined) {
    throw invalidArgument('options.busyTimeoutMs', 'is for file stores (with options.path)');
  }
  const name = rest.name ?? path;
  if (typeof name !== 'string') throw invalidArgument('options.name', 'must be a string');
  const wholeMs = typeof busyTimeoutMs === 'number' && Number.isSafeInteger(busyTimeoutMs) && busyTimeoutMs >= 0;
  if (busyTimeoutMs !== undefined && !wholeMs) {
    throw invalidArgument('options.busyTimeoutMs', 'must be a whole number of milliseconds, 0 or more');
  }
  if (storage !== 'auto' && storage !== 'opfs' && storage !== 'persistent' && storage !== 'memory') {
    throw invalidArgument('options.storage', "must be 'auto', 'opfs', 'persistent' or 'memory'");
  }
  if (typeof openTimeoutMs !== 'number' || !(openTimeoutMs >= 0)) {
    throw invalidArgument('options.openTimeoutMs', 'must be a non-negative number');
  }
  // 'persistent' is OPFS to the host; the entry point asks the browser for persistence (`requestPersistence`).
  const request: OpenRequest = { name, storage: storage === 'persistent' ? 'opfs' : storage, openTimeoutMs };
  if (path !== undefined) request.path = path as string;
  if (synchronous !== undefined) request.synchronous = synchronous as OpenRequest['synchronous'];
  if (maxEventSize !== undefined) request.maxEventSize = maxEventSize as number;
  if (path !== undefined) request.busyTimeoutMs = (busyTimeoutMs as number | undefined) ?? 5000;
  return request;
}

/** @internal Opens a store over a transport (used by the entry points). */
export async function connect<E extends EventType>(request: OpenRequest, transport: Transport): Promise<EventStore<E>> {
  const client = new Client(transport);
  try {
    const { storageMode } = await client.call('open', request);
    if (request.storage === 'opfs' && storageMode !== 'opfs') {
      // Another tab owns this store and could not persist it: do not pretend.
      throw toEventLiteError({ code: 'STORAGE_UNAVAILABLE', message: 'the store is open in memory in another tab' });
    }
    return new EventStore<E>(client, request.name, storageMode);
  } catch (error) {
    client.terminate();
    throw error instanceof EventLiteError ? error : toEventLiteError({ code: 'INTERNAL', message: String(error) });
  }
}
