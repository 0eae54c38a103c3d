/**
 * Why a `fetch` got no answer, as far as a page can tell. A browser reports a refused connection, a blocked
 * cross-origin answer (CORS) and mixed content alike as `TypeError: Failed to fetch`; a second request in
 * `no-cors` mode (whose answer scripts cannot read, so CORS does not apply) tells an unreachable server from one
 * that answered but did not allow this origin.
 */

const PROBE_TIMEOUT_MS = 5_000;

/** `error`'s text, with the likely cause when `url` is on another origin than the page (or worker). */
export async function explainFetchFailure(url: string, error: unknown): Promise<string> {
  const text = String(error);
  const origin = (globalThis as { location?: { origin?: string } }).location?.origin;
  if (!(error instanceof TypeError) || !origin || origin === 'null') return text; // Node: no CORS
  const target = new URL(url);
  if (target.origin === origin) return `${text} (the server is unreachable)`;
  if (origin.startsWith('https:') && target.protocol === 'http:') {
    return `${text}: a page served over https cannot call the http server ${target.origin} (mixed content)`;
  }
  try {
    await fetch(target.origin + '/health', { mode: 'no-cors', signal: AbortSignal.timeout(PROBE_TIMEOUT_MS) });
  } catch {
    return `${text} (the server ${target.origin} is unreachable)`;
  }
  return (
    `${text}: the server ${target.origin} answered, but not with CORS headers allowing ${origin}, so the browser ` +
    `withheld the answer; start it with --allow-origin ${origin} (docs/sync-protocol.md, "Browsers (CORS)")`
  );
}
