/** A {@link Transport} to a host on the same thread: every message crosses a microtask, as it would a worker. */

import type { Transport } from './client.js';
import { Host, type Opener, type WasmModule } from './host.js';
import type { HostMessage } from './protocol.js';

export function inProcessTransport(wasm: WasmModule, open: Opener): Transport {
  let receive: (message: HostMessage) => void = () => {};
  let queue: Promise<void> = Promise.resolve();
  // Host messages are handed over in a later microtask, so no user code ever runs inside a host (wasm) call.
  const host = new Host(wasm, open, (message) => queueMicrotask(() => receive(message)));
  return {
    send(request) {
      // Requests run one at a time, in order, like a worker's message queue.
      const copy = structuredClone(request);
      queue = queue.then(() => host.handle(copy));
    },
    listen(onMessage) {
      receive = onMessage;
    },
    terminate() {
      receive = () => {};
    },
  };
}
