/*
 * Toothline -- the screening findings form (templates/screening/_findings-form.html) keeps
 * working through a dropped connection.
 *
 * The form (form[data-screening-autosave]) posts with htmx and carries a per-child
 * Idempotency-Key in hx-headers; the server's save is an upsert of that child's case, so
 * sending it again never makes a second case. This file:
 *   - marks the form "Unsaved changes" as soon as an answer changes;
 *   - when the request cannot reach the server (no network, 5xx, 408/429), shows "Not saved"
 *     and sends the same form again by itself -- after 2, 4, 8 ... up to 30 seconds, at once
 *     when the browser comes back online, or when "Retry now" is pressed;
 *   - asks before leaving the page while an answer is unsaved.
 * Where static/js/offline.js is loaded (screeners), a request that never reached the server
 * is left to its queue instead of being retried here.
 * htmx swaps a new form in after a save (outerHTML), so everything is event delegation.
 * No inline scripts or styles: the CSP is script-src 'self'; style-src 'self'.
 */
(function () {
  "use strict";

  var SELECTOR = "form[data-screening-autosave]";
  var MAX_DELAY_MS = 30000;
  var retry = { timer: null, delay: 2000, form: null };

  function currentForm() {
    return document.querySelector(SELECTOR);
  }

  function setState(form, state, text) {
    if (!form) return;
    var status = form.querySelector("[data-save-status]");
    var button = form.querySelector("[data-save-retry]");
    if (status) {
      status.setAttribute("data-state", state);
      status.textContent = text;
    }
    if (button) button.hidden = state !== "retrying";
    form.setAttribute("data-save-state", state);
  }

  function send(form) {
    if (!form || !window.htmx) return;
    window.htmx.trigger(form, "submit");
  }

  function clearRetry() {
    if (retry.timer) window.clearTimeout(retry.timer);
    retry.timer = null;
  }

  function scheduleRetry(form) {
    clearRetry();
    var seconds = Math.round(retry.delay / 1000);
    setState(form, "retrying", "Not saved: no connection. Trying again in " + seconds + " s.");
    retry.timer = window.setTimeout(function () {
      retry.timer = null;
      send(currentForm());
    }, retry.delay);
    retry.delay = Math.min(retry.delay * 2, MAX_DELAY_MS);
  }

  function isAutosave(event) {
    var elt = event.detail && event.detail.elt;
    return elt && elt.matches && elt.matches(SELECTOR) ? elt : null;
  }

  function retryable(status) {
    return status === 0 || status === 408 || status === 429 || status >= 500;
  }

  document.addEventListener("input", function (event) {
    var form = event.target.closest && event.target.closest(SELECTOR);
    if (form) setState(form, "dirty", "Unsaved changes.");
  });
  document.addEventListener("change", function (event) {
    var form = event.target.closest && event.target.closest(SELECTOR);
    if (form) setState(form, "dirty", "Unsaved changes.");
  });

  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-save-retry]");
    if (!button) return;
    var form = button.closest(SELECTOR);
    clearRetry();
    send(form);
  });

  document.addEventListener("htmx:beforeRequest", function (event) {
    var form = isAutosave(event);
    if (form) setState(form, "saving", "Saving…");
  });

  document.addEventListener("htmx:sendError", function (event) {
    var form = isAutosave(event);
    // With offline.js on the page the press is queued there (and sent in order): a second,
    // independent retry from here could land after a later correction.
    if (form && !window.toothlineOffline) scheduleRetry(form);
  });

  document.addEventListener("htmx:responseError", function (event) {
    var form = isAutosave(event);
    var xhr = event.detail && event.detail.xhr;
    if (!form) return;
    if (xhr && retryable(xhr.status)) {
      scheduleRetry(form);
    } else {
      setState(form, "error", "Not saved: the page is out of date. Reload it.");
    }
  });

  document.addEventListener("htmx:afterRequest", function (event) {
    if (isAutosave(event) && event.detail.successful) {
      clearRetry();
      retry.delay = 2000;
    }
  });

  window.addEventListener("online", function () {
    var form = currentForm();
    if (form && form.getAttribute("data-save-state") === "retrying") {
      clearRetry();
      send(form);
    }
  });

  window.addEventListener("beforeunload", function (event) {
    var form = currentForm();
    var state = form && form.getAttribute("data-save-state");
    if (state === "dirty" || state === "retrying" || state === "saving") {
      event.preventDefault();
      event.returnValue = "";
    }
  });
})();
