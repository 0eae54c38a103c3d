// What the demo's browser tests do on a device's page (a Playwright page of the demo app), written once for
// demo.test.mjs (through `eventlite serve`) and edge.test.mjs (through the Durable Object backend).

/** Waits until the element `id` shows `expected` (the app re-renders on every sync notice). */
export async function waitFor(page, id, expected) {
  await page.waitForFunction(
    ([id, expected]) => document.querySelector(`[data-testid="${id}"]`)?.textContent === expected,
    [id, expected],
  );
}

/** Adds a todo and waits until the list shows it. */
export async function addTodo(page, title) {
  await page.fill('[data-testid="new-title"]', title);
  await page.click('[data-testid="add"]');
  await page.locator('[data-testid="todo-title"]', { hasText: title }).waitFor();
}

/** Renames the todo titled `from` to `to` and waits until the list shows it. */
export async function renameTodo(page, from, to) {
  const stream = await page.locator('[data-testid="todo"]', { hasText: from }).getAttribute('data-stream');
  const item = page.locator(`[data-stream="${stream}"]`);
  await item.locator('[data-testid="rename"]').click();
  await item.locator('[data-testid="rename-input"]').fill(to);
  await item.locator('[data-testid="rename-save"]').click();
  await page.locator('[data-testid="todo-title"]', { hasText: to }).waitFor();
}

/** Flips the online switch and waits until the sync state agrees. */
export async function goOnline(page, online) {
  await page.click('[data-testid="toggle-online"]');
  await page.waitForFunction(
    (online) => (document.querySelector('[data-testid="sync-state"]').dataset.state === 'offline') !== online,
    online,
  );
}

/** The device's local log as (id, stream, version, type, data), via the page's store. */
export function localLog(page) {
  return page.evaluate(async () => {
    const { events } = await window.demo.store.readAll();
    return events.map(({ eventId, stream, version, type, data }) => ({ eventId, stream, version, type, data }));
  });
}
