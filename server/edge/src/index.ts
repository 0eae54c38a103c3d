// The EventLite sync server as a Cloudflare Worker: the same protocol as `eventlite serve`
// (docs/sync-protocol.md). The Worker checks the request's head and token and routes each tenant to its own
// Durable Object (tenant.ts), which keeps the tenant's log in its SQLite storage. Every rule (tokens, cursors,
// queries, push rules, pull paging, error codes) runs in the wasm built from core and eventlite-protocol.
import { type Env, answerResponse, edgeFor, errorResponse, jsonResponse } from "./edge";
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
  if (typeof edge === "string") return errorResponse(500, "INTERNAL", edge);
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
  if (url.pathname === "/v1/push") {
    const length = Number(request.headers.get("content-length") ?? "0");
    if (length > edge.maxBodyBytes) {
      const refused = errorResponse(413, "REQUEST_TOO_LARGE", `the request body is larger than ${edge.maxBodyBytes} bytes`);
      refused.headers.set("connection", "close");
      return refused;
    }
  }
  const headers = new Headers();
  headers.set(TENANT_HEADER, who.tenant);
  if (who.expires !== undefined) headers.set(EXPIRES_HEADER, String(who.expires));
  const contentType = request.headers.get("content-type");
  if (contentType !== null) headers.set("content-type", contentType);
  const stub = env.TENANTS.get(env.TENANTS.idFromName(who.tenant));
  const forwarded = new Request(`https://tenant${url.pathname}${url.search}`, {
    method: request.method,
    headers,
    body: request.method === "POST" ? request.body : null,
    signal: request.signal,
  });
  return stub.fetch(forwarded);
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
      const message = error instanceof Error ? error.message : String(error);
      const full = /SQLITE_FULL|database or disk is full/.test(message);
      return withCors(errorResponse(full ? 507 : 500, full ? "STORAGE_FULL" : "INTERNAL", message), origin);
    }
  },
} satisfies ExportedHandler<Env>;
