/*
 * Toothline -- an offline screening day (docs/screening.md "Offline").
 *
 * On the screening pages:
 *   - registers the service worker (/screening/sw.js), and copies the pages a hygienist will
 *     need (this page, the class's children's pages, their static files) into its cache;
 *   - while the browser is offline (or a save cannot reach the server), a press of "Save
 *     findings" and every photo chosen are kept in IndexedDB (photos as blobs), each with its
 *     own Idempotency-Key and in the order they were made;
 *   - shows "N waiting to send" (aria-live) while anything is queued;
 *   - when the browser is online again (and on every page load) sends the queue in order. An
 *     item is removed only after a 2xx, or after a definitive 4xx (then the problem is shown);
 *     a network error or 5xx stops and tries again later. The server answers a repeated key
 *     from the first request, so a send cut off halfway is simply sent again.
 *   - Before sending, one GET of /screening/ checks the session and refreshes the csrftoken
 *     cookie; every request carries that token in the x-csrftoken header.
 * No inline scripts or styles (CSP script-src 'self').
 */
(function () {
  "use strict";

  var DB_NAME = "toothline-offline";
  var STORE = "queue";
  var CACHE = "toothline-screening-v1";
  var FORM = "form[data-screening-autosave]";
  var CHILD_PATH = /^\/screening\/events\/[0-9a-f-]+\/children\/[0-9a-f-]+/;
  var sending = false;
  var retryTimer = null;

  // ------------------------------------------------------------------ IndexedDB

  function openDb() {
    return new Promise(function (resolve, reject) {
      var request = indexedDB.open(DB_NAME, 1);
      request.onupgradeneeded = function () {
        request.result.createObjectStore(STORE, { keyPath: "seq", autoIncrement: true });
      };
      request.onsuccess = function () { resolve(request.result); };
      request.onerror = function () { reject(request.error); };
    });
  }

  function tx(mode, work) {
    return openDb().then(function (db) {
      return new Promise(function (resolve, reject) {
        var t = db.transaction(STORE, mode);
        var result = work(t.objectStore(STORE));
        t.oncomplete = function () {
          db.close();
          resolve(result && "result" in result ? result.result : result);
        };
        t.onerror = function () { db.close(); reject(t.error); };
      });
    });
  }

  function all() {
    return tx("readonly", function (store) { return store.getAll(); });
  }

  function put(item) {
    return tx("readwrite", function (store) { return store.put(item); });
  }

  function remove(seq) {
    return tx("readwrite", function (store) { return store.delete(seq); });
  }

  /* Whose queue: items are sent only under the login that made them (never under whoever
     signs in next on a shared tablet). */
  function who() {
    var meta = document.querySelector('meta[name="toothline-offline-user"]');
    return meta ? meta.getAttribute("content") || "" : "";
  }

  function mine(item) {
    return item.user === who();
  }

  function newKey(prefix) {
    var id = window.crypto && crypto.randomUUID ? crypto.randomUUID()
      : String(Date.now()) + "-" + Math.random().toString(16).slice(2);
    return prefix + ":" + id;
  }

  // ------------------------------------------------------------------ counter

  function counter() {
    var found = document.getElementById("offline-queue");
    if (found) return found;
    var main = document.getElementById("main") || document.body;
    var box = document.createElement("div");
    box.className = "offline-queue card";
    box.id = "offline-queue-box";
    var line = document.createElement("p");
    line.id = "offline-queue";
    line.setAttribute("role", "status");
    line.setAttribute("aria-live", "polite");
    var problems = document.createElement("ul");
    problems.id = "offline-problems";
    problems.className = "form-error";
    box.appendChild(line);
    box.appendChild(problems);
    main.insertBefore(box, main.firstChild);
    return line;
  }

  function showCount() {
    return all().then(function (items) {
      var line = counter();
      var n = items.filter(mine).length;
      var others = items.length - n;
      line.setAttribute("data-waiting", String(n));
      line.textContent = (n ? n + " waiting to send" + (navigator.onLine ? "" : " (offline)")
        : (navigator.onLine ? "" : "Offline: saves are kept on this tablet.")) +
        (others ? " " + others + " kept for another sign-in." : "");
      document.getElementById("offline-queue-box").hidden = !line.textContent &&
        !document.getElementById("offline-problems").children.length;
      return items;
    });
  }

  function showProblem(text) {
    counter();
    var li = document.createElement("li");
    li.textContent = text;
    document.getElementById("offline-problems").appendChild(li);
    document.getElementById("offline-queue-box").hidden = false;
  }

  // ------------------------------------------------------------------ queueing

  function childPath(url) {
    var match = new URL(url, location.href).pathname.match(CHILD_PATH);
    return match ? match[0] : null;
  }

  function formKey(form) {
    try {
      return JSON.parse(form.getAttribute("hx-headers") || "{}")["Idempotency-Key"] ||
        newKey("findings");
    } catch (e) {
      return newKey("findings");
    }
  }

  function setSaveStatus(form, text) {
    var status = form.querySelector("[data-save-status]");
    if (status) {
      status.setAttribute("data-state", "queued");
      status.textContent = text;
    }
    form.setAttribute("data-save-state", "queued");
  }

  function queueFindings(form) {
    var fields = [];
    new FormData(form).forEach(function (value, name) {
      if (typeof value === "string") fields.push([name, value]);
    });
    var url = form.getAttribute("hx-post") || form.getAttribute("action");
    var item = { kind: "findings", user: who(), url: url, child: childPath(url), fields: fields,
                 key: formKey(form), at: Date.now() };
    // A second press of the same (unsent) form replaces its answers, keeping its place.
    return all().then(function (items) {
      items.forEach(function (old) {
        if (old.kind === "findings" && old.key === item.key && mine(old)) item.seq = old.seq;
      });
      return put(item);
    }).then(function () {
      // A fresh key for the next press: a later correction is a new request.
      form.setAttribute("hx-headers", JSON.stringify({ "Idempotency-Key": newKey("findings") }));
      setSaveStatus(form, "Saved on this tablet; it is sent when the network is back.");
      revealPhotos();
      return showCount();
    });
  }

  function queuePhoto(input, file) {
    var url = input.getAttribute("data-upload-url") || "";
    var item = { kind: "photo", user: who(), url: url, child: childPath(location.pathname),
                 blob: file, filename: file.name || "photo.jpg",
                 fields: [["kind", input.getAttribute("data-field-kind") || "photo"],
                          ["view", input.getAttribute("data-field-view") || ""]],
                 key: newKey("photo"), at: Date.now() };
    return put(item).then(function () {
      input.value = "";
      var note = document.createElement("p");
      note.className = "muted";
      note.setAttribute("data-queued-photo", "");
      note.textContent = "Photo kept on this tablet; it is sent when the network is back.";
      input.parentNode.appendChild(note);
      return showCount();
    });
  }

  function revealPhotos() {
    var panel = document.querySelector("[data-offline-photos]");
    if (panel) panel.hidden = false;
    var wait = document.getElementById("photos-wait");
    if (panel && wait) wait.hidden = true;
  }

  // Offline: keep the press instead of letting htmx try (screening.js would retry forever).
  document.addEventListener("htmx:beforeRequest", function (event) {
    var form = event.detail && event.detail.elt;
    if (!form || !form.matches || !form.matches(FORM) || navigator.onLine) return;
    event.preventDefault();
    queueFindings(form);
  });

  // Online but the request never arrived: queue it too, the queue retries it.
  document.addEventListener("htmx:sendError", function (event) {
    var form = event.detail && event.detail.elt;
    if (form && form.matches && form.matches(FORM)) queueFindings(form);
  });

  // Photos: capture phase, before app.js's widget sees the change.
  window.addEventListener("change", function (event) {
    var input = event.target;
    if (!input || input.type !== "file" || !input.closest("#photos")) return;
    var noCase = !input.getAttribute("data-upload-url");
    if (navigator.onLine && !noCase) return;
    event.stopImmediatePropagation();
    Array.prototype.forEach.call(input.files || [], function (file) { queuePhoto(input, file); });
    if (navigator.onLine) drain();
  }, true);

  // ------------------------------------------------------------------ sending

  function csrfCookie() {
    var found = document.cookie.split("; ").filter(function (c) {
      return c.indexOf("csrftoken=") === 0;
    })[0];
    return found ? decodeURIComponent(found.slice("csrftoken=".length)) : "";
  }

  /* The session is still signed in (else null), and the cookie holds its current token. */
  function freshToken() {
    return fetch("/screening", { credentials: "same-origin", cache: "no-store" })
      .then(function (answer) {
        if (answer.status === 401 || answer.redirected) return null;
        return csrfCookie();
      });
  }

  function caseFor(item, known) {
    if (item.url) return Promise.resolve(item.url);
    if (item.child && known[item.child]) {
      return Promise.resolve("/api/v1/cases/" + known[item.child] + "/attachments");
    }
    // The child's findings were sent earlier (another page load): ask the child's page.
    return fetch(item.child, { credentials: "same-origin", cache: "no-store" })
      .then(function (answer) { return answer.text(); })
      .then(function (html) {
        var doc = new DOMParser().parseFromString(html, "text/html");
        var input = doc.querySelector("[data-case-id]");
        return input ? "/api/v1/cases/" + input.getAttribute("data-case-id") + "/attachments"
          : null;
      });
  }

  function sendOne(item, token, known) {
    var body;
    var headers = { "x-csrftoken": token, "Idempotency-Key": item.key };
    if (item.kind === "findings") {
      body = new URLSearchParams();
      item.fields.forEach(function (pair) { body.append(pair[0], pair[1]); });
      headers["HX-Request"] = "true";
      return fetch(item.url, { method: "POST", body: body, headers: headers,
                               credentials: "same-origin" }).then(function (answer) {
        var caseId = answer.headers.get("X-Case-Id");
        if (caseId && item.child) known[item.child] = caseId;
        return answer;
      });
    }
    return caseFor(item, known).then(function (url) {
      if (!url) return { status: 409, ok: false, definitive: "Save the findings before the photos." };
      body = new FormData();
      item.fields.forEach(function (pair) { body.append(pair[0], pair[1]); });
      body.append("file", item.blob, item.filename);
      headers.Accept = "application/json";
      return fetch(url, { method: "POST", body: body, headers: headers,
                          credentials: "same-origin" });
    });
  }

  function later() {
    if (retryTimer) window.clearTimeout(retryTimer);
    retryTimer = window.setTimeout(function () { retryTimer = null; drain(); }, 15000);
  }

  function drain() {
    if (sending || !navigator.onLine) return Promise.resolve();
    sending = true;
    var known = {};
    var done = function () { sending = false; return showCount(); };
    return all().then(function (everything) {
      var items = everything.filter(mine);
      if (!items.length) return null;
      return freshToken().then(function (token) {
        if (token === null) {
          showProblem("Signed out: sign in again to send what is waiting.");
          return null;
        }
        var step = function (i) {
          if (i >= items.length) return null;
          var item = items[i];
          return sendOne(item, token, known).then(function (answer) {
            if (answer.ok) return remove(item.seq).then(showCount).then(function () {
              return step(i + 1);
            });
            if (answer.status === 401 || answer.status === 403 || answer.status === 408 ||
                answer.status === 429 || answer.status >= 500) {
              later();  // not definitive: keep it (and everything after it, in order)
              return null;
            }
            showProblem("Not sent (" + answer.status + "): " +
                        (answer.definitive || (item.kind === "photo" ? "a photo" : "findings")) +
                        " for " + (item.child || item.url) + ".");
            return remove(item.seq).then(function () { return step(i + 1); });
          }, function () {
            later();  // a network error: try again later
            return null;
          });
        };
        return step(0);
      });
    }).then(done, function (problem) { done(); throw problem; });
  }

  // ------------------------------------------------------------------ the pages' copies

  function precache() {
    if (!("caches" in window) || !navigator.onLine) return;
    // The child pages' own script is not on the class page: copy it too.
    var urls = [location.pathname, "/static/js/screening.js"];
    document.querySelectorAll('a[href^="/screening/events/"]').forEach(function (a) {
      var path = a.getAttribute("href");
      if (CHILD_PATH.test(path) && urls.indexOf(path) === -1) urls.push(path);
    });
    document.querySelectorAll("script[src], link[rel=stylesheet][href]").forEach(function (el) {
      var src = el.getAttribute("src") || el.getAttribute("href");
      if (src && src.indexOf("/static/") === 0) urls.push(src);
    });
    // One writer per copy: under the service worker a plain fetch is enough (the worker keeps
    // what it fetched); a second cache.add of the same URL would replace the worker's entry,
    // and the Cache API drops the old entry before the new body has arrived, so a page could
    // be missing at the moment the network goes.
    if (navigator.serviceWorker && navigator.serviceWorker.controller) {
      urls.forEach(function (url) {
        fetch(url, { credentials: "same-origin" }).catch(function () { /* see below */ });
      });
      return;
    }
    caches.open(CACHE).then(function (cache) {
      urls.forEach(function (url) {
        cache.add(url).catch(function () { /* one page missing is no reason to stop */ });
      });
    });
  }

  function start() {
    if ("serviceWorker" in navigator) {
      navigator.serviceWorker.register("/screening/sw.js", { scope: "/screening/" })
        .catch(function () { /* the queue works without it; only reopening offline needs it */ });
    }
    precache();
    all().then(function (items) {
      var here = childPath(location.pathname);
      if (items.some(function (item) {
        return mine(item) && item.kind === "findings" && item.child === here;
      })) {
        revealPhotos();
      }
    });
    showCount().then(function () { return drain(); });
  }

  window.addEventListener("online", function () { drain(); });
  window.addEventListener("offline", function () { showCount(); });
  document.addEventListener("submit", function (event) {
    // Signing out: the cached pages are this session's patient data.
    var form = event.target;
    if (form && form.getAttribute && form.getAttribute("action") === "/logout" && "caches" in window) {
      caches.delete(CACHE);
    }
  }, true);
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
  window.toothlineOffline = { drain: drain, count: showCount };
})();
