/**
 * Errors: one base class, {@link EventLiteError}, with a stable `code`, and one subclass per code so callers can
 * use `instanceof`. Codes are API; messages are for humans and may change.
 *
 * The wasm layer throws `{ name: 'EventLiteError', code, message, ...details }`; {@link toEventLiteError} rebuilds
 * the matching class (unknown codes fall back to the base class) and copies the details onto it.
 */

/**
 * The stable codes. Core's store and sync engine (`core/src/error.rs`, `core/src/sync/error.rs`), the package's own
 * (`STORE_CLOSED`, `INTERNAL`, `SYNC_STOPPED`), and the sync server's (`docs/sync-protocol.md`, section 4; any other
 * answer is `HTTP_<status>`). `test/node/errors.test.mjs` checks this list against core's and the server's.
 */
export const ErrorCodes = [
  // The store (core).
  'WRONG_EXPECTED_VERSION',
  'IDEMPOTENCY_CONFLICT',
  'INVALID_ARGUMENT',
  'EVENT_TOO_LARGE',
  'STORAGE_BUSY',
  'STORAGE_FULL',
  'STORAGE_READ_ONLY',
  'STORAGE_UNAVAILABLE',
  'CORRUPT',
  'NOT_A_DATABASE',
  'SCHEMA_TOO_NEW',
  'STORAGE_ERROR',
  'PROJECTION_FAILED',
  // The package.
  'STORE_CLOSED',
  'INTERNAL',
  // Sync, on this side (core's round and the package's transport).
  'BATCH_TOO_LARGE',
  'SYNC_PROTOCOL',
  'NETWORK',
  'SYNC_STOPPED',
  // Sync, the server's answers.
  'UNAUTHORIZED',
  'LOG_RESET',
  'INVALID_REQUEST',
  'INVALID_CURSOR',
  'NOT_FOUND',
  'METHOD_NOT_ALLOWED',
  'REQUEST_TIMEOUT',
  'REQUEST_TOO_LARGE',
  'URI_TOO_LONG',
  'UNSUPPORTED_MEDIA_TYPE',
  'RANGE_NOT_SATISFIABLE',
  'TOO_MANY_LIVE_STREAMS',
  'HEADERS_TOO_LARGE',
  'TIMEOUT',
] as const;

/** One of {@link ErrorCodes}. */
export type ErrorCode = (typeof ErrorCodes)[number];

/** What the wasm layer and the worker send: plain data, structured-cloneable. */
export interface ErrorShape {
  name?: string;
  code: string;
  message: string;
  [detail: string]: unknown;
}

/** Every error the package raises. `code` is stable; details (`stream`, `argument`, ...) depend on the code. */
export class EventLiteError extends Error {
  /** The stable code, e.g. `'WRONG_EXPECTED_VERSION'`. A string: codes added later fall back to this class. */
  readonly code: string;
  /** The error's details as sent by the store. */
  readonly details: Readonly<Record<string, unknown>>;

  constructor(code: string, message: string, details: Record<string, unknown> = {}) {
    super(message);
    this.code = code;
    this.details = details;
  }
}

/** The stream was not at the expected version; nothing was written. */
export class WrongExpectedVersionError extends EventLiteError {
  /** The stream appended to. */
  readonly stream: string;
  /** The expectation: `'any'`, `'no_stream'`, `'stream_exists'` or a version. */
  readonly expected: 'any' | 'no_stream' | 'stream_exists' | number;
  /** The stream's actual version (0 when it does not exist). */
  readonly actual: number;

  constructor(code: string, message: string, details: Record<string, unknown> = {}) {
    super(code, message, details);
    this.stream = String(details.stream);
    this.expected = details.expected as WrongExpectedVersionError['expected'];
    this.actual = Number(details.actual);
  }
}

/** An event id was reused for a different event, stream or batch position; nothing was written. */
export class IdempotencyConflictError extends EventLiteError {
  /** The reused id. */
  readonly eventId: string;

  constructor(code: string, message: string, details: Record<string, unknown> = {}) {
    super(code, message, details);
    this.eventId = String(details.eventId);
  }
}

/** A malformed argument: wrong type, missing field, bad name, non-serialisable data, out-of-range number. */
export class InvalidArgumentError extends EventLiteError {
  /** The argument, as the caller knows it (`'stream'`, `'events[2].data'`, `'options.maxCount'`, ...). */
  readonly argument: string;
  /** What is wrong with it. */
  readonly reason: string;

  constructor(code: string, message: string, details: Record<string, unknown> = {}) {
    super(code, message, details);
    this.argument = String(details.argument ?? '');
    this.reason = String(details.reason ?? '');
  }
}

