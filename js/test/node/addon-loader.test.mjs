// Which platform package the Node entry point loads (js/src/addon.ts), with the file system and `require` stubbed:
// on Linux both libc variants are tried, the one the system looks like first, so that a glibc system with the
// `musl` package installed (Debian, Ubuntu: it has /lib/ld-musl-*) still loads the glibc addon.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

// Not part of the package's API: loaded from the installed package's files.
const { loadFirst, looksMusl, platformPackages } = await import(new URL('./addon.js', import.meta.resolve('eventlite')));

/** A stubbed directory listing. */
const listing = (tree) => (directory) => tree[directory] ?? [];

/** A stubbed `require`: `installed` maps names to modules or to the error loading them throws. */
function requireFrom(installed) {
  const asked = [];
  const load = (name) => {
    asked.push(name);
    const entry = installed[name];
    if (entry === undefined) throw Object.assign(new Error(`Cannot find module '${name}'`), { code: 'MODULE_NOT_FOUND' });
    if (entry instanceof Error) throw entry;
    return entry;
  };
  return { load, asked };
}

const gnu = '@eventlite/node-linux-x64-gnu';
const musl = '@eventlite/node-linux-x64-musl';

describe('the platform package', () => {
  test('the system libc is guessed from the loaders: both loaders is glibc', () => {
    assert.equal(looksMusl(listing({ '/lib': ['ld-musl-x86_64.so.1'] })), true, 'Alpine');
    assert.equal(looksMusl(listing({ '/lib': ['x86_64-linux-gnu'], '/lib64': ['ld-linux-x86-64.so.2'] })), false, 'Debian');
    assert.equal(
      looksMusl(listing({ '/lib': ['ld-musl-x86_64.so.1', 'x86_64-linux-gnu'], '/lib64': ['ld-linux-x86-64.so.2'] })),
      false,
      'Debian with the musl package',
    );
    assert.equal(looksMusl(listing({ '/lib': ['ld-musl-aarch64.so.1', 'ld-linux-aarch64.so.1'] })), false, 'arm64 with both');
    assert.equal(looksMusl(listing({})), false, 'nothing readable');
  });

  test('candidates: the guessed libc first, then the other; one package elsewhere', () => {
    assert.deepEqual(platformPackages('linux', 'x64', () => false), [gnu, musl]);
    assert.deepEqual(platformPackages('linux', 'x64', () => true), [musl, gnu]);
    assert.deepEqual(platformPackages('linux', 'arm64', () => false), ['@eventlite/node-linux-arm64-gnu', '@eventlite/node-linux-arm64-musl']);
    assert.deepEqual(platformPackages('darwin', 'arm64', () => false), ['@eventlite/node-darwin-arm64']);
    assert.deepEqual(platformPackages('win32', 'x64', () => false), ['@eventlite/node-win32-x64-msvc']);
  });

  test('a wrong guess costs one failed require, not the addon', () => {
    const addon = { WasmStore: {} };
    // Guessed musl (Debian with the musl package under another check), only the glibc package installed.
    let stub = requireFrom({ [gnu]: addon });
    assert.equal(loadFirst([musl, gnu], stub.load).addon, addon);
    assert.deepEqual(stub.asked, [musl, gnu]);
    // Both installed (a copied node_modules), the first is for the other libc and fails to dlopen.
    stub = requireFrom({ [musl]: new Error('Error loading shared library libc.musl-x86_64.so.1'), [gnu]: addon });
    assert.equal(loadFirst([musl, gnu], stub.load).addon, addon);
    // The first that loads wins; the second is not tried.
    stub = requireFrom({ [gnu]: addon, [musl]: {} });
    assert.equal(loadFirst([gnu, musl], stub.load).addon, addon);
    assert.deepEqual(stub.asked, [gnu]);
  });

  test('none loads: why, naming the packages', () => {
    const missing = loadFirst([gnu, musl], requireFrom({}).load);
    assert.equal(missing.reason, `the Node-API addon for this platform (${gnu}) is not installed (nor ${musl})`);
    const broken = loadFirst([gnu, musl], requireFrom({ [gnu]: new Error('invalid ELF header') }).load);
    assert.match(broken.reason, /@eventlite\/node-linux-x64-gnu failed to load: Error: invalid ELF header/);
  });
});
