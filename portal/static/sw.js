/*
 * Toothline -- the screening pages' service worker (served at /screening/sw.js, scope
 * /screening/; docs/screening.md "Offline").
 *
 * It only READS: pages under /screening/ and the static files they load are fetched from the
 * network first and copied into one cache; when the network fails the copy is answered. Writes
 * (the findings form, photos) are never touched here: static/js/offline.js queues them in
 * IndexedDB while offline and sends them itself, so nothing depends on this worker staying
 * alive. htmx fragment requests (HX-Request) are not cached: a fragment is not a page.
 * An answer that is not a signed-in page (a redirect to sign-in, 401/403) empties the cache:
 * the copies are patient data and belong to a signed-in session.
 */
"use strict";

var CACHE = "toothline-screening-v1";

self.addEventListener("install", function () {
  self.skipWaiting();
});

self.addEventListener("activate", function (event) {
  event.waitUntil(
    caches.keys().then(function (names) {
      return Promise.all(names.filter(function (name) {
        return name.indexOf("toothline-screening-") === 0 && name !== CACHE;
      }).map(function (name) { return caches.delete(name); }));
    }).then(function () { return self.clients.claim(); })
  );
});

function cacheable(request, url) {
  if (request.method !== "GET" || url.origin !== self.location.origin) return false;
  if (request.headers.get("HX-Request")) return false;
  return url.pathname.indexOf("/static/") === 0 || url.pathname.indexOf("/screening/") === 0 ||
    url.pathname === "/screening";
}

function signedOut(response) {
  return response.status === 401 || response.status === 403 ||
    (response.redirected && response.url.indexOf("/screening") === -1);
}

function networkFirst(request) {
  return fetch(request).then(function (response) {
    if (signedOut(response)) {
      caches.delete(CACHE);
    } else if (response.ok && response.type === "basic") {
      var copy = response.clone();
      caches.open(CACHE).then(function (cache) { return cache.put(request.url, copy); });
    }
    return response;
  }, function (problem) {
    return caches.open(CACHE).then(function (cache) {
      return cache.match(request.url, { ignoreVary: true });
    }).then(function (found) {
      if (found) return found;
      if (request.mode === "navigate") {
        return new Response(
          "<!doctype html><meta charset=utf-8><title>Offline · Toothline</title>" +
          "<p>You are offline and this page was not opened on this tablet before.</p>",
          { status: 503, headers: { "Content-Type": "text/html; charset=utf-8" } });
      }
      throw problem;
    });
  });
}

self.addEventListener("fetch", function (event) {
  var url = new URL(event.request.url);
  if (!cacheable(event.request, url)) return;
  event.respondWith(networkFirst(event.request));
});
