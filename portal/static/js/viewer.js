/*
 * Toothline -- the image viewer of the dentist's case page (templates/review/case.html).
 *
 * No inline scripts or styles (CSP): the markup carries data attributes, this file listens on
 * `document` (event delegation, so rows htmx swaps in later work too) and sets the image's
 * transform and filter through the CSSOM, which the CSP allows.
 *
 *   <a href="DISPLAY_URL" data-viewer-src="DISPLAY_URL" data-viewer-original="ORIGINAL_URL"
 *      data-viewer-kind="photo|radiograph" data-viewer-caption="lower left (photo)">
 *     <img src="THUMBNAIL_URL" alt="...">
 *   </a>
 *
 * A click opens <dialog id="viewer"> on that image. Zoom: the +/- buttons, the mouse wheel,
 * the keys + - 0; pan: drag with a mouse, a finger or a pen (pointer events); brightness and
 * contrast: the two range inputs ([data-viewer-filter]) -- opened on 130 % contrast for a
 * radiograph. Escape or "Close" closes it. Without JavaScript the link opens the image itself.
 *
 * The current state is mirrored on the image as data-zoom, data-brightness, data-contrast,
 * data-invert, data-preset (for people's tools and the browser tests). Radiographs also get
 * window/level presets and invert ([data-viewer-action=preset|invert]), computed on the 8-bit
 * display picture; "Original" stays one click away. Opening an image dispatches
 * "toothline:viewer-open" (annotate.js loads its drawings; shortcuts.js knows the image).
 *
 * The sign form lists the case's images (templates/review/_sign-form.html, rows with
 * data-review-src); opening one here marks its row "opened just now" and hides its reason
 * field. Only a hint for the dentist: signing checks the server's view log.
 */
