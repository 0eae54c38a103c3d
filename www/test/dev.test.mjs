// `vite dev` on the demo, whose package.json links the package (`"eventlite": "file:../js"`, a symlink to a
// directory outside the app): the page opens its store in OPFS with no error, so the worker and the wasm are served.
// Run by scripts/test-www.sh.
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';

import { chromium } from 'playwright-core';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const executablePath = process.env.CHROMIUM ?? '/usr/bin/chromium';
const args = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-dev-shm-usage'];

test('vite dev serves the demo with the linked package: the store opens in OPFS', { timeout: 120_000 }, async () => {
  const { createServer } = await import('vite');
  const dev = await createServer({
    root: ROOT,
    configFile: process.env.DEV_CONFIG === 'none' ? false : undefined,
    logLevel: 'warn',
    server: { host: '127.0.0.1', port: 0 },
  });
  await dev.listen();
  const browser = await chromium.launch({ executablePath, args });
  try {
    const page = await browser.newPage();
    const failures = [];
    page.on('pageerror', (error) => failures.push(`error: ${error.message}`));
    page.on('response', (response) => response.status() >= 400 && failures.push(`${response.status()} ${response.url()}`));
    await page.goto(`${dev.resolvedUrls.local[0]}?offline=1&store=dev-${process.pid}`);
    // The dev server may reload the page once after pre-bundling dependencies on first request.
    await page.waitForSelector('body[data-ready="true"]', { timeout: 60_000 }).catch(() => {});
    const mode = await page.locator('[data-testid="storage-mode"]').textContent();
    assert.deepEqual({ mode, failures }, { mode: 'opfs', failures: [] });
  } finally {
    await browser.close();
    await dev.close();
  }
});
