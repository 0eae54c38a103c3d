/**
 * Several tabs, one store (`docs/adr/0005-browser-package.md`, "Several tabs"): the tab holding the Web Lock `eventlite-owner:<name>` runs the worker that
 * owns the OPFS database and relays the other tabs' requests to it over a BroadcastChannel; the others forward their
 * calls and receive their answers and subscription pages the same way. Each follower also queues for the lock, so
 * when the owner tab closes (or its store is closed) the next tab takes over: it starts its own worker, announces
 * itself, and every tab re-sends the requests that were not answered (appends carry their event ids, so a re-sent
 * append that had in fact committed returns the original result) and re-opens its subscriptions after the last
 * event its handlers finished (delivery is at-least-once across an owner change).
 */

import type { ErrorShape } from '../common/errors.js';
import type { HostMessage, OpenRequest, Request, Response } from '../common/protocol.js';
import type { StorageMode } from '../common/types.js';
import type { Transport } from '../page/client.js';

type ChannelMessage =
  | { kind: 'request'; from: string; request: Request }
  | { kind: 'message'; to: string; owner: string; message: HostMessage }
  | { kind: 'owner'; tab: string }
  | { kind: 'bye'; from: string };

/** The owner's messages to itself while followers are active (see `followerSeenAt`). */
type Loopback = { kind: 'request'; request: Request } | { kind: 'answer'; message: Response };

/** Where a relayed request's answer goes: this tab, a follower, or the transport itself. */
type Route =
  | { to: 'local'; id: number; method: Request['method']; looped?: boolean }
  | { to: 'tab'; tab: string; id: number; method: Request['method'] }
  | { to: 'open'; resolve: (response: Response) => void }
  | { to: 'none' };

/** How long after a follower's last request the owner still routes its own requests like a follower's. */
const FOLLOWERS_ACTIVE_MS = 1000;

export function canShare(): boolean {
  return typeof BroadcastChannel !== 'undefined' && typeof navigator !== 'undefined' && !!navigator.locks;
}

/**
 * A {@link Transport} that is the owner (worker) or a follower (channel) of the store, and switches from follower to
 * owner when it inherits the lock. `makeWorker` starts a worker as `browser.ts` does.
 */
export class SharedTransport implements Transport {
  private readonly tab = typeof crypto.randomUUID === 'function' ? crypto.randomUUID() : `${Math.random()}`;
  private readonly channel: BroadcastChannel;
  private worker: Worker | undefined;
  private owner: string | undefined;
  private receive: (message: HostMessage) => void = () => {};
  private failure: (error: ErrorShape) => void = () => {};
  private reconnect: () => void = () => {};
  /** This tab's requests not answered yet, re-sent when the owner changes. */
  private readonly unanswered = new Map<number, Request>();
  /** Owner only: requests in the worker, by relay id, and the subscriptions' tabs. */
  private readonly routes = new Map<number, Route>();
  private readonly subscriptionTabs = new Map<number, string>();
  /** Owner only: followers' synced subscriptions (`page/sync.ts`), whose pages go to that tab alone. */
  private readonly syncSubscriptionTabs = new Map<number, string>();
  /** Owner only: every watched query's tab (`page/watch.ts`, this one's too): its rows go to that tab alone. */
  private readonly watchTabs = new Map<number, string>();
  private nextRelayId = 1;
  private releaseLock: (() => void) | undefined;
  private closed = false;
  /**
   * Owner only: when a follower last sent a request. While followers are active the owner's own requests take the
   * same hop theirs do (a BroadcastChannel message, through `loopback`), so a tab in a tight loop cannot win every
   * race just by being the owner: the worker serves requests in arrival order, and arrival is then fair.
   */
  private followerSeenAt = -Infinity;
  private loopback: { send: BroadcastChannel; receive: BroadcastChannel } | undefined;
  /** Own requests still on the loopback hop: later ones follow them there, so this tab's calls keep their order. */
  private looping = 0;

