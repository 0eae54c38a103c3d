/**
 * Encoding between the public API's values and the wasm layer's wire format (JSON text, see
 * `docs/adr/0005-browser-package.md`): strict JSON serialisation of event data, UUID v7 ids, base64 for bytes,
 * and number checks. Runs on the caller's thread, so bad input fails before anything is sent to the worker.
 */

import { invalidArgument } from './errors.js';
import type { SyncConflict } from './types.js';

/** The largest version or position the package accepts or returns: `Number.MAX_SAFE_INTEGER` (2^53 - 1). */
export const MAX_POSITION = Number.MAX_SAFE_INTEGER;

/**
 * `JSON.stringify` that refuses what JSON would silently change or drop: functions, symbols, bigints, `NaN` and
 * infinities, `Map`/`Set`/typed arrays, cycles, and a top-level `undefined`. Throws `INVALID_ARGUMENT` naming
 * `argument`.
 */
export function strictJson(value: unknown, argument: string): string {
  const reject = (reason: string): never => {
    throw invalidArgument(argument, `is not serialisable as JSON: ${reason}`);
  };
  let text: string | undefined;
  try {
    text = JSON.stringify(value, (_key, item: unknown) => {
      switch (typeof item) {
        case 'function':
          return reject('contains a function');
        case 'symbol':
          return reject('contains a symbol');
        case 'bigint':
          return reject('contains a bigint');
        case 'number':
          return Number.isFinite(item) ? item : reject(`contains ${item}`);
        case 'object':
          if (item instanceof Map || item instanceof Set || ArrayBuffer.isView(item) || item instanceof ArrayBuffer) {
            return reject(`contains a ${Object.prototype.toString.call(item).slice(8, -1)}`);
          }
          return item;
        default:
          return item;
      }
    });
  } catch (error) {
    if (error instanceof Error && error.name === 'InvalidArgumentError') throw error;
    return reject(error instanceof Error ? error.message : String(error)); // cycles, throwing toJSON
  }
  if (text === undefined) return reject('is undefined');
  return text;
}

/** A non-negative safe integer from a number or bigint; throws `INVALID_ARGUMENT` otherwise. */
export function toPosition(value: unknown, argument: string): number {
  if (typeof value === 'bigint') {
    if (value >= 0n && value <= BigInt(MAX_POSITION)) return Number(value);
  } else if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) {
    return value;
  } else if (typeof value !== 'number') {
    throw invalidArgument(argument, 'must be a number or a bigint');
  }
  throw invalidArgument(argument, 'must be an integer from 0 to 2^53 - 1');
}

const hex: string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/** Random bytes for ids, drawn 4 KiB at a time: one `getRandomValues` per 256 ids (a call costs microseconds). */
const pool = new Uint8Array(4096);
let drawn = pool.length;

/** A fresh UUID v7: 48 bits of Unix milliseconds, then random bits (crypto.getRandomValues). */
export function uuidv7(): string {
  if (drawn === pool.length) {
    crypto.getRandomValues(pool);
    drawn = 0;
  }
  const bytes = pool.slice(drawn, drawn + 16);
  drawn += 16;
  let now = Date.now();
  for (let i = 5; i >= 0; i--) {
    bytes[i] = now % 256;
    now = Math.floor(now / 256);
  }
  bytes[6] = (bytes[6]! & 0x0f) | 0x70;
  bytes[8] = (bytes[8]! & 0x3f) | 0x80;
  let out = '';
  for (let i = 0; i < 16; i++) {
    out += hex[bytes[i]!];
    if (i === 3 || i === 5 || i === 7 || i === 9) out += '-';
  }
  return out;
}

/** Standard base64 of bytes. */
export function toBase64(bytes: Uint8Array): string {
  let binary = '';
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary);
}

/** Bytes of standard base64. */
export function fromBase64(text: string): Uint8Array {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false;
  const prototype = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}

/**
 * Encodes a batch as the wire JSON array, giving every event without an `eventId` a fresh UUID v7.
 * Returns the JSON text and the ids in batch order.
 */
export function encodeEvents(events: unknown): { json: string; eventIds: string[] } {
  if (!Array.isArray(events)) throw invalidArgument('events', 'must be an array of events');
  const parts: string[] = [];
  const eventIds: string[] = [];
  events.forEach((event: unknown, index) => {
    const at = `events[${index}]`;
    if (!isPlainObject(event)) throw invalidArgument(at, 'must be an object with a type and data');
    const { type, data, contentType, metadata, eventId, ...rest } = event;
    const unknown = Object.keys(rest);
    if (unknown.length > 0) throw invalidArgument(`${at}.${unknown[0]}`, 'is not an event field');
    if (typeof type !== 'string') throw invalidArgument(`${at}.type`, 'must be a string');
    let id: string;
    if (eventId === undefined) id = uuidv7();
    else if (typeof eventId === 'string') id = eventId;
    else throw invalidArgument(`${at}.eventId`, 'must be a UUID string');
    eventIds.push(id);
    let body: string;
    if (data instanceof Uint8Array) {
      if (typeof contentType !== 'string' || contentType === '' || contentType === 'application/json') {
        throw invalidArgument(`${at}.contentType`, 'bytes need a content type other than application/json');
      }
      body = `"contentType":${JSON.stringify(contentType)},"dataBase64":"${toBase64(data)}"`;
    } else {
      if (data === undefined) throw invalidArgument(`${at}.data`, 'is required (use null for no data)');
      if (contentType !== undefined && contentType !== 'application/json') {
        throw invalidArgument(`${at}.contentType`, 'only Uint8Array data takes a content type');
      }
      body = `"data":${strictJson(data, `${at}.data`)}`;
    }
    if (metadata !== undefined) {
      if (!isPlainObject(metadata)) throw invalidArgument(`${at}.metadata`, 'must be a plain object');
      body += `,"metadata":${strictJson(metadata, `${at}.metadata`)}`;
    }
    parts.push(`{"eventId":${JSON.stringify(id)},"type":${JSON.stringify(type)},${body}}`);
  });
  return { json: `[${parts.join(',')}]`, eventIds };
}

/** A stored event as the wire carries it. */
export interface WireEvent {
  position: number;
  eventId: string;
  stream: string;
  version: number;
  type: string;
  contentType: string;
  data?: unknown;
  dataBase64?: string;
  metadata: Record<string, unknown> | null;
  recordedAt: number;
}

/** Decodes a page of events (JSON text) into recorded events; bytes become `Uint8Array`. */
export function decodeEvents<T>(json: string): T[] {
  const events = JSON.parse(json) as (WireEvent & T)[];
  for (const event of events) {
    if (event.dataBase64 !== undefined) {
      event.data = fromBase64(event.dataBase64);
      delete event.dataBase64;
    }
  }
  return events;
}

/** A conflict as the wasm layer encodes it (`data` embedded JSON, or base64). */
interface WireConflict extends Omit<SyncConflict, 'data'> {
  data?: unknown;
  dataBase64?: string;
}

/** Decodes a JSON array of conflicts; bytes become `Uint8Array`. */
export function decodeConflicts(json: string): SyncConflict[] {
  return (JSON.parse(json) as WireConflict[]).map(({ dataBase64, ...conflict }) => ({
    ...conflict,
    data: dataBase64 === undefined ? (conflict.data ?? null) : fromBase64(dataBase64),
  }));
}
