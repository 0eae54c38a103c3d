/**
 * A {@link Transport} to a host on the same thread. Host messages arrive as macrotasks (`setImmediate`), as a
 * worker's would: a caller's `await` continuation always runs before the next page is handed to a handler.
 */

import type { HostMessage } from '../common/protocol.js';
import type { Transport } from '../page/client.js';
import { Host, type Opener, type WasmModule } from '../worker/host.js';

export function inProcessTransport(wasm: WasmModule, open: Opener): Transport {
  let receive: (message: HostMessage) => void = () => {};
  let queue: Promise<void> = Promise.resolve();
  // Host messages are handed over in a later task, so no user code ever runs inside a host (wasm) call.
  const later: (run: () => void) => void =
    typeof setImmediate === 'function' ? (run) => void setImmediate(run) : (run) => void setTimeout(run, 0);
  const host = new Host(wasm, open, (message) => later(() => receive(message)));
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
