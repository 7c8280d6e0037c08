// The technician page's service worker: the page's shell (HTML, styles,
// scripts) and the two API answers it starts from (session, province) are
// kept in a cache, fetched from the network first and taken from the cache
// only when the network fails, so a phone without signal still opens the
// page and shows the last list it saved (static/offline.js). Nothing else
// is cached: alerts come live over the websocket.
"use strict";
const CACHE = "ioc-tech-v2";
const SHELL = [
  "/tech/",
  "/static/tech.css", "/static/dispatch.css", "/static/i18n.js", "/static/contract.js", "/static/common.js", "/static/dispatch.js", "/static/offline.js",
  "/static/chart.js", "/static/tech.js", "/vendor/uplot/uPlot.min.css", "/vendor/uplot/uPlot.iife.min.js",
];
const KEEP = new Set([...SHELL, "/api/v1/session", "/api/v1/province"]);

self.addEventListener("install", (ev) => {
  ev.waitUntil(caches.open(CACHE).then((c) => c.addAll(SHELL)).then(() => self.skipWaiting()));
});
self.addEventListener("activate", (ev) => {
  ev.waitUntil(caches.keys()
    .then((keys) => Promise.all(keys.filter((k) => k !== CACHE).map((k) => caches.delete(k))))
    .then(() => self.clients.claim()));
});
self.addEventListener("fetch", (ev) => {
  const req = ev.request;
  const url = new URL(req.url);
  if (req.method !== "GET" || url.origin !== location.origin) return;
  const key = req.mode === "navigate" && url.pathname.startsWith("/tech/") ? "/tech/" : url.pathname;
  if (!KEEP.has(key)) return;
  ev.respondWith((async () => {
    const cache = await caches.open(CACHE);
    try {
      const res = await fetch(req);
      // Keep good answers only: a 401 (logged out) must not be replayed.
      if (res.ok) await cache.put(key, res.clone());
      return res;
    } catch (e) {
      const hit = await cache.match(key);
      if (hit) return hit;
      throw e;
    }
  })());
});
