// The README's desktop example (js/README.md, "Node, Electron, Bun and Deno: file stores"), as it is there; run in
// a directory of its own by file.test.mjs, twice, to show the store surviving a restart.
import { openEventStore } from 'eventlite';

const store = await openEventStore({ path: 'app.db' }); // relative to the working directory
console.log(store.storageMode); // 'file'
const { version } = await store.appendToStream('launches-1', [{ type: 'Launched', data: { at: Date.now() } }]);
console.log(`launch ${version}`); // launch 1, then launch 2, ...
await store.close();
