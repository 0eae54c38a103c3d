// The API suite (suite.mjs) over the installed package in the runtimes besides Node: Deno and Bun (cli.mjs, memory
// stores and file stores through the Node-API addon) and workerd through `wrangler dev` (worker.mjs, memory). Run by scripts/test-js-runtimes.sh from a fresh project
// into which the packed package was installed; EVENTLITE_TOOLS names the directory holding the deno, bun and
// wrangler commands (js/test/runtimes/node_modules/.bin).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

const here = fileURLToPath(new URL('.', import.meta.url));
const tools = process.env.EVENTLITE_TOOLS;
assert.ok(tools, 'EVENTLITE_TOOLS must name the directory with deno, bun and wrangler');

/** Runs `command args` in this directory; resolves with its exit code and output. */
async function run(command, args, env = {}) {
  const child = spawn(join(tools, command), args, { cwd: here, env: { ...process.env, ...env } });
  let output = '';
  child.stdout.on('data', (chunk) => (output += chunk));
  child.stderr.on('data', (chunk) => (output += chunk));
  const [code] = await once(child, 'exit');
  return { code, output };
}

/** The suite's summary line: every check passed, and there were some. */
function assertPassed({ code, output }, runtime) {
  const summary = output.match(new RegExp(`^${runtime}: (\\d+) passed, (\\d+) failed$`, 'm'));
  assert.ok(summary, `no summary line from ${runtime}:\n${output}`);
  assert.equal(Number(summary[2]), 0, output);
  assert.ok(Number(summary[1]) >= 10, output);
  assert.equal(code, 0, output);
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

describe('Deno and Bun (npm packages deno, bun): the package resolves to its Node entry', () => {
  test('Deno: the API suite over memory stores', async () => {
    assertPassed(await run('deno', ['run', '--quiet', '--allow-read', '--allow-write', '--allow-env', 'cli.mjs']), 'deno memory');
  });

  test('Bun: the API suite over memory stores', async () => {
    assertPassed(await run('bun', ['cli.mjs']), 'bun memory');
  });

  // Deno's fetch reads file: URLs, so it can stand in for a context without Worker that loads the browser entry.
  test('the browser entry without Worker (Deno, its Worker removed): in-process, memory, said on the console', async () => {
    assertPassed(await run('deno', ['run', '--quiet', '--allow-read', '--allow-env', 'no-worker.mjs']), 'deno browser-entry');
  });

  // Node-API addons need --allow-ffi in Deno (and --allow-sys for the platform check); Bun loads them as Node does.
  test('Deno: the API suite over file stores (the Node-API addon)', async () => {
    const permissions = ['--allow-read', '--allow-write', '--allow-env', '--allow-ffi', '--allow-sys'];
    assertPassed(await run('deno', ['run', '--quiet', ...permissions, 'cli.mjs', 'file']), 'deno file');
  });

  test('Bun: the API suite over file stores (the Node-API addon)', async () => {
    assertPassed(await run('bun', ['cli.mjs', 'file']), 'bun file');
  });
});

describe('workerd through wrangler dev (no bundler configuration: the workerd export condition)', () => {
  test('the API suite runs in a Worker, and a store outlives a request', { timeout: 180_000 }, async () => {
    const [port, inspector] = [await freePort(), await freePort()];
    // Offline: no metrics; wrangler's lookups of Cloudflare's hosts (the `Request.cf` object) fail harmlessly.
    const child = spawn(
      join(tools, 'wrangler'),
      ['dev', '--ip', '127.0.0.1', '--port', String(port), '--inspector-port', String(inspector), '--show-interactive-dev-session=false'],
      { cwd: here, detached: true, env: { ...process.env, WRANGLER_SEND_METRICS: 'false', CI: 'true' } },
    );
    let output = '';
    const ready = new Promise((resolve, reject) => {
      const read = (chunk) => {
        output += chunk;
        if (/Ready on http/.test(output)) resolve();
      };
      child.stdout.on('data', read);
      child.stderr.on('data', read);
      child.on('exit', (code) => reject(new Error(`wrangler dev exited with ${code}:\n${output}`)));
    });
    try {
      let timer;
      const late = new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`wrangler dev not ready after 120 s:\n${output}`)), 120_000);
      });
      await Promise.race([ready, late]).finally(() => clearTimeout(timer));
      const base = `http://127.0.0.1:${port}`;
      const results = await (await fetch(`${base}/suite`)).json();
      for (const result of results) assert.ok(result.ok, `[workerd] ${result.name}: ${result.error}`);
      assert.ok(results.length >= 10, `only ${results.length} checks ran`);
      const first = await (await fetch(`${base}/append`, { method: 'POST' })).json();
      const second = await (await fetch(`${base}/append`, { method: 'POST' })).json();
      assert.deepEqual(await (await fetch(`${base}/path`)).json(), { code: 'STORAGE_UNAVAILABLE', typed: true });
      assert.deepEqual([first, second], [
        { version: 1, storageMode: 'memory' },
        { version: 2, storageMode: 'memory' },
      ]);
    } finally {
      // wrangler runs workerd as child processes: end the whole group it leads.
      try {
        process.kill(-child.pid, 'SIGTERM');
      } catch {
        // already gone
      }
    }
  });
});
