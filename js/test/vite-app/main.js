// A minimal app built by Vite with no configuration, importing the packed `eventlite` package as a user would.
// The Playwright tests drive it through `window.eventlite`.
import * as eventlite from 'eventlite';

window.eventlite = eventlite;
document.getElementById('status').textContent = 'ready';
