// A Cloudflare Worker over the installed `eventlite` package, run by `wrangler dev` with no bundler configuration
// (wrangler picks the package's `workerd` entry, which imports the wasm as a module).
//   GET /suite   runs suite.mjs in workerd and answers its results as JSON
//   POST /append appends one event to a store kept by the isolate across requests; answers the stream's version
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
    return new Response('not found', { status: 404 });
  },
};
