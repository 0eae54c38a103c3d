// The wasm side (crate eventlite-edge-wasm): core's push rules and pull paging, and eventlite-protocol's tokens,
// cursors, query parsing and error codes. One `Edge` per isolate, made from the Worker's environment.
import wasmModule from "../pkg/eventlite_edge_bg.wasm";
import { Edge, failureAnswer, initSync } from "../pkg/eventlite_edge.js";

export type { Answer } from "../pkg/eventlite_edge.js";
export { Edge };

/** The Worker's environment: the Durable Object namespace and the server's settings (see docs/edge.md). */
export interface Env {
  TENANTS: DurableObjectNamespace;
  /** `token:tenant,...`, like `eventlite serve`'s `EVENTLITE_TOKENS`. */
  EVENTLITE_TOKENS?: string;
  /** The HS256 secret (at least 32 bytes): `wrangler secret put EVENTLITE_JWT_SECRET`. */
  EVENTLITE_JWT_SECRET?: string;
  EVENTLITE_MAX_BODY_BYTES?: string;
  EVENTLITE_MAX_BATCH?: string;
  EVENTLITE_MAX_EVENT_BYTES?: string;
  EVENTLITE_MAX_PULL_BYTES?: string;
  EVENTLITE_MAX_LIVE_PER_TENANT?: string;
  /** Milliseconds between a live stream's keep-alive comments (default 15000, the axum server's interval). */
  EVENTLITE_LIVE_KEEP_ALIVE_MS?: string;
  /** Browser origins allowed to call from elsewhere (CORS): `*`, or origins separated by commas. */
  EVENTLITE_ALLOW_ORIGIN?: string;
}

let initialised = false;
let cached: { key: string; edge: Edge | string } | undefined;

/** The Edge for this environment, or the reason the settings are refused (as `eventlite serve` refuses to start).
 * Every setting is parsed and checked in the wasm (`Edge::new`). */
export function edgeFor(env: Env): Edge | string {
  if (!initialised) {
    initSync({ module: wasmModule });
    initialised = true;
  }
  const settings = [
    env.EVENTLITE_TOKENS,
    env.EVENTLITE_JWT_SECRET,
    env.EVENTLITE_MAX_BODY_BYTES,
    env.EVENTLITE_MAX_BATCH,
    env.EVENTLITE_MAX_EVENT_BYTES,
    env.EVENTLITE_MAX_PULL_BYTES,
    env.EVENTLITE_MAX_LIVE_PER_TENANT,
    env.EVENTLITE_LIVE_KEEP_ALIVE_MS,
  ] as const;
  const key = JSON.stringify(settings);
  if (cached?.key !== key) {
    let edge: Edge | string;
    try {
      edge = new Edge(...settings);
    } catch (error) {
      edge = error instanceof Error ? error.message : String(error);
    }
    cached = { key, edge };
  }
  return cached.edge;
}

/** The answer to refused settings: a generic 500 (its reason may name tenants, and the caller is not yet
 * authenticated), the reason logged. */
export function settingsRefused(reason: string): Response {
  console.error(`the server's settings are refused: ${reason}`);
  return errorResponse(500, "INTERNAL", "the server is misconfigured");
}

/** The answer to an exception (logged, not sent): 507 STORAGE_FULL or 500 INTERNAL as the wasm classifies it;
 * a Durable Object that is overloaded or was reset (its errors say `retryable` or `overloaded`) is a 503
 * STORAGE_UNAVAILABLE, to retry with backoff. */
export function failureResponse(error: unknown): Response {
  const message = error instanceof Error ? (error.stack ?? error.message) : String(error);
  console.error(message);
  const flags = typeof error === "object" && error !== null ? (error as { retryable?: unknown; overloaded?: unknown }) : {};
  if (flags.retryable === true || flags.overloaded === true) {
    return errorResponse(503, "STORAGE_UNAVAILABLE", "the storage is unavailable; retry with backoff");
  }
  if (!initialised) return errorResponse(500, "INTERNAL", "internal error");
  return answerResponse(failureAnswer(message));
}

/** The JSON error answer every non-200 carries: `{code, message}`. */
export function errorResponse(status: number, code: string, message: string, headers?: HeadersInit): Response {
  return jsonResponse(status, JSON.stringify({ code, message }), headers);
}

export function jsonResponse(status: number, body: string, headers?: HeadersInit): Response {
  const response = new Response(body, { status, headers });
  response.headers.set("content-type", "application/json");
  return response;
}

/** An answer of the wasm as a Response; a 5xx's detail is logged, its body is generic. */
export function answerResponse(answer: { status: number; body: string; detail?: string | undefined }): Response {
  if (answer.detail !== undefined) console.error(answer.detail);
  return jsonResponse(answer.status, answer.body);
}
