// Every error code: its class, its fields, the fallback for unknown codes, and the codes a Node store can raise.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
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
  PROJECTION_FAILED: 'ProjectionFailedError',
  STORE_CLOSED: 'StoreClosedError',
  INTERNAL: 'InternalError',
  BATCH_TOO_LARGE: 'BatchTooLargeError',
  SYNC_PROTOCOL: 'SyncProtocolError',
  NETWORK: 'NetworkError',
  SYNC_STOPPED: 'SyncStoppedError',
  UNAUTHORIZED: 'UnauthorizedError',
  LOG_RESET: 'LogResetError',
};
// The server's other answers share one class (with `status`).
for (const code of ['INVALID_REQUEST', 'INVALID_CURSOR', 'NOT_FOUND', 'METHOD_NOT_ALLOWED', 'REQUEST_TIMEOUT',
  'REQUEST_TOO_LARGE', 'URI_TOO_LONG', 'UNSUPPORTED_MEDIA_TYPE', 'RANGE_NOT_SATISFIABLE', 'TOO_MANY_LIVE_STREAMS',
  'HEADERS_TOO_LARGE', 'TIMEOUT']) {
  classByCode[code] = 'SyncServerError';
}

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
  assert.ok(toEventLiteError({ code: 'UNAUTHORIZED', message: 'm', status: 401 }) instanceof eventlite.SyncServerError);
  const proxy = toEventLiteError({ code: 'HTTP_502', message: '<html>', status: 502, retryable: true });
  assert.ok(proxy instanceof eventlite.SyncServerError);
  assert.deepEqual([proxy.name, proxy.status, proxy.retryable], ['SyncServerError', 502, true]);
  const batch = toEventLiteError({ code: 'BATCH_TOO_LARGE', message: 'm', count: 3, limit: 2 });
  assert.deepEqual([batch.count, batch.limit], [3, 2]);
});

// The codes raised below the package: read from core's and the wasm layer's sources and from the protocol's error
// table, so a code added there without a JS class fails here.
// The repository (EVENTLITE_REPO when the suite runs from a copy, in a project the package was installed into).
const root = process.env.EVENTLITE_REPO ? new URL(`file://${process.env.EVENTLITE_REPO}/`) : new URL('../../../', import.meta.url);
const source = (path) => readFileSync(new URL(path, root), 'utf8');

function coreCodes() {
  const error = source('core/src/error.rs');
  const asStr = error.slice(error.indexOf('fn as_str'));
  const codes = [...asStr.slice(0, asStr.indexOf('\n    }\n')).matchAll(/=> "([A-Z_]+)"/g)].map((m) => m[1]);
  const sync = source('core/src/sync/error.rs');
  const round = sync.slice(sync.indexOf('impl RoundError'));
  codes.push(...[...round.matchAll(/(?:=>|: &'static str =) "([A-Z_]+)"/g)].map((m) => m[1]));
  return codes;
}

function wasmCodes() {
  const codes = [];
  // Every Rust file of the wasm layer, in its subfolders too (wasm/src/opfs/).
  const files = readdirSync(new URL('wasm/src/', root), { recursive: true }).filter((file) => file.endsWith('.rs'));
  for (const file of files) {
    const text = source(`wasm/src/${file}`);
    codes.push(...[...text.matchAll(/(?:JsError::new\(|const [A-Z_]+: &str = )"([A-Z_]+)"/g)].map((m) => m[1]));
  }
  // The Node-API addon (js/addon) throws the same shapes.
  for (const file of readdirSync(new URL('js/addon/src/', root))) {
    const text = source(`js/addon/src/${file}`);
    codes.push(...[...text.matchAll(/(?:AddonError::new\(|const [A-Z_]+: &str = )"([A-Z_]+)"/g)].map((m) => m[1]));
  }
  return codes;
}

function serverCodes() {
  const doc = source('docs/sync-protocol.md');
  const table = doc.slice(doc.indexOf('## 4. Errors'), doc.indexOf('## 5.'));
  const codes = [];
  for (const line of table.split('\n')) {
    const cells = line.split('|');
    if (cells.length < 4 || !/^\s*\d{3}\s*$/.test(cells[1])) continue;
    codes.push(...[...cells[2].matchAll(/`([A-Z_]+)`/g)].map((m) => m[1]));
  }
  return codes;
}

test("the codes are core's, the wasm layer's and the server's: none without its class", () => {
  const core = coreCodes();
  assert.ok(core.length >= 14 && core.includes('WRONG_EXPECTED_VERSION') && core.includes('NETWORK'), core.join());
  assert.ok(core.includes('LOG_RESET'), 'core/src/sync/error.rs names LOG_RESET');
  const server = serverCodes();
  assert.ok(server.length >= 15 && server.includes('UNAUTHORIZED'), server.join());
  const raised = new Set([...core, ...wasmCodes(), ...server, 'SYNC_STOPPED']);
  const missing = [...raised].filter((code) => !ErrorCodes.includes(code));
  assert.deepEqual(missing, [], 'raised but not in ErrorCodes (js/src/common/errors.ts)');
  const stale = ErrorCodes.filter((code) => !raised.has(code));
  assert.deepEqual(stale, [], 'in ErrorCodes but raised nowhere');
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