  private constructor(
    private readonly request: OpenRequest,
    private readonly makeWorker: () => Worker,
    private storageMode: StorageMode = 'memory',
  ) {
    this.channel = new BroadcastChannel(`eventlite:${request.name}`);
    this.channel.onmessage = (event: MessageEvent<ChannelMessage>) => this.onChannel(event.data);
    addEventListener('pagehide', () => {
      if (!this.worker) this.channel.postMessage({ kind: 'bye', from: this.tab } satisfies ChannelMessage);
    });
  }

  /** Becomes the owner when the lock is free, a follower otherwise. Resolves once requests can be sent. */
  static async start(request: OpenRequest, makeWorker: () => Worker): Promise<SharedTransport> {
    const transport = new SharedTransport(request, makeWorker);
    const lock = `eventlite-owner:${request.name}`;
    const owner = await new Promise<boolean>((resolve) => {
      void navigator.locks.request(lock, { ifAvailable: true }, (held) => {
        if (!held) {
          resolve(false);
          return undefined;
        }
        resolve(true);
        return new Promise<void>((release) => (transport.releaseLock = release));
      });
    });
    if (owner) {
      try {
        await transport.becomeOwner();
      } catch (error) {
        transport.terminate();
        throw error;
      }
    } else {
      // Queue for ownership: granted when every earlier holder has closed its store or its tab.
      void navigator.locks.request(lock, () => {
        if (transport.closed) return undefined;
        return new Promise<void>((release) => {
          transport.releaseLock = release;
          void transport.becomeOwner().then(
            () => transport.reconnect(),
            (error: ErrorShape) => {
              // Release the lock so the next tab can take over, rather than leave every follower waiting.
              transport.terminate();
              transport.failure(error);
            },
          );
        });
      });
    }
    return transport;
  }

  send(request: Request): void {
    if (request.method === 'close' && !this.worker) {
      // A follower's close needs no owner: the owner (if any) drops this tab's subscriptions on `bye`.
      this.channel.postMessage({ kind: 'bye', from: this.tab } satisfies ChannelMessage);
      this.deliver(undefined, { id: request.id, ok: true, value: undefined });
      return;
    }
    if (request.method !== 'close') this.unanswered.set(request.id, request);
    try {
      if (this.worker && (this.looping > 0 || performance.now() - this.followerSeenAt < FOLLOWERS_ACTIVE_MS)) {
        this.loop().send.postMessage({ kind: 'request', request } satisfies Loopback);
        this.looping++;
      } else if (this.worker) {
        this.relay(request, undefined);
      } else {
        // Answered by the owner; if it is not serving yet, re-sent when it announces itself.
        this.channel.postMessage({ kind: 'request', from: this.tab, request } satisfies ChannelMessage);
      }
    } catch (error) {
      this.unanswered.delete(request.id); // not cloneable: the caller gets INVALID_ARGUMENT
      throw error;
    }
  }

  listen(onMessage: (message: HostMessage) => void, onFailure: (error: ErrorShape) => void): void {
    this.receive = onMessage;
    this.failure = onFailure;
  }

  /** Called after an owner change, once this tab's unanswered requests have been re-sent. */
  onReconnect(callback: () => void): void {
    this.reconnect = callback;
  }

  terminate(): void {
    this.closed = true;
    this.worker?.terminate();
    this.worker = undefined;
    this.channel.close();
    this.loopback?.send.close();
    this.loopback?.receive.close();
    this.releaseLock?.();
  }

  /** The owner's channel to itself: the same delay a follower's request has. */
  private loop(): { send: BroadcastChannel; receive: BroadcastChannel } {
    if (!this.loopback) {
      const name = `eventlite-loop:${this.request.name}:${this.tab}`;
      const receive = new BroadcastChannel(name);
      receive.onmessage = ({ data }: MessageEvent<Loopback>) => {
        if (this.closed) return;
        if (data.kind === 'answer') {
          this.deliver(undefined, data.message);
          return;
        }
        this.looping--;
        if (this.worker) this.relay(data.request, undefined, true);
      };
      this.loopback = { send: new BroadcastChannel(name), receive };
    }
    return this.loopback;
  }

