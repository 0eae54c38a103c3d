// The package installed without its platform package (npm install --omit=optional, or a platform with no addon):
// memory stores still open, in wasm; a file store is refused with STORAGE_UNAVAILABLE rather than faked in memory.
// Run by scripts/test-js-runtimes.sh in a project of its own.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { openEventStore, StorageUnavailableError } from 'eventlite';

test('without the addon: memory stores work, a path is STORAGE_UNAVAILABLE naming the missing package', async () => {
  const store = await openEventStore({ name: 'scratch' });
  assert.equal(store.storageMode, 'memory');
  await store.appendToStream('a-1', [{ type: 'E', data: 1 }]);
  assert.equal(await store.streamVersion('a-1'), 1);
  await store.close();
  const error = await openEventStore({ path: 'app.db' }).then(
    () => assert.fail('opened a file store without the addon'),
    (caught) => caught,
  );
  assert.ok(error instanceof StorageUnavailableError, String(error));
  assert.equal(error.code, 'STORAGE_UNAVAILABLE');
  assert.match(error.message, /@eventlite\/node-linux-x64-gnu\) is not installed/);
});
