// Every error code: its class, its fields, the fallback for unknown codes, and the codes a Node store can raise.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import * as eventlite from 'eventlite';

const {
  ErrorCodes,
  EventLiteError,
  toEventLiteError,
  WrongExpectedVersionError,
  IdempotencyConflictError,
  InvalidArgumentError,
  EventTooLargeError,
} = eventlite;

const classByCode = {
  WRONG_EXPECTED_VERSION: 'WrongExpectedVersionError',
  IDEMPOTENCY_CONFLICT: 'IdempotencyConflictError',
  INVALID_ARGUMENT: 'InvalidArgumentError',
  EVENT_TOO_LARGE: 'EventTooLargeError',
  STORAGE_BUSY: 'StorageBusyError',
  STORAGE_FULL: 'StorageFullError',
  STORAGE_READ_ONLY: 'StorageReadOnlyError',
  STORAGE_UNAVAILABLE: 'StorageUnavailableError',
  CORRUPT: 'CorruptError',
  NOT_A_DATABASE: 'NotADatabaseError',
  SCHEMA_TOO_NEW: 'SchemaTooNewError',
  STORAGE_ERROR: 'StorageError',
  STORE_CLOSED: 'StoreClosedError',
  INTERNAL: 'InternalError',
};

test('every code has its exported subclass of EventLiteError and Error', () => {
  assert.deepEqual([...ErrorCodes].sort(), Object.keys(classByCode).sort());
  for (const code of ErrorCodes) {
    const Class = eventlite[classByCode[code]];
    assert.equal(typeof Class, 'function', classByCode[code]);
    const error = toEventLiteError({ name: 'EventLiteError', code, message: `a ${code}` });
    assert.ok(error instanceof Class, code);
    assert.ok(error instanceof EventLiteError, code);
    assert.ok(error instanceof Error, code);
    assert.equal(error.code, code);
    assert.equal(error.name, classByCode[code]);
    assert.equal(error.message, `a ${code}`);
  }
});

test('unknown codes fall back to the base class and keep their details', () => {
  const error = toEventLiteError({ name: 'EventLiteError', code: 'SOMETHING_NEW', message: 'later', extra: 1 });
  assert.equal(error.constructor, EventLiteError);
  assert.equal(error.code, 'SOMETHING_NEW');
  assert.deepEqual(error.details, { extra: 1 });
});

test('details become typed fields', () => {
  const wrong = toEventLiteError({ code: 'WRONG_EXPECTED_VERSION', message: 'm', stream: 's-1', expected: 3, actual: 5 });
  assert.ok(wrong instanceof WrongExpectedVersionError);
  assert.deepEqual([wrong.stream, wrong.expected, wrong.actual], ['s-1', 3, 5]);
  const conflict = toEventLiteError({ code: 'IDEMPOTENCY_CONFLICT', message: 'm', eventId: 'id-1', reason: 'r' });
  assert.ok(conflict instanceof IdempotencyConflictError);
  assert.equal(conflict.eventId, 'id-1');
  const invalid = toEventLiteError({ code: 'INVALID_ARGUMENT', message: 'm', argument: 'stream', reason: 'bad' });
  assert.ok(invalid instanceof InvalidArgumentError);
  assert.deepEqual([invalid.argument, invalid.reason], ['stream', 'bad']);
  const large = toEventLiteError({ code: 'EVENT_TOO_LARGE', message: 'm', index: 1, size: 200, limit: 100 });
  assert.ok(large instanceof EventTooLargeError);
  assert.deepEqual([large.index, large.size, large.limit], [1, 200, 100]);
});

test('codes raised by a real store carry the same classes', async () => {
  const store = await eventlite.openEventStore({ name: 'errors', maxEventSize: 50 });
  const codes = [];
  const attempt = async (promise) => {
    try {
      await promise;
      codes.push('none');
    } catch (error) {
      assert.ok(error instanceof eventlite[classByCode[error.code]], `${error.code}: ${error.name}`);
      codes.push(error.code);
    }
  };
  const id = '0190b6a8-0000-7000-8000-000000000001';
  await store.appendToStream('a-1', [{ type: 'A', data: 1, eventId: id }]);
  await attempt(store.appendToStream('a-1', [{ type: 'A', data: 1 }], { expectedVersion: eventlite.NO_STREAM }));
  await attempt(store.appendToStream('b-1', [{ type: 'A', data: 1, eventId: id }]));
  await attempt(store.appendToStream('', [{ type: 'A', data: 1 }]));
  await attempt(store.appendToStream('a-1', [{ type: 'A', data: 'x'.repeat(100) }]));
  await attempt(eventlite.openEventStore({ name: 'errors', storage: 'opfs' }));
  await store.close();
  await attempt(store.readAll());
  assert.deepEqual(codes, [
    'WRONG_EXPECTED_VERSION',
    'IDEMPOTENCY_CONFLICT',
    'INVALID_ARGUMENT',
    'EVENT_TOO_LARGE',
    'STORAGE_UNAVAILABLE',
    'STORE_CLOSED',
  ]);
});
