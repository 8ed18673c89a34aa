// The clerk app's service worker: the app shell only. API answers are never cached (the data
// lives in IndexedDB, owned by the sync client); every /api/ request goes to the network.
const VERSION = "%VERSION%";
const SHELL = %SHELL%;
const CACHE = `zhida-app-${VERSION}`;

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(CACHE).then((cache) => cache.addAll(SHELL)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil((async () => {
    for (const name of await caches.keys()) {
      if (name.startsWith("zhida-app-") && name !== CACHE) await caches.delete(name);
    }
    await self.clients.claim();
  })());
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (request.method !== "GET" || url.origin !== self.location.origin) return;
  if (!url.pathname.startsWith(new URL("./", self.location).pathname)) return;
  if (request.mode === "navigate") {
    // The page itself: the network when it answers (a new build shows at once), else the cache.
    event.respondWith(fetch(request).catch(() => caches.match("./", { ignoreSearch: true })));
    return;
  }
  event.respondWith(caches.match(request, { ignoreSearch: true }).then((hit) => hit || fetch(request)));
});
