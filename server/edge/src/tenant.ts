// One Durable Object per tenant: its log in the object's SQLite storage, its pushes applied one at a time (a
// Durable Object runs one request's synchronous code at a time, and a push is one `transactionSync`), and its
// live streams. The Worker (index.ts) authenticates and routes; this object trusts the tenant it is told.
import { DurableObject } from "cloudflare:workers";

import { type Answer, type Env, answerResponse, edgeFor, errorResponse, maxLivePerTenant } from "./edge";
import { LogStorage } from "./storage";

/** Headers the Worker sets on the requests it forwards here (clients cannot reach a Durable Object directly). */
export const TENANT_HEADER = "x-eventlite-tenant";
export const EXPIRES_HEADER = "x-eventlite-expires";

/** Comment lines keep idle live streams open through proxies (the axum server's interval). */
const KEEP_ALIVE_MS = 15_000;

/** A refusal thrown out of `transactionSync`, so that nothing the push wrote is kept. */
class Refused extends Error {
  constructor(readonly answer: Answer) {
    super(answer.body);
  }
}

/** One live stream: coalesced heads (a slow client only ever gets the newest). */
class LiveStream {
  private readonly writer: WritableStreamDefaultWriter<Uint8Array>;
  private sent = -1;
  private latest: number;
  private writing = false;
  private closed = false;
  private readonly timers: ReturnType<typeof setTimeout>[] = [];
  readonly response: Response;

  constructor(
    head: number,
    expiresAt: number | undefined,
    private readonly onClose: (stream: LiveStream) => void,
  ) {
    const { readable, writable } = new TransformStream<Uint8Array, Uint8Array>();
    this.writer = writable.getWriter();
    this.latest = head;
    this.response = new Response(readable, {
      status: 200,
      headers: { "content-type": "text/event-stream", "cache-control": "no-cache" },
    });
    this.timers.push(setInterval(() => this.write(":\n\n"), KEEP_ALIVE_MS));
    if (expiresAt !== undefined) this.endAt(expiresAt * 1000);
    this.publish(head);
  }

  /** A stream opened with a JWT ends when the token expires (`at`, ms since the epoch). Timers take at most 2^31 - 1
   * ms (a longer delay fires at once), so a far expiry is reached in steps. */
  private endAt(at: number): void {
    const left = at - Date.now();
    if (left <= 0) {
      this.close();
      return;
    }
    const MAX_DELAY = 2 ** 31 - 1;
    this.timers.push(setTimeout(() => (left > MAX_DELAY ? this.endAt(at) : this.close()), Math.min(left, MAX_DELAY)));
  }

  publish(head: number): void {
    this.latest = Math.max(this.latest, head);
    void this.flush();
  }

  private async flush(): Promise<void> {
    if (this.writing || this.closed) return;
    this.writing = true;
    try {
      while (!this.closed && this.sent < this.latest) {
        const head = this.latest;
        await this.writer.write(new TextEncoder().encode(`event: head\ndata: {"position":${head}}\n\n`));
        this.sent = head;
      }
    } catch {
      this.close();
    } finally {
      this.writing = false;
    }
  }

  private write(text: string): void {
    if (this.closed) return;
    this.writer.write(new TextEncoder().encode(text)).catch(() => this.close());
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.writer.close().catch(() => undefined);
    this.onClose(this);
  }
}

export class TenantLog extends DurableObject<Env> {
  private readonly log: LogStorage;
  private readonly live = new Set<LiveStream>();

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.log = new LogStorage(ctx.storage.sql);
    ctx.blockConcurrencyWhile(async () => {
      this.log.migrate();
    });
  }

  override async fetch(request: Request): Promise<Response> {
    const edge = edgeFor(this.env);
    if (typeof edge === "string") return errorResponse(500, "INTERNAL", edge);
    const url = new URL(request.url);
    const tenant = request.headers.get(TENANT_HEADER) ?? "";
    const query = url.search === "" ? undefined : url.search.slice(1);
    switch (url.pathname) {
      case "/v1/push": {
        const contentType = request.headers.get("content-type");
        const body = new Uint8Array(await request.arrayBuffer());
        const before = this.log.head();
        let answer: Answer;
        try {
          answer = this.ctx.storage.transactionSync(() => {
            const answer = edge.push(
              tenant,
              query,
              contentType === null ? undefined : new TextEncoder().encode(contentType),
              body,
              this.log,
              Date.now(),
            );
            if (answer.status !== 200) throw new Refused(answer);
            return answer;
          });
        } catch (error) {
          if (error instanceof Refused) return answerResponse(error.answer);
          throw error;
        }
        // Committed: the Durable Object's output gate holds this answer until the write is durable.
        const head = answer.head ?? before;
        if (head > before) for (const stream of this.live) stream.publish(head);
        return answerResponse(answer);
      }
      case "/v1/pull":
        return answerResponse(edge.pull(tenant, query, this.log));
      case "/v1/live": {
        const max = maxLivePerTenant(this.env);
        if (this.live.size >= max) {
          return errorResponse(429, "TOO_MANY_LIVE_STREAMS", `the tenant already has ${max} live streams open`);
        }
        const expires = request.headers.get(EXPIRES_HEADER);
        const stream = new LiveStream(this.log.head(), expires === null ? undefined : Number(expires), (closed) =>
          this.live.delete(closed),
        );
        this.live.add(stream);
        request.signal?.addEventListener("abort", () => stream.close());
        return stream.response;
      }
      default:
        return errorResponse(404, "NOT_FOUND", "no such endpoint");
    }
  }
}
