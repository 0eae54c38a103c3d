// Debian's Chromium, driven by playwright-core (never a downloaded browser). `launch` starts a throwaway browser;
// `launchOwned` starts Chromium ourselves on a given profile so a test can SIGKILL exactly that process.
import { spawn } from 'node:child_process';
import { once } from 'node:events';

import { chromium } from 'playwright-core';

export const executablePath = process.env.CHROMIUM ?? '/usr/bin/chromium';
export const args = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-dev-shm-usage'];

export function launch() {
  return chromium.launch({ executablePath, args });
}

/** Starts Chromium on `profile` with a DevTools port; resolves with `{ browser, page, kill }`. */
export async function launchOwned(profile) {
  const child = spawn(executablePath, [...args, `--user-data-dir=${profile}`, '--remote-debugging-port=0', 'about:blank'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let output = '';
  const endpoint = await new Promise((resolve, reject) => {
    child.stderr.on('data', (chunk) => {
      output += chunk;
      const match = /DevTools listening on (ws:\/\/\S+)/.exec(output);
      if (match) resolve(match[1]);
    });
    child.once('exit', (code) => reject(new Error(`chromium exited (${code}): ${output}`)));
  });
  const browser = await chromium.connectOverCDP(endpoint);
  const context = browser.contexts()[0];
  const page = context.pages()[0] ?? (await context.newPage());
  return {
    browser,
    page,
    /** Kills this Chromium with SIGKILL (no shutdown, no flush) and waits for it to exit. */
    async kill() {
      const exited = once(child, 'exit');
      child.kill('SIGKILL');
      await exited;
    },
    async close() {
      const exited = once(child, 'exit');
      await browser.close().catch(() => {});
      child.kill('SIGTERM');
      await exited;
    },
  };
}

/** Opens the app page and waits until the package is loaded. */
export async function openApp(page, url) {
  const errors = [];
  page.on('pageerror', (error) => errors.push(error));
  await page.goto(url);
  await page.waitForFunction(() => window.eventlite !== undefined);
  return errors;
}