(function () {
  "use strict";

  var MIN_ZOOM = 1;
  var MAX_ZOOM = 8;
  var STEP = 1.5;
  var state = { zoom: 1, x: 0, y: 0, brightness: 100, contrast: 100, invert: false };
  /* Window/level presets for radiographs, on the 8-bit display picture (storage/media/window.py
   * windowed the 16-bit original into it): [low, width] of the display's 0..1 range, shown by
   * brightness b then contrast k, with k = 1 + 2 low / width and b = 1 / (width k), which maps
   * low -> 0 and low + width -> 1 (docs/review.md, "Radiograph tools"). */
  var PRESETS = { full: [0, 1], bone: [0.2, 0.6], enamel: [0.45, 0.55], soft: [0, 0.5] };
  var drag = null;
  /* Compare (issue 21): an earlier image of the same view beside the current one (or over it,
   * blended), with the same zoom and pan. The candidates are the timeline strip's links of that
   * view (templates/review/case.html); its picture loads through the audited display route. */
  var compare = { on: false, overlay: false, opacity: 50 };

  function el(id) {
    return document.getElementById(id);
  }

  function clampPan() {
    var stage = el("viewer-stage");
    if (!stage) return;
    var maxX = (stage.clientWidth * (state.zoom - 1)) / 2;
    var maxY = (stage.clientHeight * (state.zoom - 1)) / 2;
    state.x = Math.max(-maxX, Math.min(maxX, state.x));
    state.y = Math.max(-maxY, Math.min(maxY, state.y));
  }

  function apply() {
    var img = el("viewer-image");
    if (!img) return;
    clampPan();
    img.style.transform =
      "translate(" + state.x + "px, " + state.y + "px) scale(" + state.zoom + ")";
    img.style.filter =
      "brightness(" + state.brightness + "%) contrast(" + state.contrast + "%)" +
      (state.invert ? " invert(1)" : "");
    img.dataset.invert = state.invert ? "1" : "0";
    var other = el("viewer-compare-image");
    if (other) {
      other.style.transform = img.style.transform;
      other.style.filter = img.style.filter;
      other.style.opacity = compare.on && compare.overlay ? String(compare.opacity / 100) : "1";
      other.dataset.zoom = String(Math.round(state.zoom * 100) / 100);
    }
    syncOverlay(img);
    img.dataset.zoom = String(Math.round(state.zoom * 100) / 100);
    img.dataset.brightness = String(state.brightness);
    img.dataset.contrast = String(state.contrast);
    var out = el("viewer-zoom");
    if (out) out.textContent = Math.round(state.zoom * 100) + "%";
    var b = el("viewer-brightness");
    var c = el("viewer-contrast");
    if (b) b.value = String(state.brightness);
    if (c) c.value = String(state.contrast);
  }

  /* The annotation layer (<svg id="viewer-overlay">, portal/static/js/annotate.js) lies over
   * the picture's box and takes the same transform, so drawings follow zoom and pan. */
  function syncOverlay(img) {
    var svg = el("viewer-overlay");
    if (!svg) return;
    svg.style.left = img.offsetLeft + "px";
    svg.style.top = img.offsetTop + "px";
    svg.style.width = img.offsetWidth + "px";
    svg.style.height = img.offsetHeight + "px";
    svg.style.transform = img.style.transform;
  }

  function preset(name) {
    var p = PRESETS[name];
    if (!p) return;
    var k = 1 + (2 * p[0]) / p[1];
    state.contrast = Math.round(k * 100);
    state.brightness = Math.round((1 / (p[1] * k)) * 100);
    var img = el("viewer-image");
    if (img) img.dataset.preset = name;
    apply();
  }

  function candidates(link) {
    var view = link.getAttribute("data-viewer-view") || "";
    if (!view) return [];
    var src = link.getAttribute("data-viewer-src");
    return Array.prototype.slice.call(
      document.querySelectorAll('[data-timeline-view="' + view + '"]')
    ).filter(function (a) { return a.getAttribute("data-viewer-src") !== src; });
  }

  function setCompare(on) {
    var stage = el("viewer-stage");
    var other = el("viewer-compare-image");
    var choice = el("viewer-compare-choice");
    if (!stage || !other || !choice) return;
    compare.on = on && choice.value !== "";
    other.hidden = !compare.on;
    if (compare.on && other.getAttribute("src") !== choice.value) {
      other.src = choice.value;
      markOpened(choice.value);
    }
    stage.classList.toggle("is-comparing", compare.on && !compare.overlay);
    stage.classList.toggle("is-overlaid", compare.on && compare.overlay);
    var button = document.querySelector('[data-viewer-action="compare"]');
    if (button) button.setAttribute("aria-pressed", compare.on ? "true" : "false");
    var mode = el("viewer-compare-mode");
    if (mode) mode.textContent = compare.overlay ? "Side by side" : "Overlay";
    apply();
  }

  function prepareCompare(link) {
    var tools = el("viewer-compare-tools");
    var choice = el("viewer-compare-choice");
    var found = candidates(link);
    if (tools) tools.hidden = !found.length;
    if (!choice) return;
    choice.textContent = "";
    found.forEach(function (a) {
      var option = document.createElement("option");
      option.value = a.getAttribute("data-viewer-src");
      option.textContent = a.getAttribute("data-taken") || "";
      choice.appendChild(option);
    });
    // The default: the latest image taken before this one (the strip is oldest first).
    var all = Array.prototype.slice.call(document.querySelectorAll(
      '[data-timeline-view="' + (link.getAttribute("data-viewer-view") || "") + '"]'));
    var at = all.map(function (a) { return a.getAttribute("data-viewer-src"); })
      .indexOf(link.getAttribute("data-viewer-src"));
    if (at > 0) choice.value = all[at - 1].getAttribute("data-viewer-src");
    var other = el("viewer-compare-image");
    if (other) { other.removeAttribute("src"); other.hidden = true; }
    compare.on = false;
    setCompare(false);
  }

  function zoomTo(zoom) {
    var next = Math.max(MIN_ZOOM, Math.min(MAX_ZOOM, zoom));
    if (next === MIN_ZOOM) {
      state.x = 0;
      state.y = 0;
    } else {
      state.x *= next / state.zoom;
      state.y *= next / state.zoom;
    }
    state.zoom = next;
    apply();
  }

  function reset(kind) {
    state.zoom = 1;
    state.x = 0;
    state.y = 0;
    state.brightness = 100;
    state.contrast = kind === "radiograph" ? 130 : 100;
    state.invert = false;
    apply();
  }

  function markOpened(src) {
    var rows = document.querySelectorAll("[data-review-src]");
    for (var i = 0; i < rows.length; i++) {
      if (rows[i].getAttribute("data-review-src") !== src) continue;
      var badge = rows[i].querySelector(".image-not-opened");
      if (badge) {
        badge.textContent = "opened just now";
        badge.className = "badge badge-routine image-opened";
      }
      var reason = rows[i].querySelector("[data-review-reason]");
      if (reason) reason.hidden = true;
    }
  }

  function open(link) {
    var dialog = el("viewer");
    var img = el("viewer-image");
    if (!dialog || !img || typeof dialog.showModal !== "function") return false;
    var kind = link.getAttribute("data-viewer-kind") || "photo";
    img.src = link.getAttribute("data-viewer-src");
    img.alt = link.getAttribute("data-viewer-caption") || "";
    img.dataset.kind = kind;
    var caption = el("viewer-caption");
    if (caption) caption.textContent = link.getAttribute("data-viewer-caption") || "";
    var original = el("viewer-original");
    if (original) {
      var href = link.getAttribute("data-viewer-original");
      original.hidden = !href;
      if (href) original.href = href;
    }
    var tools = el("viewer-radiograph-tools");
    if (tools) tools.hidden = kind !== "radiograph";
    prepareCompare(link);
    reset(kind);
    img.onload = function () { apply(); };
    if (!dialog.open) dialog.showModal();
    markOpened(link.getAttribute("data-viewer-src"));
    document.dispatchEvent(new CustomEvent("toothline:viewer-open", { detail: { link: link } }));
    return true;
  }

  function close() {
    var dialog = el("viewer");
    if (dialog && dialog.open) dialog.close();
  }

  document.addEventListener("click", function (event) {
    var target = event.target;
    if (!(target instanceof Element)) return;
    var doc = target.closest("[data-review-open]");  // a document opens in a new tab
    if (doc) markOpened(doc.getAttribute("href"));
    var link = target.closest("[data-viewer-src]");
    if (link && !event.ctrlKey && !event.metaKey && !event.shiftKey) {
      if (open(link)) event.preventDefault();
      return;
    }
    var action = target.closest("[data-viewer-action]");
    if (!action) return;
    var name = action.getAttribute("data-viewer-action");
    if (name === "zoom-in") zoomTo(state.zoom * STEP);
    else if (name === "zoom-out") zoomTo(state.zoom / STEP);
    else if (name === "reset") reset((el("viewer-image") || {}).dataset.kind);
    else if (name === "close") close();
    else if (name === "invert") { state.invert = !state.invert; apply(); }
    else if (name === "compare") setCompare(!compare.on);
    else if (name === "compare-mode") { compare.overlay = !compare.overlay; setCompare(compare.on); }
    else if (name === "preset") preset(action.getAttribute("data-preset"));
  });

  document.addEventListener("input", function (event) {
    var input = event.target;
    if (!(input instanceof HTMLInputElement)) return;
    if (input.hasAttribute("data-viewer-compare-opacity")) {
      compare.opacity = Number(input.value);
      apply();
      return;
    }
    var which = input.getAttribute("data-viewer-filter");
    if (which === "brightness" || which === "contrast") {
      state[which] = Number(input.value) || 100;
      apply();
    }
  });

  document.addEventListener(
    "wheel",
    function (event) {
      var stage = event.target instanceof Element && event.target.closest("#viewer-stage");
      if (!stage) return;
      event.preventDefault();
      zoomTo(event.deltaY < 0 ? state.zoom * 1.15 : state.zoom / 1.15);
    },
    { passive: false }
  );

  document.addEventListener("pointerdown", function (event) {
    var stage = event.target instanceof Element && event.target.closest("#viewer-stage");
    if (!stage || state.zoom <= 1) return;
    var dialog = el("viewer");
    if (dialog && dialog.dataset.tool) return;  // drawing, not panning (annotate.js)
    drag = { id: event.pointerId, x: event.clientX - state.x, y: event.clientY - state.y };
    stage.setPointerCapture(event.pointerId);
    stage.classList.add("is-panning");
  });

  document.addEventListener("pointermove", function (event) {
    if (!drag || drag.id !== event.pointerId) return;
    state.x = event.clientX - drag.x;
    state.y = event.clientY - drag.y;
    apply();
  });

  function endDrag(event) {
    if (!drag || drag.id !== event.pointerId) return;
    drag = null;
    var stage = el("viewer-stage");
    if (stage) stage.classList.remove("is-panning");
  }
  document.addEventListener("pointerup", endDrag);
  document.addEventListener("pointercancel", endDrag);

  document.addEventListener("keydown", function (event) {
    var dialog = el("viewer");
    if (!dialog || !dialog.open) return;
    if (event.target instanceof HTMLInputElement && event.target.type === "range") return;
    if (event.target instanceof HTMLInputElement && event.target.type === "text") return;
    if (event.target instanceof HTMLTextAreaElement) return;
    if (event.key === "+" || event.key === "=") zoomTo(state.zoom * STEP);
    else if (event.key === "-") zoomTo(state.zoom / STEP);
    else if (event.key === "0") reset((el("viewer-image") || {}).dataset.kind);
  });

  /* htmx "settles" a swapped-in element by copying the style attribute of the old element of
   * the same id, which the CSP refuses (style-src 'self'): drop the viewer's CSSOM styles, and
   * the empty style attributes the browser leaves on form fields, first. */
  document.addEventListener("htmx:beforeSwap", function () {
    ["viewer-image", "viewer-overlay", "viewer-compare-image"].forEach(function (id) {
      var node = el(id);
      if (node) node.removeAttribute("style");
    });
    var empty = document.querySelectorAll("[id][style='']");
    for (var i = 0; i < empty.length; i++) empty[i].removeAttribute("style");
  });

  window.ToothlineViewer = {
    open: open,
    close: close,
    zoomBy: function (factor) { zoomTo(state.zoom * factor); },
    toggleCompare: function () {
      var tools = el("viewer-compare-tools");
      if (tools && !tools.hidden) setCompare(!compare.on);
      return !!(tools && !tools.hidden);
    },
    state: function () {
      return { zoom: state.zoom, x: state.x, y: state.y, brightness: state.brightness,
        contrast: state.contrast };
    },
  };
})();
