/**
 * The caller's side of the protocol: numbered requests, their answers, and subscription pages, over a
 * {@link Transport} (a dedicated worker in the browser; the same thread in Node).
 */

import { invalidArgument, toEventLiteError, type ErrorShape } from '../common/errors.js';
import type {
  Delivery,
  HostMessage,
  HostMethods,
  Request,
  SubscriptionFailure,
  SyncNotice,
  WatchNotice,
} from '../common/protocol.js';

/** Carries requests to a host and its messages back. */
export interface Transport {
  /** Sends a request; throws synchronously when the arguments cannot be cloned. */
  send(request: Request): void;
  /** Registers the receiver of every host message, and of a fatal transport failure. */
  listen(onMessage: (message: HostMessage) => void, onFailure: (error: ErrorShape) => void): void;
  /** Stops the host (terminates the worker). */
  terminate(): void;
  /** Registers what to do after the host changed (another tab took the store over): re-open subscriptions. */
  onReconnect?(callback: () => void): void;
}

type Pending = { resolve: (value: unknown) => void; reject: (error: unknown) => void };

export class Client {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private failure: ErrorShape | undefined;
  /** Receives subscription pages and failures. */
  onDelivery: (message: Delivery | SubscriptionFailure) => void = () => {};
  /** Receives watched queries' rows and failures. */
  onWatch: (message: WatchNotice) => void = () => {};
  /** Receives sync notices (status, conflicts, rounds, synced subscriptions' pages). */
  onSync: (notice: SyncNotice) => void = () => {};
  /** Called when the host changed, after the transport re-sent the unanswered requests (see {@link onReconnect}). */
  readonly #reconnectListeners: (() => void)[] = [];

  constructor(private readonly transport: Transport) {
    transport.listen(
      (message) => this.receive(message),
      (error) => this.fail(error),
    );
    transport.onReconnect?.(() => {
      for (const listener of this.#reconnectListeners) listener();
    });
  }

  /** Calls a host method; resolves with its result once the host has answered. */
  call<M extends keyof HostMethods>(
    method: M,
    ...args: Parameters<HostMethods[M]>
  ): Promise<ReturnType<HostMethods[M]>> {
    if (this.failure) return Promise.reject(toEventLiteError(this.failure));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      // Registered first: a transport may answer synchronously.
      this.pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
      try {
        this.transport.send({ id, method, args });
      } catch (error) {
        // DataCloneError: a function, symbol or similar somewhere in the arguments.
        this.pending.delete(id);
        reject(invalidArgument('arguments', `cannot be sent to the store: ${(error as Error).message}`));
      }
    });
  }

  /** Registers what to do after the host changed (another tab took the store over): re-open subscriptions. */
  onReconnect(listener: () => void): void {
    this.#reconnectListeners.push(listener);
  }

  terminate(): void {
    this.transport.terminate();
    this.fail({ code: 'STORE_CLOSED', message: 'the store is closed' });
  }

  private receive(message: HostMessage): void {
    if ('id' in message) {
      const pending = this.pending.get(message.id);
      if (!pending) return;
      this.pending.delete(message.id);
      if (message.ok) pending.resolve(message.value);
      else pending.reject(toEventLiteError(message.error));
    } else if (message.kind === 'sync') {
      this.onSync(message);
    } else if (message.kind === 'rows' || message.kind === 'watchError') {
      this.onWatch(message);
    } else {
      this.onDelivery(message);
    }
  }

  private fail(error: ErrorShape): void {
    this.failure ??= error;
    for (const pending of this.pending.values()) pending.reject(toEventLiteError(error));
    this.pending.clear();
  }
}
