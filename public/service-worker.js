// The site's service worker (registered by service-worker-setup.js).
// 1. Offline after the first visit: it keeps a copy of the app shell (the page, its scripts,
//    wasm, styles, lessons and examples: SHELL_FILES, written by scripts/service-worker-shell.mjs
//    at build time) and answers from it when the network fails. Online, every answer comes from
//    the network, so a new deployment runs at once; its new SHELL_VERSION makes the browser
//    install this worker again, which copies the new shell whole and deletes the old copy, so an
//    offline page never mixes two deployments. Model files are not kept here: the app keeps
//    them in its own cache (attention-explorer-models-v1).
// 2. Threads where the host cannot send COOP/COEP (service-worker-setup.js's ISOLATION_SHIM_ON
//    registers this script with ?isolation=on): it adds the isolation headers to the site's
//    pages and workers, the only responses whose headers decide it.
const SHELL_VERSION = 'unbuilt';
const SHELL_FILES = [];

const SHELL_CACHE = `attention-explorer-shell-${SHELL_VERSION}`;
const SHELL_PREFIX = 'attention-explorer-shell-';
const ISOLATION_ON = new URL(self.location.href).searchParams.get('isolation') === 'on';
// The headers scripts/static-server.mjs sends (its ISOLATION_HEADERS): this file runs in the
// browser and cannot import that module.
const ISOLATION_HEADERS = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
};
/** Requests whose responses make a page or worker: the document's and the workers' scripts. */
const MAKES_A_GLOBAL = new Set(['document', 'iframe', 'worker', 'sharedworker']);

self.addEventListener('install', (event) => {
  // All of the shell or nothing: a failed copy leaves the previous version in charge.
  event.waitUntil(caches.open(SHELL_CACHE)
    .then((cache) => cache.addAll(SHELL_FILES.map((file) => new Request(file, { cache: 'reload' }))))
    .then(() => self.skipWaiting()));
});

self.addEventListener('activate', (event) => {
  event.waitUntil(caches.keys().then((names) => Promise.all(names
    .filter((name) => name.startsWith(SHELL_PREFIX) && name !== SHELL_CACHE)
    .map((name) => caches.delete(name)))));
});

self.addEventListener('fetch', (event) => {
  const { request } = event;
  const url = new URL(request.url);
  if (request.method !== 'GET' || url.origin !== self.location.origin || isModelFile(url)) return;
  event.respondWith(networkThenShell(request));
});

/** A file inside a model's folder (models/NAME/FILE): the app's model cache keeps those. */
function isModelFile(url) {
  const path = url.pathname.slice(new URL(self.registration.scope).pathname.length);
  return /^models\/[^/]+\//.test(path);
}

/** The network's answer, else the shell's copy (a page: the shell's index.html). */
async function networkThenShell(request) {
  try {
    return withIsolation(request, await fetch(request));
  } catch (offline) {
    const cache = await caches.open(SHELL_CACHE);
    const key = request.mode === 'navigate' ? new URL('index.html', self.registration.scope).href : request;
    const copy = await cache.match(key, { ignoreSearch: true });
    if (!copy) throw offline;
    return withIsolation(request, copy);
  }
}

/** `response`, with the isolation headers added where the host opted in and it makes a global. */
function withIsolation(request, response) {
  if (!ISOLATION_ON || !MAKES_A_GLOBAL.has(request.destination) || response.status === 0) return response;
  const headers = new Headers(response.headers);
  for (const [name, value] of Object.entries(ISOLATION_HEADERS)) headers.set(name, value);
  return new Response(response.body, { status: response.status, statusText: response.statusText, headers });
}
