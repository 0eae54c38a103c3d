/**
 * `eventlite`: an embedded event store for the browser (OPFS, in a dedicated worker) and Node (memory).
 *
 * ```js
 * import { openEventStore, NO_STREAM } from 'eventlite';
 * const store = await openEventStore({ name: 'app' });
 * await store.appendToStream('order-1', [{ type: 'Placed', data: { total: 42 } }], { expectedVersion: NO_STREAM });
 * const { events, version } = await store.readStream('order-1');
 * ```
 *
 * This module holds what both entry points (`browser.js`, `node.js`) export; each adds `openEventStore`.
 */

export { EventStore, Subscription } from './page/store.js';
export { Watch } from './page/watch.js';
export { SyncClient } from './page/sync.js';
export {
  ANY,
  NO_STREAM,
  STREAM_EXISTS,
  type Aggregate,
  type AggregateOptions,
  type AppendOptions,
  type AppendResult,
  type Direction,
  type EventFilter,
  type EventHandler,
  type EventInput,
  type EventType,
  type RecordedFields,
  type ExpectedVersion,
  type Json,
  type LogPage,
  type OpenOptions,
  type ProjectionDefinition,
  type ProjectionFailure,
  type ProjectionHandler,
  type ProjectionStatus,
  type QueryResult,
  type Row,
  type SqlParam,
  type SqlParams,
  type SqlValue,
  type WatchOptions,
  type NamedOpenOptions,
  type FileOpenOptions,
  type StoreSettings,
  type ReadAllOptions,
  type ReadStreamOptions,
  type RecordedEvent,
  type LoadSnapshotOptions,
  type SaveSnapshotOptions,
  type Snapshot,
  type StorageMode,
  type StreamPage,
  type SubscriptionOptions,
  type SyncConflict,
  type SyncOptions,
  type SyncReport,
  type SyncState,
  type SyncStatus,
  type SyncedSubscription,
  type SyncedSubscriptionOptions,
} from './common/types.js';
export { MAX_POSITION, uuidv7 } from './common/encode.js';
export {
  BatchTooLargeError,
  CorruptError,
  ErrorCodes,
  EventLiteError,
  EventTooLargeError,
  IdempotencyConflictError,
  InternalError,
  InvalidArgumentError,
  LogResetError,
  NetworkError,
  NotADatabaseError,
  ProjectionFailedError,
  SchemaTooNewError,
  StorageBusyError,
  StorageError,
  StorageFullError,
  StorageReadOnlyError,
  StorageUnavailableError,
  StoreClosedError,
  SyncProtocolError,
  SyncServerError,
  SyncStoppedError,
  UnauthorizedError,
  WrongExpectedVersionError,
  toEventLiteError,
  type ErrorCode,
  type ErrorShape,
} from './common/errors.js';