/** One event is larger than the store's `maxEventSize`; nothing was written. */
export class EventTooLargeError extends EventLiteError {
  /** The event's index in the batch. */
  readonly index: number;
  /** Its size in bytes (type + data + metadata). */
  readonly size: number;
  /** The limit in bytes. */
  readonly limit: number;

  constructor(code: string, message: string, details: Record<string, unknown> = {}) {
    super(code, message, details);
    this.index = Number(details.index);
    this.size = Number(details.size);
    this.limit = Number(details.limit);
  }
}

/**
 * A projection's statement failed. On a local append: `projection` and `index` (the event's index in the batch);
 * nothing was written. On a query or registration: `projection` and `position` (the event's local position), when
 * the projection was marked failed by a pulled event or failed on a stored one while registering.
 */
export class ProjectionFailedError extends EventLiteError {
  /** The projection's name. */
  readonly projection: string;
  /** The event's index in the appended batch (a refused append), else `undefined`. */
  readonly index: number | undefined;
  /** The event's local position (a failed projection, a refused registration), else `undefined`. */
  readonly position: number | undefined;

  constructor(code: string, message: string, details: Record<string, unknown> = {}) {
    super(code, message, details);
    this.projection = String(details.projection ?? '');
    this.index = typeof details.index === 'number' ? details.index : undefined;
    this.position = typeof details.position === 'number' ? details.position : undefined;
  }
}

/** The database is locked elsewhere (another tab holds this OPFS store, or SQLite's busy timeout passed). */
export class StorageBusyError extends EventLiteError {}
/** The disk or the origin's storage quota is full. */
export class StorageFullError extends EventLiteError {}
/** The database is read-only. */
export class StorageReadOnlyError extends EventLiteError {}
/** The storage could not be opened (for example OPFS was required but is not available). */
export class StorageUnavailableError extends EventLiteError {}
/** The database is damaged. */
export class CorruptError extends EventLiteError {}
/** The file is not an EventLite database. */
export class NotADatabaseError extends EventLiteError {}
/** The database was written by a newer EventLite. */
export class SchemaTooNewError extends EventLiteError {}
/** A storage failure that matches no other code. */
export class StorageError extends EventLiteError {}
/** The store was closed. */
export class StoreClosedError extends EventLiteError {}
/** A bug: the wasm module panicked or the worker failed. The store cannot be used any more. */
export class InternalError extends EventLiteError {}

/** A local batch has more events than one push may carry (`SyncOptions.limits.maxEvents`, or the server's). */
export class BatchTooLargeError extends EventLiteError {
  /** Events in the batch. */
  readonly count: number;
  /** The most one push may carry. */
  readonly limit: number;

  constructor(code: string, message: string, details: Record<string, unknown> = {}) {
    super(code, message, details);
    this.count = Number(details.count);
    this.limit = Number(details.limit);
  }
}
/** The server's answer or live stream is not the sync protocol (a proxy's page, another service). Not retried soon. */
export class SyncProtocolError extends EventLiteError {}
/**
 * The request did not reach the server or got no answer: offline, refused, cut, timed out, or (in a browser) blocked
 * because a server on another origin did not allow this one (CORS); the message says which is likely. Retried with
 * backoff.
 */
export class NetworkError extends EventLiteError {}
/** Sync is offline (`setOnline(false)`) or stopped, so the call or round did not run. */
export class SyncStoppedError extends EventLiteError {}
/** The sync server refused the request with an error answer; `status` is its HTTP status. */
export class SyncServerError extends EventLiteError {
  /** The HTTP status of the answer. */
  readonly status: number;
  /** Whether sync retries it with backoff (`5xx`, `429`, ...); otherwise only at the longest delay. */
  readonly retryable: boolean;

  constructor(code: string, message: string, details: Record<string, unknown> = {}) {
    super(code, message, details);
    this.status = Number(details.status);
    this.retryable = details.retryable === true;
  }
}
/** The server refused the token (missing, unknown, expired or forged): sync again with a valid one. */
export class UnauthorizedError extends SyncServerError {}
/**
 * The server's log is another one than this store synced with (its data was lost or restored from a backup). Sync
 * recovers by itself: the store makes its events pending again and pulls from the start (`SyncReport.logReset`).
 */
export class LogResetError extends SyncServerError {}

type ErrorClass = new (code: string, message: string, details?: Record<string, unknown>) => EventLiteError;

