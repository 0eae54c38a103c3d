/**
 * The package's public data, option and result types (and the expectation constants), shared by the page side and
 * the worker side. Versions and positions are JS numbers, exact up to 2^53 - 1 (`Number.MAX_SAFE_INTEGER`); arguments
 * may also be bigints within that bound, and anything beyond it is refused with `INVALID_ARGUMENT`.
 */

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

/**
 * An application's event: its type name and its data. Describe your events as a union of these, discriminated by
 * `type`, and open the store with it (`openEventStore<MyEvent>(...)`): appends, reads, subscriptions and
 * `aggregateStream` are then typed by it, and `event.type` narrows `event.data` without casts.
 *
 * ```ts
 * type CartEvent = { type: 'ItemAdded'; data: { sku: string; qty: number } } | { type: 'CheckedOut'; data: null };
 * const store = await openEventStore<CartEvent>({ name: 'shop' });
 * ```
 */
export interface EventType {
  type: string;
  /** JSON-serialisable data (`null` for none), or bytes (`Uint8Array`) with a `contentType`. */
  data: unknown;
}

/** An event to append: one of the store's event types, with optional metadata and id. */
export type EventInput<E extends EventType = EventType> = E extends EventType
  ? {
      /** The event type, e.g. `'OrderPlaced'`: non-empty, at most 256 bytes, no control characters. */
      type: E['type'];
      /** JSON-serialisable data (`null` for none), or bytes (`Uint8Array`) with a `contentType`. */
      data: E['data'];
      /** The MIME type of `Uint8Array` data. */
      contentType?: string;
      /** A plain object; `correlationId` and `causationId` are the conventional keys. */
      metadata?: Record<string, unknown>;
      /** A UUID. Give one to make retries idempotent across calls; otherwise a UUID v7 is generated. */
      eventId?: string;
    }
  : never;

/** What every stored event has besides its type and data. */
export interface RecordedFields {
  /** Global position: 1-based, increasing in commit order, never reused; may have gaps. */
  position: number;
  eventId: string;
  stream: string;
  /** The event's version in its stream: 1 for the first, dense. */
  version: number;
  contentType: string;
  metadata: Record<string, unknown> | null;
  /** When the store recorded it: ms since the Unix epoch. */
  recordedAt: number;
}

/**
 * A stored event: one of the store's event types (`type` narrows `data`). `data` is parsed JSON, or a
 * `Uint8Array` when `contentType` is not `application/json`.
 */
export type RecordedEvent<E extends EventType = EventType> = E extends EventType
  ? RecordedFields & { type: E['type']; data: E['data'] }
  : never;

