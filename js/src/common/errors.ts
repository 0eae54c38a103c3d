/**
 * Errors: one base class, {@link EventLiteError}, with a stable `code`, and one subclass per code so callers can
 * use `instanceof`. Codes are API; messages are for humans and may change.
 *
 * The wasm layer throws `{ name: 'EventLiteError', code, message, ...details }`; {@link toEventLiteError} rebuilds
 * the matching class (unknown codes fall back to the base class) and copies the details onto it.
 */

/** The stable codes: those of the core store, plus the package's own `STORE_CLOSED` and `INTERNAL`. */
export const ErrorCodes = [
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
  'STORE_CLOSED',
  'INTERNAL',
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
  STORE_CLOSED: StoreClosedError,
  INTERNAL: InternalError,
};

// Names live on the prototypes, spelled out, so that minifiers renaming classes do not change `error.name`.
Object.defineProperty(EventLiteError.prototype, 'name', { value: 'EventLiteError', writable: true, configurable: true });
for (const [code, ErrorClass] of Object.entries(classes)) {
  const words = code.split('_').map((word) => word[0] + word.slice(1).toLowerCase());
  const name = words.join('') + (code.endsWith('_ERROR') ? '' : 'Error');
  Object.defineProperty(ErrorClass.prototype, 'name', { value: name, writable: true, configurable: true });
}

/** Rebuilds the error class for a shape's code; unknown codes give the base class. */
export function toEventLiteError(shape: ErrorShape): EventLiteError {
  const { name: _name, code, message, ...details } = shape;
  const ErrorClass: ErrorClass = Object.prototype.hasOwnProperty.call(classes, code)
    ? classes[code as ErrorCode]
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
