// The EventLite sync server as a Cloudflare Worker: the same protocol as `eventlite serve`
// (docs/sync-protocol.md). The Worker checks the request's head and token and routes each tenant to its own
// Durable Object (tenant.ts), which keeps the tenant's log in its SQLite storage. Every rule (tokens, cursors,
// queries, push rules, pull paging, error codes) runs in the wasm built from core and eventlite-protocol.
import { type Env, answerResponse, edgeFor, errorResponse, failureResponse, jsonResponse, settingsRefused } from "./edge";
import { EXPIRES_HEADER, TENANT_HEADER } from "./tenant";

export { TenantLog } from "./tenant";

const ROUTES: Record<string, string> = {
  "/v1/push": "POST",
  "/v1/pull": "GET",
  "/v1/live": "GET",
  "/health": "GET",
};

function allowedOrigin(env: Env, origin: string | null): string | undefined {
  const allowed = (env.EVENTLITE_ALLOW_ORIGIN ?? "").split(",").map((o) => o.trim()).filter((o) => o !== "");
  if (origin === null || allowed.length === 0) return undefined;
  if (allowed.includes("*")) return "*";
  return allowed.includes(origin) ? origin : undefined;
}

function withCors(response: Response, origin: string | undefined): Response {
  if (origin === undefined) return response;
  const headers = new Headers(response.headers);
  headers.set("access-control-allow-origin", origin);
  if (origin !== "*") headers.append("vary", "origin");
  return new Response(response.body, { status: response.status, statusText: response.statusText, headers });
}

async function route(request: Request, env: Env): Promise<Response> {
  const url = new URL(request.url);
  const edge = edgeFor(env);
  if (typeof edge === "string") return settingsRefused(edge);
  let headerFields = 0;
  let headerBytes = 0;
  request.headers.forEach((value, name) => {
    headerFields += 1;
    headerBytes += name.length + new TextEncoder().encode(value).length;
  });
  const head = edge.checkHead(new TextEncoder().encode(url.pathname + url.search).length, headerFields, headerBytes);
  if (head.status !== 200) return answerResponse(head);
  const method = ROUTES[url.pathname];
  if (method === undefined) return errorResponse(404, "NOT_FOUND", "no such endpoint");
  if (request.method !== method && !(method === "GET" && request.method === "HEAD")) {
    return errorResponse(405, "METHOD_NOT_ALLOWED", "method not allowed");
  }
  if (url.pathname === "/health") {
    return jsonResponse(200, JSON.stringify({ status: "ok", backend: "durable-object" }));
  }
  const query = url.search === "" ? undefined : url.search.slice(1);
  const authorization = request.headers.get("authorization") ?? undefined;
  const now = Math.floor(Date.now() / 1000);
  const who =
    url.pathname === "/v1/live" ? edge.authenticateLive(authorization, query, now) : edge.authenticate(authorization, now);
  if (who.status !== 200 || who.tenant === undefined) return answerResponse(who);
  const contentType = request.headers.get("content-type");
  let body: Uint8Array | null = null;
  if (url.pathname === "/v1/push") {
    // The checks on the head, in the order every server makes them (eventlite_protocol's `check_push_head`).
    const declared = request.headers.get("content-length");
    const checked = edge.checkPushHead(
      who.tenant,
      query,
      contentType === null ? undefined : new TextEncoder().encode(contentType),
      declared !== null && /^[0-9]+$/.test(declared) ? Number(declared) : undefined,
    );
    if (checked.status !== 200) return checked.status === 413 ? closing(answerResponse(checked)) : answerResponse(checked);
    const read = await readAtMost(request.body, edge.maxBodyBytes);
    if (read === undefined) return closing(answerResponse(edge.bodyTooLarge()));
    body = read;
  }
  const headers = new Headers();
  headers.set(TENANT_HEADER, who.tenant);
  if (who.expires !== undefined) headers.set(EXPIRES_HEADER, String(who.expires));
  if (contentType !== null) headers.set("content-type", contentType);
  const stub = env.TENANTS.get(env.TENANTS.idFromName(who.tenant));
  const forwarded = new Request(`https://tenant${url.pathname}${url.search}`, {
    method: request.method,
    headers,
    body,
    signal: request.signal,
  });
  return stub.fetch(forwarded);
}

/** A refused push: the rest of its body is not read, so the connection cannot carry another request. */
function closing(response: Response): Response {
  response.headers.set("connection", "close");
  return response;
}

/** The body's bytes, counted as they arrive: `undefined` once it passes `max` bytes, so an oversized body without a
 * `Content-Length` is never held whole (nor copied into the wasm). Past `max`, chunks are read and dropped up to
 * another `max` bytes, so that a body a little over the limit is consumed before the answer, and a longer one is
 * cancelled. (`wrangler dev`'s local proxy answers a request whose body was left partly read with its own 503,
 * "worker restarted mid-request", or fails the next one; the deployed runtime answers the 413.) */
async function readAtMost(body: ReadableStream<Uint8Array> | null, max: number): Promise<Uint8Array | undefined> {
  if (body === null) return new Uint8Array(0);
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > max) {
      chunks.length = 0;
      return discardRest(reader, total, 2 * max);
    }
    chunks.push(value);
  }
  const bytes = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return bytes;
}

/** Reads and drops the rest of a refused body while at most `bound` bytes have come in all, else cancels it. */
async function discardRest(reader: ReadableStreamDefaultReader<Uint8Array>, read: number, bound: number): Promise<undefined> {
  let total = read;
  while (total <= bound) {
    const { done, value } = await reader.read();
    if (done) return undefined;
    total += value.byteLength;
  }
  await reader.cancel().catch(() => undefined);
  return undefined;
}

export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    const origin = allowedOrigin(env, request.headers.get("origin"));
    if (request.method === "OPTIONS" && origin !== undefined) {
      return new Response(null, {
        status: 200,
        headers: {
          "access-control-allow-origin": origin,
          "access-control-allow-methods": "GET,POST",
          "access-control-allow-headers": "authorization,content-type",
        },
      });
    }
    try {
      return withCors(await route(request, env), origin);
    } catch (error) {
      return withCors(failureResponse(error), origin);
    }
  },
} satisfies ExportedHandler<Env>;
