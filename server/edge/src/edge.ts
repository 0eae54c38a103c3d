// The wasm side (crate eventlite-edge-wasm): core's push rules and pull paging, and eventlite-protocol's tokens,
// cursors, query parsing and error codes. One `Edge` per isolate, made from the Worker's environment.
import wasmModule from "../pkg/eventlite_edge_bg.wasm";
import { Edge, initSync } from "../pkg/eventlite_edge.js";

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
  /** Browser origins allowed to call from elsewhere (CORS): `*`, or origins separated by commas. */
  EVENTLITE_ALLOW_ORIGIN?: string;
}

let initialised = false;
let cached: { key: string; edge: Edge | string } | undefined;

function setting(value: string | undefined, name: string): number | undefined {
  if (value === undefined || value === "") return undefined;
  if (!/^[0-9]+$/.test(value) || Number(value) > 0xffff_ffff) {
    throw new Error(`${name} must be a whole number of at most 4294967295, not ${JSON.stringify(value)}`);
  }
  return Number(value);
}

/** The Edge for this environment, or the reason the settings are refused (as `eventlite serve` refuses to start). */
export function edgeFor(env: Env): Edge | string {
  if (!initialised) {
    initSync({ module: wasmModule });
    initialised = true;
  }
  const key = JSON.stringify([
    env.EVENTLITE_TOKENS,
    env.EVENTLITE_JWT_SECRET,
    env.EVENTLITE_MAX_BODY_BYTES,
    env.EVENTLITE_MAX_BATCH,
    env.EVENTLITE_MAX_EVENT_BYTES,
    env.EVENTLITE_MAX_PULL_BYTES,
  ]);
  if (cached?.key !== key) {
    let edge: Edge | string;
    try {
      edge = new Edge(
        env.EVENTLITE_TOKENS,
        env.EVENTLITE_JWT_SECRET,
        setting(env.EVENTLITE_MAX_BODY_BYTES, "EVENTLITE_MAX_BODY_BYTES"),
        setting(env.EVENTLITE_MAX_BATCH, "EVENTLITE_MAX_BATCH"),
        setting(env.EVENTLITE_MAX_EVENT_BYTES, "EVENTLITE_MAX_EVENT_BYTES"),
        setting(env.EVENTLITE_MAX_PULL_BYTES, "EVENTLITE_MAX_PULL_BYTES"),
      );
    } catch (error) {
      edge = error instanceof Error ? error.message : String(error);
    }
    cached = { key, edge };
  }
  return cached.edge;
}

export function maxLivePerTenant(env: Env): number {
  return setting(env.EVENTLITE_MAX_LIVE_PER_TENANT, "EVENTLITE_MAX_LIVE_PER_TENANT") || 100;
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

/** An answer of the wasm as a Response. */
export function answerResponse(answer: { status: number; body: string }): Response {
  return jsonResponse(answer.status, answer.body);
}
