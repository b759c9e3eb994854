/*
 * Toothline -- keyboard shortcuts of the dentist's case page (listed on the page in
 * <section id="shortcuts">, docs/review.md "Keyboard shortcuts").
 *
 *   n / p   next / previous image in the viewer (n opens the first one)
 *   j       next case ("Next case": claims the most pressing one)
 *   + / -   zoom in / out (viewer.js, while the viewer is open)
 *   c       compare: in the viewer, the earlier image of the same view beside this one (again:
 *           off); outside it, the page's comparison section
 *   s       the sign form's password field (closes the viewer)
 *   ?       show or hide the list of shortcuts
 *
 * Keys typed into a field, and keys with Ctrl/Alt/Meta, are left alone; Escape in a field of
 * the page leaves the field, so shortcuts work again. Display pictures are
 * NOT prefetched: every fetch of one is audited as the dentist opening it, and signing relies
 * on that log (docs/review.md, "Every image reviewed").
 */
(function () {
  "use strict";

  var index = -1;

  function el(id) {
    return document.getElementById(id);
  }

  function images() {
    return Array.prototype.slice.call(document.querySelectorAll("#thumbs a[data-viewer-src]"));
  }

  function typing(target) {
    if (!(target instanceof Element)) return false;
    if (target.closest("input, textarea, select, [contenteditable]")) {
      return !(target instanceof HTMLInputElement &&
        (target.type === "range" || target.type === "checkbox" || target.type === "radio"));
    }
    return false;
  }

  function step(by) {
    var all = images();
    if (!all.length || !window.ToothlineViewer) return;
    var dialog = el("viewer");
    if (!dialog || !dialog.open) index = by > 0 ? -1 : all.length;
    index = Math.max(0, Math.min(all.length - 1, index + by));
    window.ToothlineViewer.open(all[index]);
  }

  function focusSign() {
    if (window.ToothlineViewer) window.ToothlineViewer.close();
    var password = document.querySelector("#sign-form input[name=password]");
    if (password) {
      password.scrollIntoView({ block: "center" });
      password.focus();
    }
  }

  function compare() {
    var dialog = el("viewer");
    if (dialog && dialog.open && window.ToothlineViewer &&
        window.ToothlineViewer.toggleCompare()) return;  // in the viewer: side by side
    if (window.ToothlineViewer) window.ToothlineViewer.close();
    var section = el("compare") || el("h-compare");
    if (section) {
      section.scrollIntoView({ block: "start" });
      section.focus();
    }
  }

  function toggleList() {
    var list = el("shortcuts");
    if (!list) return;
    list.open = !list.open;
    if (list.open) list.scrollIntoView({ block: "nearest" });
  }

  document.addEventListener("toothline:viewer-open", function (event) {
    var found = images().indexOf(event.detail.link);
    if (found >= 0) index = found;
  });

  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape" && typing(event.target) && !(el("viewer") || {}).open) {
      event.target.blur();  // out of the field, so the next key is a shortcut again
      return;
    }
    if (event.ctrlKey || event.altKey || event.metaKey || typing(event.target)) return;
    var key = event.key;
    var handled = true;
    if (key === "n") step(1);
    else if (key === "p") step(-1);
    else if (key === "j") {
      var next = el("next-case-form");
      if (next) next.requestSubmit();
    } else if (key === "c") compare();
    else if (key === "s") focusSign();
    else if (key === "?") toggleList();
    else handled = false;
    if (handled) event.preventDefault();
  });

})();
