// polyprompt's service worker: after one visit the app opens, trains and evaluates with no network.
// It keeps the app's own files (the page, both wasm modules and their JavaScript, the styles) network-first:
// online, every load gets the deployment as it is now (so a new one replaces the old at once, never a stale
// mix); offline, the copy from the last visit. Models and SIB-200 are not its business: the page keeps them
// in its own Cache Storage bucket (src/app/download.rs) and reads them from there before any network.
const CACHE = 'polyprompt-app-v1';
// Trunk names the page's module by its content (`polyprompt-web-<hash>.js`): a new copy replaces the old one.
const HASHED = /-[0-9a-f]{16}(?=(_bg)?\.(js|wasm|css)$)/;

self.addEventListener('install', () => self.skipWaiting());
self.addEventListener('activate', (event) => event.waitUntil(self.clients.claim()));

self.addEventListener('fetch', (event) => {
  const { request } = event;
  const url = new URL(request.url);
  if (request.method !== 'GET' || url.origin !== self.location.origin) return;
  const appFile = request.mode === 'navigate' || /\.(html|js|wasm|css|svg)$/.test(url.pathname);
  if (!appFile) return;
  event.respondWith(networkFirst(event, request, url));
});

async function networkFirst(event, request, url) {
  const cache = await caches.open(CACHE);
  let response;
  try {
    response = await fetch(request);
  } catch (offline) {
    const kept = await cache.match(request, { ignoreSearch: true });
    if (kept) return kept;
    throw offline;
  }
  if (response.ok) event.waitUntil(keep(cache, request, url, response.clone()));
  return response;
}

/** Stores a fresh copy, dropping the older copies of a content-named file. */
async function keep(cache, request, url, response) {
  await cache.put(request, response);
  const stem = url.pathname.replace(HASHED, '');
  if (stem === url.pathname) return;
  for (const old of await cache.keys()) {
    const path = new URL(old.url).pathname;
    if (path !== url.pathname && path.replace(HASHED, '') === stem) await cache.delete(old);
  }
}