/** What `appendToStream` resolves with, after the transaction has committed. */
export interface AppendResult {
  /** The stream's version after the append (the field is `version` in every result). */
  version: number;
  /** @deprecated The same as `version`. */
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

/**
 * Options of `readStream`. Bounds are exclusive, as everywhere in the API (`readAll`, subscriptions): pass the
 * last version you have.
 */
export interface ReadStreamOptions {
  /** Read forwards from the version after this one (exclusive). Default: from the first. */
  after?: number | bigint;
  /** Read backwards from the version before this one (exclusive; implies `direction: 'backwards'`). Default: the last. */
  before?: number | bigint;
  /** @deprecated Inclusive, unlike every other bound: use `after` (forwards) or `before` (backwards). */
  fromVersion?: number | bigint;
  /** `'forwards'` (default) or `'backwards'`. */
  direction?: Direction;
  /** Default 1,000. */
  maxCount?: number;
}

/** A page of a stream. */
export interface StreamPage<E extends EventType = EventType> {
  events: RecordedEvent<E>[];
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

/** Options of `readAll`. Bounds are exclusive: pass the last position you have. */
export interface ReadAllOptions {
  /** Read forwards from the position after this one (exclusive). Default: from the start. */
  after?: number | bigint;
  /** Read backwards from the position before this one (exclusive; implies `direction: 'backwards'`). Default: the end. */
  before?: number | bigint;
  /** @deprecated The same as `after` (forwards) or `before` (backwards). */
  fromPosition?: number | bigint;
  /** `'forwards'` (default) or `'backwards'`. */
  direction?: Direction;
  /** Default 1,000. */
  maxCount?: number;
  filter?: EventFilter;
}

/** A page of the log. */
export interface LogPage<E extends EventType = EventType> {
  events: RecordedEvent<E>[];
  /** The highest position stored. */
  headPosition: number;
}

/** Options of `subscribeToAll` / `subscribeToStream`. */
export interface SubscriptionOptions {
  /** `'start'` (default) or `'end'` (only events appended from now on). A number means `after` (deprecated). */
  from?: 'start' | 'end' | number | bigint;
  /**
   * Deliver the events after this position (`subscribeToAll`) or version (`subscribeToStream`), exclusive: pass
   * the last one you handled.
   */
  after?: number | bigint;
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
export type EventHandler<E extends EventType = EventType> = (event: RecordedEvent<E>) => void | Promise<void>;

/** A snapshot of a stream's state. */
export interface Snapshot<State = unknown> {
  stream: string;
  /** The stream version the state includes. */
  version: number;
  schemaTag: string;
  state: State;
  recordedAt: number;
}

/** `saveSnapshot`'s second argument. */
export interface SaveSnapshotOptions<State = unknown> {
  /** The stream version the state includes: 1 to the stream's version. */
  version: number | bigint;
  /** JSON-serialisable. */
  state: State;
  schemaTag: string;
}

/** Options of `loadSnapshot`. */
export interface LoadSnapshotOptions {
  /** Only the snapshot saved under this tag. */
  schemaTag?: string;
}

/** Options of `aggregateStream`. */
export interface AggregateOptions<State, E extends EventType = EventType> {
  initial: State;
  evolve: (state: State, event: RecordedEvent<E>) => State;
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

/**
 * Where the events live: `'opfs'` survives reloads (browser); `'file'` is a SQLite file in WAL mode (Node, Electron,
 * Bun, Deno: the Node-API addon); `'memory'` is gone when the store closes.
 */
export type StorageMode = 'opfs' | 'memory' | 'file';

/** Options of `openEventStore`: a `name` (browser, memory), or a `path` (a file: Node, Electron, Bun, Deno). */
export type OpenOptions = NamedOpenOptions | FileOpenOptions;

/** A store opened by name: OPFS in the browser, memory elsewhere. */
export interface NamedOpenOptions extends StoreSettings {
  /** The store's name: 1 to 64 of `A-Z a-z 0-9 . _ -`, not starting with `.`. */
  name: string;
  path?: undefined;
  /** File stores only. */
  busyTimeoutMs?: undefined;
}

/**
 * Node 20+, Electron's main process, Bun, Deno: the store in the SQLite file `path` (created if needed; WAL mode, the
 * native core, through the Node-API addon; `storageMode: 'file'`), relative to the working directory. Other
 * processes may open the same file. Without the addon for this platform, and in browsers or at the edge:
 * `STORAGE_UNAVAILABLE`.
 */
export interface FileOpenOptions extends Omit<StoreSettings, 'storage'> {
  /** A file path (not `:memory:`, not a `file:` URI). */
  path: string;
  /** The store's name (`store.name`), not empty; default: the path. */
  name?: string;
  /** A file is always a file: `'auto'` (the default) is the only value accepted with a path. */
  storage?: 'auto';
  /**
   * How long a call waits while another process holds the file's write lock before it fails with `STORAGE_BUSY`
   * (nothing written). The wait is off the event loop: the call is retried after growing delays. Default 5,000 ms.
   */
  busyTimeoutMs?: number;
}

/** What every store's options may say. */
export interface StoreSettings {
  /**
   * `'auto'` (default): OPFS when available, else memory, with a console warning once per page (`storageMode` says
   * `'memory'`; a page on plain http other than localhost has no OPFS). `'opfs'`: fail with `STORAGE_UNAVAILABLE`
   * rather than fall back. `'persistent'`: OPFS, and the browser must grant persistent storage
   * (`navigator.storage.persist()`), else `STORAGE_UNAVAILABLE`. `'memory'`: never persist.
   */
  storage?: 'auto' | 'opfs' | 'persistent' | 'memory';
  /** `'normal'` (default): survives a crashed or closed tab. `'full'`: also flushes each commit to disk. */
  synchronous?: 'normal' | 'full';
  /** The largest event accepted, in bytes (type + data + metadata). Default 1 MiB. */
  maxEventSize?: number;
  /** How long to wait for another tab or a reloading page to release the OPFS store. Default 5,000 ms. */
  openTimeoutMs?: number;
}

/** Where a sync connection stands. */
export type SyncState =
  /** `setOnline(false)` or `stop()`: nothing goes over the network; appends stay pending locally. */
  | 'offline'
  /** Trying to reach the server (first connection, or reconnecting after a failure with backoff). */
  | 'connecting'
  /** Connected to the live stream: the server's new events arrive within moments. */
  | 'online'
  /**
   * The server refused the token (`UNAUTHORIZED`): tried again only at the longest delay, so call `store.sync()`
   * again with a valid token.
   */
  | 'unauthorized'
  /**
   * The last round failed in a way retrying soon cannot fix (`lastError`: a `4xx` answer, or a server that does not
   * speak the protocol); tried again at the longest delay.
   */
  | 'error';

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
  /**
   * How many times the server turned out to hold another log than this store synced with (`LOG_RESET`: its data
   * was lost or restored from a backup) and sync started over by itself: every local event pending again, pulled
   * from the start. Nothing is lost; the server is refilled.
   */
  logResets: number;
  /** True while a push/pull round is running. */
  syncing: boolean;
  /** When the last round finished without error (ms since the epoch), or `null`. */
  lastSyncedAt: number | null;
  /**
   * The last round's or connection's failure, cleared by the next success. `retryable`: whether sync retries it
   * with backoff (`false`: only at the longest delay; see `state`).
   */
  lastError: { code: string; message: string; retryable?: boolean; status?: number } | null;
  /**
   * The projections marked failed: a statement failed on an event pulled from the server (such events are never
   * refused). Queries over their tables fail with `PROJECTION_FAILED` until a new version is registered.
   */
  failedProjections: ProjectionFailure[];
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

/**
 * What sync did: one round's (the `'synced'` event), or everything done from a `syncNow()` call until its round ended
 * (that call's result: the round running at the call included, so nothing it pushed or met is missing).
 */
export interface SyncReport {
  /** Events sent (including ones the server already had). */
  pushed: number;
  /** Server events applied locally. */
  pulled: number;
  /** Events rejected (set aside in the conflicts list). */
  conflicts: SyncConflict[];
  /** When the local log was rewritten (rebase or rejection), the position after which it was; else `null`. */
  rewoundFrom: number | null;
  /**
   * The server answered `LOG_RESET` (its log is another one: data lost, or restored from a backup) and sync started
   * over: every local event was made pending again and pushed (see `SyncStatus.logResets`).
   */
  logReset: boolean;
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
  /** Called when a pulled event made a projection fail (also emitted as `'projectionFailed'`). */
  onProjectionFailed?: (failure: ProjectionFailure) => void;
}

/** A server's push limits; each defaults to the reference server's. */
export interface SyncLimits {
  maxEvents?: number;
  maxBytes?: number;
  maxEventSize?: number;
}

/** Options of `SyncClient.subscribe`. */
export interface SyncedSubscriptionOptions {
  /**
   * `'confirmed'` (default): only events the server confirmed, in server order; never rewound, so a read model fed
   * from it never has to undo anything. `'pending'`: also local events not confirmed yet (optimistic), with
   * `onRewound` called first whenever a rebase or a rejection rewrote the log.
   */
  mode?: 'confirmed' | 'pending';
  /** `'start'` (default) or `'end'`. A number means `after` (deprecated). */
  from?: 'start' | 'end' | number | bigint;
  /** Deliver the events after this position (exclusive): the last one you handled. */
  after?: number | bigint;
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

/** A subscription from `SyncClient.subscribe`. */
export interface SyncedSubscription {
  /** The position of the last event the handler finished (or of the last rewind). */
  readonly position: number;
  /** Stops delivery at once (the rest of a page is dropped). */
  unsubscribe(): Promise<void>;
}

/**
 * A read model, declared as data (`docs/projections.md`): the SQL creating its tables, and per event type (or
 * category, or both, or neither: every event) the statements to run, with `:stream`, `:version`, `:position`,
 * `:type`, `:category`, `:event_id`, `:data`, `:metadata` and `:recorded_at` bound from the event. The same JSON
 * form in Rust, JS and the native bindings.
 */
export interface ProjectionDefinition {
  name: string;
  /** Change it whenever the SQL changes: a new version drops the old tables and rebuilds them from the log. */
  version: number;
  setup: string;
  handlers: ProjectionHandler[];
  /** Fold only events the server confirmed (never rewound; lags local appends until they are confirmed). */
  confirmedOnly?: boolean;
}

/** The statements a projection runs for the events a handler matches. */
export interface ProjectionHandler {
  type?: string;
  category?: string;
  statements: string[];
}

/** Where a projection failed: the event's local position, its id, and SQLite's message. */
export interface ProjectionFailure {
  /** The projection's name. */
  name: string;
  position: number;
  eventId: string | null;
  message: string;
}

/** A registered projection's state (`registerProjection`, `projections`). */
export interface ProjectionStatus {
  name: string;
  version: number;
  confirmedOnly: boolean;
  /** The position of the last event it folded. */
  appliedThrough: number;
  /** The tables it owns. */
  tables: string[];
  /** Set when a pulled event made a statement fail; it folds nothing more until a new version is registered. */
  failure: { position: number; eventId: string | null; message: string } | null;
}

/** A value in a query's result: integers beyond 2^53 come back as `bigint`, blobs as `Uint8Array`. */
export type SqlValue = null | number | bigint | string | Uint8Array;

/** A query parameter: booleans bind as 0 / 1, `undefined` as NULL. */
export type SqlParam = SqlValue | boolean | undefined;

/** A query's parameters: an array for `?` / `?N`, an object for `:name` (keys with or without the prefix). */
export type SqlParams = readonly SqlParam[] | Readonly<Record<string, SqlParam>>;

/** A row as `query` returns it: one property per column. */
export type Row = Record<string, SqlValue>;

/** A query's result with its column names, in order (`queryRows`). */
export interface QueryResult<R = Row> {
  columns: string[];
  rows: R[];
}

/** Options of `watch`. */
export interface WatchOptions {
  /**
   * Called when the query fails after the watch was opened (`PROJECTION_FAILED` when a pulled event made a
   * projection it reads fail; the watch stays open and calls back again once a new version is registered), or when
   * the callback throws. Default: `console.error`.
   */
  onError?: (error: unknown) => void;
}
