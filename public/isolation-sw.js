// The service worker of isolation.js: adds the headers of cross-origin isolation to the site's
// pages and workers, the only responses whose headers decide it. Everything else (scripts,
// wasm, models, the Hugging Face Hub's CORS requests) is left to the browser: isolation allows
// it as it is, and a model's download does not pass through this script.
// The headers scripts/static-server.mjs sends (its ISOLATION_HEADERS): this file runs in the
// browser and cannot import that module.
const ISOLATION_HEADERS = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
};

self.addEventListener('install', () => self.skipWaiting());
self.addEventListener('activate', (event) => event.waitUntil(self.clients.claim()));

/** Requests whose responses make a page or worker: the document's and the workers' scripts. */
const MAKES_A_GLOBAL = new Set(['document', 'iframe', 'worker', 'sharedworker']);

self.addEventListener('fetch', (event) => {
  const { request } = event;
  if (new URL(request.url).origin !== self.location.origin || !MAKES_A_GLOBAL.has(request.destination)) return;
  event.respondWith(withIsolation(request));
});

/** The site's response to `request`, with the isolation headers added. */
async function withIsolation(request) {
  const response = await fetch(request);
  if (response.status === 0) return response;
  const headers = new Headers(response.headers);
  for (const [name, value] of Object.entries(ISOLATION_HEADERS)) headers.set(name, value);
  return new Response(response.body, { status: response.status, statusText: response.statusText, headers });
}