  private async becomeOwner(): Promise<void> {
    const worker = this.makeWorker();
    this.worker = worker;
    worker.onmessage = (event: MessageEvent<HostMessage>) => this.fromWorker(event.data);
    worker.onerror = (event: ErrorEvent) => {
      event.preventDefault();
      this.terminate(); // releases the lock: the next tab takes the store over
      const error: ErrorShape = {
        code: 'INTERNAL',
        message: `the eventlite worker failed: ${event.message || 'could not load'}`,
      };
      for (const [id, route] of this.routes) if (route.to === 'open') route.resolve({ id, ok: false, error });
      this.failure(error);
    };
    // Open the database before anyone's request reaches the worker.
    const opened = await new Promise<Response>((resolve) => {
      const id = this.nextRelayId++;
      this.routes.set(id, { to: 'open', resolve });
      worker.postMessage({ id, method: 'open', args: [this.request] } satisfies Request);
    });
    if (!opened.ok) throw opened.error;
    this.storageMode = (opened.value as { storageMode: StorageMode }).storageMode;
    this.owner = this.tab;
    this.channel.postMessage({ kind: 'owner', tab: this.tab } satisfies ChannelMessage);
    for (const request of this.unanswered.values()) {
      if (request.method === 'open') this.answerOpen(request, undefined);
      else if (!this.answerStale(request)) this.relay(request, undefined);
    }
  }

  /**
   * After an owner change, a request about a subscription of the previous owner's worker is answered here: that
   * subscription is gone, and the new worker's ids restart, so the same id may be another tab's subscription there.
   */
  private answerStale(request: Request): boolean {
    const method: string = request.method;
    const stale = ['ack', 'unsubscribe', 'syncAck', 'syncUnsubscribe', 'unwatch'];
    if (!stale.includes(method)) return false;
    this.deliver(undefined, { id: request.id, ok: true, value: undefined });
    return true;
  }

  /** Owner: sends a request (this tab's or a follower's) to the worker under a fresh id. */
  private relay(request: Request, tab: string | undefined, looped = false): void {
    if (request.method === 'open') {
      this.answerOpen(request, tab);
      return;
    }
    if (tab !== undefined && request.method === 'close') {
      this.dropTab(tab);
      this.deliver(tab, { id: request.id, ok: true, value: undefined });
      return;
    }
    if (request.method === 'unwatch') this.watchTabs.delete(request.args[0] as number);
    const id = this.nextRelayId++;
    const route: Route =
      tab === undefined
        ? { to: 'local', id: request.id, method: request.method, looped }
        : { to: 'tab', tab, id: request.id, method: request.method };
    this.routes.set(id, route);
    this.worker?.postMessage({ ...request, id });
  }

  private answerOpen(request: Request, tab: string | undefined): void {
    this.deliver(tab, { id: request.id, ok: true, value: { storageMode: this.storageMode } });
  }