const classes: Record<ErrorCode, ErrorClass> = {
  WRONG_EXPECTED_VERSION: WrongExpectedVersionError,
  IDEMPOTENCY_CONFLICT: IdempotencyConflictError,
  INVALID_ARGUMENT: InvalidArgumentError,
  EVENT_TOO_LARGE: EventTooLargeError,
  STORAGE_BUSY: StorageBusyError,
  STORAGE_FULL: StorageFullError,
  STORAGE_READ_ONLY: StorageReadOnlyError,
  STORAGE_UNAVAILABLE: StorageUnavailableError,
  CORRUPT: CorruptError,
  NOT_A_DATABASE: NotADatabaseError,
  SCHEMA_TOO_NEW: SchemaTooNewError,
  STORAGE_ERROR: StorageError,
  PROJECTION_FAILED: ProjectionFailedError,
  STORE_CLOSED: StoreClosedError,
  INTERNAL: InternalError,
  BATCH_TOO_LARGE: BatchTooLargeError,
  SYNC_PROTOCOL: SyncProtocolError,
  NETWORK: NetworkError,
  SYNC_STOPPED: SyncStoppedError,
  UNAUTHORIZED: UnauthorizedError,
  LOG_RESET: LogResetError,
  INVALID_REQUEST: SyncServerError,
  INVALID_CURSOR: SyncServerError,
  NOT_FOUND: SyncServerError,
  METHOD_NOT_ALLOWED: SyncServerError,
  REQUEST_TIMEOUT: SyncServerError,
  REQUEST_TOO_LARGE: SyncServerError,
  URI_TOO_LONG: SyncServerError,
  UNSUPPORTED_MEDIA_TYPE: SyncServerError,
  RANGE_NOT_SATISFIABLE: SyncServerError,
  TOO_MANY_LIVE_STREAMS: SyncServerError,
  HEADERS_TOO_LARGE: SyncServerError,
  TIMEOUT: SyncServerError,
};

// Names live on the prototypes, spelled out, so that minifiers renaming classes do not change `error.name`.
Object.defineProperty(EventLiteError.prototype, 'name', { value: 'EventLiteError', writable: true, configurable: true });
for (const [code, ErrorClass] of Object.entries(classes)) {
  if (ErrorClass === SyncServerError) continue;
  const words = code.split('_').map((word) => word[0] + word.slice(1).toLowerCase());
  const name = words.join('') + (code.endsWith('_ERROR') ? '' : 'Error');
  Object.defineProperty(ErrorClass.prototype, 'name', { value: name, writable: true, configurable: true });
}
Object.defineProperty(SyncServerError.prototype, 'name', { value: 'SyncServerError', writable: true, configurable: true });

/**
 * Rebuilds the error class for a shape's code. A server's answer outside the list (`HTTP_502`, a code added later)
 * is a {@link SyncServerError}; other unknown codes give the base class.
 */
export function toEventLiteError(shape: ErrorShape): EventLiteError {
  const { name: _name, code, message, ...details } = shape;
  const ErrorClass: ErrorClass = Object.prototype.hasOwnProperty.call(classes, code)
    ? classes[code as ErrorCode]
    : typeof details.status === 'number'
      ? SyncServerError
      : EventLiteError;
  return new ErrorClass(code, message, details);
}

/** `INVALID_ARGUMENT` raised by the package itself, before anything reaches the store. */
export function invalidArgument(argument: string, reason: string): InvalidArgumentError {
  return new InvalidArgumentError('INVALID_ARGUMENT', `invalid ${argument}: ${reason}`, { argument, reason });
}

/** The plain, cloneable shape of any thrown value (a wasm error, a panic, or anything else). */
export function toErrorShape(error: unknown): ErrorShape {
  if (error instanceof EventLiteError) {
    return { ...error.details, name: 'EventLiteError', code: error.code, message: error.message };
  }
  if (typeof error === 'object' && error !== null && (error as { name?: unknown }).name === 'EventLiteError') {
    // Thrown by the wasm layer: an Error whose own properties are the code and the details.
    const shape: ErrorShape = { code: 'INTERNAL', message: String((error as Error).message) };
    for (const [key, value] of Object.entries(error)) shape[key] = value;
    shape.name = 'EventLiteError';
    return shape;
  }
  const panic = (globalThis as { __eventlitePanic?: string }).__eventlitePanic;
  const message = panic ?? (error instanceof Error ? `${error.name}: ${error.message}` : String(error));
  return { name: 'EventLiteError', code: 'INTERNAL', message };
}

/** Why a sync call or round did not run: sync is offline or stopped. */
export const SYNC_STOPPED: Readonly<ErrorShape> = {
  name: 'EventLiteError',
  code: 'SYNC_STOPPED',
  message: 'sync is offline or stopped',
};
