// One Durable Object per tenant: its log in the object's SQLite storage, its pushes applied one at a time (a
// Durable Object runs one request's synchronous code at a time, and a push is one `transactionSync`), and its
// live streams. The Worker (index.ts) authenticates and routes; this object trusts the tenant it is told.
import { DurableObject } from "cloudflare:workers";

import { type Answer, type Edge, type Env, answerResponse, edgeFor, errorResponse, settingsRefused } from "./edge";
import { LogStorage } from "./storage";

/** Headers the Worker sets on the requests it forwards here (clients cannot reach a Durable Object directly). */
export const TENANT_HEADER = "x-eventlite-tenant";
export const EXPIRES_HEADER = "x-eventlite-expires";

/** A refusal thrown out of `transactionSync`, so that nothing the push wrote is kept. */
class Refused extends Error {
  constructor(readonly answer: Answer) {
    super(answer.body);
  }
}

/** One live stream: coalesced heads (a slow client only ever gets the newest). The body is a ReadableStream
 * pulled by the runtime: a frame is queued only when the queue is empty (one frame at most), and `cancel` (the
 * client went away) closes the stream at once, freeing its slot; so does an abort of the request's signal. */
class LiveStream {
  private controller!: ReadableStreamDefaultController<Uint8Array>;
  private sent = -1;
  private latest: number;
  private closed = false;
  private readonly timers: ReturnType<typeof setTimeout>[] = [];
  readonly response: Response;

  constructor(
    private readonly edge: Edge,
    head: number,
    expiresAt: number | undefined,
    private readonly onClose: (stream: LiveStream) => void,
  ) {
    this.latest = head;
    const body = new ReadableStream<Uint8Array>(
      {
        start: (controller) => {
          this.controller = controller;
        },
        pull: () => this.flush(),
        cancel: () => this.close(),
      },
      { highWaterMark: 1 },
    );
    this.response = new Response(body, {
      status: 200,
      headers: { "content-type": "text/event-stream", "cache-control": "no-cache" },
    });
    // Comment lines keep idle live streams open through proxies; a write that fails also shows a client gone where
    // nothing else does (`wrangler dev`'s local proxy tells the runtime only then).
    this.timers.push(setInterval(() => this.keepAlive(), edge.keepAliveMs));
    if (expiresAt !== undefined) this.endAt(expiresAt * 1000);
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
    this.flush();
  }

  /** Queues the newest head if it is unsent and the queue has room; else `pull` comes back when it has. */
  private flush(): void {
    if (this.closed || this.sent >= this.latest || (this.controller.desiredSize ?? 0) <= 0) return;
    this.enqueue(this.edge.headFrame(this.latest));
    this.sent = this.latest;
  }

  /** A comment, only into an empty queue: a queued frame keeps the connection busy already. */
  private keepAlive(): void {
    if (!this.closed && (this.controller.desiredSize ?? 0) > 0) this.enqueue(this.edge.keepAliveFrame);
  }

  private enqueue(text: string): void {
    try {
      this.controller.enqueue(new TextEncoder().encode(text));
    } catch {
      this.close();
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const timer of this.timers) clearTimeout(timer);
    try {
      this.controller.close();
    } catch {
      // Already cancelled or errored: nothing to close.
    }
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
    if (typeof edge === "string") return settingsRefused(edge);
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
        if (this.live.size >= edge.maxLivePerTenant) return answerResponse(edge.tooManyLiveStreams());
        if (request.method === "HEAD") {
          // The head of the answer a GET would get, at once, and no slot taken (the axum server's HEAD drops the
          // stream it opened as soon as the head is sent).
          return new Response(null, {
            status: 200,
            headers: { "content-type": "text/event-stream", "cache-control": "no-cache" },
          });
        }
        const expires = request.headers.get(EXPIRES_HEADER);
        const stream = new LiveStream(edge, this.log.head(), expires === null ? undefined : Number(expires), (closed) =>
          this.live.delete(closed),
        );
        this.live.add(stream);
        // With the `enable_request_signal` compatibility flag, the signal aborts when the client disconnects.
        request.signal?.addEventListener("abort", () => stream.close());
        return stream.response;
      }
      default:
        return errorResponse(404, "NOT_FOUND", "no such endpoint");
    }
  }
}