  /** Owner: routes the worker's message to this tab or to the follower it belongs to. */
  private fromWorker(message: HostMessage): void {
    if ('id' in message) {
      const route = this.routes.get(message.id);
      if (!route) return;
      this.routes.delete(message.id);
      if (route.to === 'open') {
        route.resolve(message);
      } else if (route.to !== 'none') {
        const tab = route.to === 'tab' ? route.tab : undefined;
        if (tab !== undefined && message.ok && route.method.startsWith('subscribeTo')) {
          this.subscriptionTabs.set(message.value as number, tab);
        }
        if (tab !== undefined && message.ok && route.method === 'syncSubscribe') {
          this.syncSubscriptionTabs.set(message.value as number, tab);
        }
        if (message.ok && route.method === 'watch') this.watchTabs.set(message.value as number, tab ?? this.tab);
        if (route.to === 'local' && route.looped) {
          // The answer takes the hop back too, as a follower's does.
          this.loop().send.postMessage({ kind: 'answer', message: { ...message, id: route.id } } satisfies Loopback);
        } else {
          this.deliver(tab, { ...message, id: route.id });
        }
      }
    } else if (message.kind === 'sync') {
      if (message.type === 'page' || message.type === 'pageError') {
        // A synced subscription's page goes to the tab that opened it, like a subscription's.
        this.deliver(this.syncSubscriptionTabs.get(message.synced), message);
        return;
      }
      // Other sync notices are about the store, not one tab's request: every tab's SyncClient gets them.
      this.deliver(undefined, message);
      this.channel.postMessage({ kind: 'message', to: '*', owner: this.tab, message } satisfies ChannelMessage);
    } else if (message.kind === 'rows' || message.kind === 'watchError') {
      // A stopped watch's last rows (posted before its `unwatch` arrived) go nowhere.
      const tab = this.watchTabs.get(message.watch);
      if (tab !== undefined) this.deliver(tab, message);
    } else {
      this.deliver(this.subscriptionTabs.get(message.subscription), message);
    }
  }

  private deliver(tab: string | undefined, message: HostMessage): void {
    if (tab === undefined || tab === this.tab) {
      if ('id' in message) this.unanswered.delete(message.id);
      this.receive(message);
    } else {
      this.channel.postMessage({ kind: 'message', to: tab, owner: this.tab, message } satisfies ChannelMessage);
    }
  }

  /** Owner: a follower left; close its subscriptions and watches. */
  private dropTab(tab: string): void {
    for (const [subscription, owner] of this.subscriptionTabs) {
      if (owner !== tab) continue;
      this.subscriptionTabs.delete(subscription);
      const id = this.nextRelayId++;
      this.routes.set(id, { to: 'none' });
      this.worker?.postMessage({ id, method: 'unsubscribe', args: [subscription] } satisfies Request);
    }
    for (const [watch, owner] of this.watchTabs) {
      if (owner !== tab) continue;
      this.watchTabs.delete(watch);
      const id = this.nextRelayId++;
      this.routes.set(id, { to: 'none' });
      this.worker?.postMessage({ id, method: 'unwatch', args: [watch] } satisfies Request);
    }
    for (const [subscription, owner] of this.syncSubscriptionTabs) {
      if (owner !== tab) continue;
      this.syncSubscriptionTabs.delete(subscription);
      const id = this.nextRelayId++;
      this.routes.set(id, { to: 'none' });
      this.worker?.postMessage({ id, method: 'syncUnsubscribe', args: [subscription] } satisfies Request);
    }
  }

  private onChannel(message: ChannelMessage): void {
    if (this.closed) return;
    switch (message.kind) {
      case 'request':
        if (this.worker && this.owner === this.tab) {
          this.followerSeenAt = performance.now();
          this.relay(message.request, message.from);
        }
        break;
      case 'message':
        if (message.to !== this.tab && message.to !== '*') break;
        this.owner ??= message.owner;
        this.deliver(undefined, message.message);
        break;
      case 'bye':
        if (this.worker) this.dropTab(message.from);
        break;
      case 'owner': {
        if (this.worker) break;
        const changed = this.owner !== undefined && this.owner !== message.tab;
        this.owner = message.tab;
        // Requests the previous owner never answered go to the new one; subscriptions are re-opened there.
        for (const request of this.unanswered.values()) {
          if (changed && this.answerStale(request)) continue;
          this.channel.postMessage({ kind: 'request', from: this.tab, request } satisfies ChannelMessage);
        }
        if (changed) this.reconnect();
        break;
      }
    }
  }
}
