// myDSP's service worker (issue 27): it keeps ONE page on the device, the one saying that the DSP needs a
// connection, with its style sheet and icon. Nothing else is cached: no page of the DSP, no document, no patient
// data — every other request goes to the network exactly as without a worker (the pages stay Cache-Control: no-store).
"use strict";

const CACHE = "mydsp-offline-v1";
const KEPT = ["/offline", "/static/portal.css", "/static/icon-192.png"];

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(CACHE).then((cache) => cache.addAll(KEPT)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(caches.keys()
    .then((keys) => Promise.all(keys.filter((key) => key !== CACHE).map((key) => caches.delete(key))))
    .then(() => self.clients.claim()));
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (request.method !== "GET" || url.origin !== self.location.origin) return;
  if (request.mode === "navigate") {  // a page: from the network; without one, the offline page
    event.respondWith(fetch(request).catch(() => caches.match("/offline")));
  } else if (KEPT.includes(url.pathname)) {  // the offline page's own style sheet and icon
    event.respondWith(fetch(request).catch(() => caches.match(url.pathname)));
  }
});
