// Starts a real `eventlite serve` for a test: a free port on 127.0.0.1, a temporary data directory, static tokens,
// optionally the demo app (`staticDir`). The binary is $EVENTLITE_BIN (scripts/test-www.sh builds it and sets it).
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));

export function serverBinary() {
  const bin =
    process.env.EVENTLITE_BIN ?? join(process.env.CARGO_TARGET_DIR ?? join(ROOT, 'target'), 'debug', 'eventlite');
  if (!existsSync(bin)) throw new Error(`no eventlite binary at ${bin}: build it (scripts/test-www.sh does)`);
  return bin;
}

/** Starts the server; resolves once it listens. `tokens` as in EVENTLITE_TOKENS. */
/** `port` and `dataDir` restart a server where a stopped one was (`stop({ keepData: true })`). */
/** `args`: extra `serve` flags, e.g. `['--max-batch', '2']`. */
export async function startServer({ staticDir, tokens = 'demo-token:demo,other-token:other', port = 0, dataDir, args: extra = [] } = {}) {
  dataDir ??= mkdtempSync(join(tmpdir(), 'eventlite-www-'));
  const args = ['serve', '--listen', `127.0.0.1:${port}`, '--data-dir', dataDir];
  if (staticDir) args.push('--static-dir', staticDir);
  args.push(...extra);
  const child = spawn(serverBinary(), args, {
    env: { ...process.env, EVENTLITE_TOKENS: tokens, RUST_LOG: process.env.RUST_LOG ?? 'info', NO_COLOR: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const url = await new Promise((resolvePort, reject) => {
    const timer = setTimeout(() => reject(new Error(`the server did not start:\n${output}`)), 30_000);
    const onData = (chunk) => {
      output += chunk;
      // tracing's line: `... serving address=127.0.0.1:PORT backend=sqlite`
      const match = /address=(127\.0\.0\.1:\d+)/.exec(output.replace(/\x1b\[[0-9;]*m/g, ''));
      if (match) {
        clearTimeout(timer);
        resolvePort(`http://${match[1]}`);
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the server exited with ${code}:\n${output}`));
    });
  });
  const exited = new Promise((done) => child.on('exit', done));
  return {
    url,
    dataDir,
    /** The tenant's whole server log through the pull endpoint, in server order. */
    async pullAll(token = 'demo-token') {
      const events = [];
      let after = '';
      for (;;) {
        const response = await fetch(`${url}/v1/pull?limit=1000&after=${encodeURIComponent(after)}`, {
          headers: { authorization: `Bearer ${token}` },
        });
        if (response.status !== 200) throw new Error(`pull: ${response.status} ${await response.text()}`);
        const page = await response.json();
        events.push(...page.events);
        after = page.cursor;
        if (!page.more) return events;
      }
    },
    port: Number(new URL(url).port),
    /** Stops the server (SIGTERM, graceful) and removes its data directory unless `keepData`. */
    async stop({ keepData = false } = {}) {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        await exited;
      }
      if (!keepData) rmSync(dataDir, { recursive: true, force: true, maxRetries: 20, retryDelay: 100 });
    },
  };
}

/** The tenant's log as the CLI prints it (`eventlite log --store <data dir>/<tenant db>`), one line per event. */
export function cliLog(dataDir, file) {
  return execFileSync(serverBinary(), ['log', '--store', join(dataDir, file)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}
