// A Cloudflare Worker over the installed `eventlite` package, run by `wrangler dev` with no bundler configuration
// (wrangler picks the package's `workerd` entry, which imports the wasm as a module).
//   GET /suite   runs suite.mjs in workerd and answers its results as JSON
//   POST /append appends one event to a store kept by the isolate across requests; answers the stream's version
//   GET /path    what openEventStore({ path }) says there (STORAGE_UNAVAILABLE)
import * as lib from 'eventlite';

import { run } from './suite.mjs';

let count = 0;
let shared;

export default {
  async fetch(request) {
    const { pathname } = new URL(request.url);
    if (pathname === '/suite') {
      const open = (options = {}) => lib.openEventStore({ name: `test-${++count}`, ...options });
      return Response.json(await run(lib, open, 'memory'));
    }
    if (pathname === '/append' && request.method === 'POST') {
      shared ??= await lib.openEventStore({ name: 'visits' });
      const { version } = await shared.appendToStream('visits-1', [{ type: 'Visited', data: { at: Date.now() } }]);
      return Response.json({ version, storageMode: shared.storageMode });
    }
    if (pathname === '/path') {
      // There is no file system at the edge: a path is refused, never quietly a memory store.
      const error = await lib.openEventStore({ path: 'app.db' }).then(
        () => undefined,
        (caught) => caught,
      );
      return Response.json({ code: error?.code, typed: error instanceof lib.StorageUnavailableError });
    }
    return new Response('not found', { status: 404 });
  },
};
