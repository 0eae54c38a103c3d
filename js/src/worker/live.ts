/**
 * The live notifications (`GET /v1/live`, Server-Sent Events) as a streamed `fetch` whose bytes go to core's
 * `LiveFeed` (through the wasm layer): it finds the `head` events and decides how long to wait before connecting
 * again. This file only connects, reads, keeps the timers (reconnection, silence) and reports.
 *
 * A streamed `fetch` rather than `EventSource`: it carries the token in a header, and its bytes reach core, so the
 * keep-alive comments reset the silence timer and a dead connection is noticed.
 */

import type { LiveFeed, WasmErrorShape } from '../wasm/eventlite_wasm.js';
import { explainFetchFailure } from './network.js';

/** What the live connection tells its owner. */
export interface LiveEvents {
  /** A `head` event: the server's head moved (the first arrives on connecting, `first` true). */
  head(first: boolean): void;
  /** The connection was lost with `error`; the next attempt is scheduled. */
  lost(error: WasmErrorShape): void;
}

export class LiveConnection {
  #controller: AbortController | undefined;
  #retry: ReturnType<typeof setTimeout> | undefined;
  #connected = false;
  #closed = false;

  constructor(
    private readonly feed: LiveFeed,
    private readonly silenceMs: number,
    private readonly url: string,
    private readonly token: string,
    private readonly events: LiveEvents,
  ) {}

  /** Whether a `head` event arrived on the current connection. */
  get connected(): boolean {
    return this.#connected;
  }

  /** Connects (again) now. */
  open(): void {
    if (this.#closed) return;
    clearTimeout(this.#retry);
    this.#retry = undefined;
    this.#controller?.abort();
    void this.#connect();
  }

  /** A round succeeded: the next loss backs off afresh (when the connection is up). */
  synced(): void {
    if (this.#connected) this.feed.onSynced();
  }

  /** The network came back: skip the rest of the backoff, and reconnect now unless connected. */
  reconnectNow(): void {
    this.feed.resetBackoff();
    if (!this.#connected) this.open();
  }

  /** Closes the connection for good and releases the feed. */
  close(): void {
    this.#closed = true;
    this.#connected = false;
    clearTimeout(this.#retry);
    this.#controller?.abort();
    this.feed.free();
  }

  /** Closed, or replaced by a newer connection: nothing to report or retry. */
  #replaced(controller: AbortController): boolean {
    return this.#closed || this.#controller !== controller;
  }

  async #connect(): Promise<void> {
    const controller = new AbortController();
    this.#controller = controller;
    this.feed.onConnect();
    let silent = false;
    let silence: ReturnType<typeof setTimeout> | undefined;
    const quiet = () => {
      clearTimeout(silence);
      silence = setTimeout(() => {
        silent = true;
        controller.abort();
      }, this.silenceMs);
    };
    let loss: { status: number; body: string } | { message: string };
    try {
      quiet();
      const response = await fetch(this.url, {
        headers: { authorization: `Bearer ${this.token}`, accept: 'text/event-stream' },
        signal: controller.signal,
      });
      if (response.status !== 200 || !response.body) {
        loss = { status: response.status, body: await response.text() };
      } else {
        const reader = response.body.getReader();
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          if (this.#replaced(controller)) return;
          quiet();
          if (this.feed.onBytes(value)) {
            const first = !this.#connected;
            this.#connected = true;
            this.events.head(first);
          }
        }
        loss = { message: 'the live stream ended' };
      }
    } catch (error) {
      // Refused, cut, silent, or not the protocol (`onBytes` threw; the feed reports that): drop the connection.
      const aborted = controller.signal.aborted;
      controller.abort();
      const why = silent ? `the live stream was silent for ${this.silenceMs} ms` : null;
      loss = { message: why ?? `live: ${aborted ? String(error) : await explainFetchFailure(this.url, error)}` };
    } finally {
      clearTimeout(silence);
    }
    if (this.#replaced(controller)) return;
    this.#connected = false;
    const { delayMs, error } = this.feed.onLost(loss);
    this.events.lost(error);
    this.#retry = setTimeout(() => {
      this.#retry = undefined;
      void this.#connect();
    }, delayMs);
  }
}
