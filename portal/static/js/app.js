/*
 * Toothline -- the page behaviour every page loads (after htmx, both with `defer`).
 *
 * No inline scripts, styles or on*="" attributes anywhere: the Content-Security-Policy is
 * script-src 'self'; style-src 'self'. Everything below is event delegation on `document`,
 * so markup that htmx swaps in later works without any re-initialisation. Pages must work
 * without this file where they can (plain links and form posts); it only makes them nicer.
 *
 * 1. htmx configuration is NOT set here: it is the <meta name="htmx-config"> in
 *    templates/layouts/base.html (htmx merges it on DOMContentLoaded). This file only shows a
 *    flash when an htmx request fails (htmx swaps nothing for an error answer by default, so
 *    the person would otherwise see nothing happen).
 *
 * 2. Flashes (#flash) stay until the next page: nothing is dismissed automatically.
 *
 * 3. data-confirm="Question?" on a <form> (or on its submit button): asks with confirm()
 *    before the form is submitted (plain or htmx; for other htmx requests use hx-confirm).
 *
 * 4. UPLOAD WIDGET -- every chosen file is sent as its own XMLHttpRequest, so each file gets
 *    its own <progress>, status, retry and remove, and one bad photo never blocks the others.
 *
 *    Two ways to use it:
 *
 *    a) A lone file input: files upload as soon as they are chosen.
 *
 *       <input type="file" name="file" accept="image/*" multiple
 *              data-upload-url="/cases/42/attachments"
 *              data-csrf="{{ csrf_token }}"
 *              data-field-kind="photo"
 *              data-upload-fields="view teeth">
 *
 *    b) A form: chosen files are listed with a preview and sent when the form is submitted
 *       (or at once with data-upload-auto). All the form's other named controls are sent
 *       with every file. Uploads need this script: without it the browser would post a
 *       multipart body with no x-csrftoken header, which the server refuses (403) -- put a
 *       <noscript> note on upload pages.
 *
 *       <form data-upload-form action="/cases/42/attachments" method="post"
 *             enctype="multipart/form-data" data-upload-done-url="/cases/42">
 *         <input type="hidden" name="_csrf_token" value="...">   (read, never sent as a field)
 *         <select name="view">...</select>
 *         <input type="file" name="file" multiple data-field-kind="photo">
 *         <input type="file" name="file" data-field-kind="radiograph">
 *         <button class="btn btn-primary">Upload</button>
 *       </form>
 *
 *       Do not put hx-post on an upload form: htmx would submit it too.
 *
 *    Attributes (read from the file input first, then from its data-upload-form):
 *      data-upload-url        where to POST (form: defaults to the form's action)
 *      data-csrf              the CSRF token. Else the form's _csrf_token input, else the
 *                             x-csrftoken in <body hx-headers>, else <meta name="csrf-token">.
 *                             It is sent ONLY as the `x-csrftoken` header -- never as a form
 *                             field: the upload route streams the body, and litestar's CSRF
 *                             middleware would read the whole body looking for the field.
 *      data-upload-name       the file's multipart field name (default: the input's name,
 *                             else "file")
 *      data-field-NAME="v"    a fixed extra field NAME=v (e.g. data-field-kind="photo"; HTML
 *                             lower-cases attribute names, so use lower-case field names)
 *      data-upload-fields     space-separated names of other controls whose values are sent
 *                             (looked up in the closest [data-upload-scope], else the input's
 *                             form, else its parent element; checkboxes/radios only when
 *                             checked, several values for a name become several fields)
 *      data-upload-list       CSS selector of the element (usually a <ul>) that gets the file
 *                             list; default: a <ul class="upload-list"> added after the input
 *      data-upload-max-bytes  refuse larger files before sending (the server checks again)
 *      data-upload-concurrency  parallel uploads per widget (default 2)
 *      data-upload-auto       (form only) upload as soon as files are chosen
 *      data-upload-done-url   (form only) go there once the form was submitted and every file
 *                             in the list is uploaded
 *
 *    Each request: POST, multipart/form-data with the extra fields FIRST and the file LAST
 *    (a streaming server sees the fields before the file); headers x-csrftoken,
 *    Accept: application/json, and Idempotency-Key -- one random key per file, the same on
 *    every retry, so a retried upload that did reach the server creates nothing twice.
 *    Field values are captured when a file's first upload starts; retries resend the same.
 *
 *    The server answers JSON. 2xx: done; optional keys `message` (shown as the status),
 *    `thumbnail_url` (replaces the local preview), `delete_url` (Remove on a done file then
 *    sends DELETE there with the x-csrftoken header). Otherwise: failed, showing the JSON
 *    `message` (or `detail`), else a text for the status (413: too large, 0: no connection).
 *
 *    Per file the list shows a preview (URL.createObjectURL -- the CSP allows blob: images;
 *    a type the browser cannot draw, e.g. HEIC, PDF, DICOM, shows its extension instead), the
 *    name and size, a <progress>, a status line, and buttons: Cancel while sending, Retry and
 *    Remove after a failure, Remove while waiting. Item classes: upload-item + is-queued |
 *    is-uploading | is-done | is-failed. Outcomes are announced through a polite live region.
 *
 *    While files are waiting or being sent the widget's root has aria-busy="true", and
 *    leaving the page asks for confirmation first.
 *
 *    Events (bubbling, dispatched on the file input or the upload form), e.g. to refresh a
 *    list with htmx: <div hx-get="/cases/42/attachments" hx-trigger="upload-done from:body">
 *      upload-done     detail: {file, response}   (response: the parsed JSON or null)
 *      upload-failed   detail: {file, status, message}
 *      upload-removed  detail: {file}
 *      upload-settled  detail: {done, failed}     nothing waiting or sending any more
 *
 * 5. data-upload-wait on a <form> (e.g. "Send to the dentist" beside lone upload inputs): the
 *    form is not submitted while any upload on the page is waiting or sending, or has failed;
 *    a flash says to wait, or to retry or remove the failed file.
 *
 * 7. RESUMABLE: data-upload-tus="/api/v1/uploads" and data-case-id on the input (or form)
 *    send each file over tus 1.0 with the vendored tus-js-client (vendor/tus.min.js) instead:
 *    a dropped connection or a page reload resumes it from the stored offset (see sendTus;
 *    data-upload-delete-base: where Remove sends DELETE .../{attachment_id}). Without
 *    tus-js-client (or a browser it does not support) the plain multipart POST is used.
 *
 * 6. Thumbnails still being made: ONE mechanism for the widget's fresh uploads and for the
 *    server-rendered list of files saved earlier -- fetch the thumbnail URL each second while
 *    it answers 202 (up to 30 times), then show the 200 answer. A placeholder in a page opts
 *    in with data-thumbnail-wait="URL" (optional data-thumbnail-link, data-thumbnail-alt);
 *    there is no htmx polling of the page for this.
 */
(function () {
  "use strict";

  // ---------------------------------------------------------------- texts

  /** The page's texts in its language: the base layout puts the catalog's translations of
      this file's gettext("...") texts into <meta name="toothline-texts"> (none on an English
      page; portal/i18n.py js_texts). %(name)s placeholders take ``vars``. */
  var TEXTS = (function () {
    var meta = document.querySelector('meta[name="toothline-texts"]');
    try {
      return meta ? JSON.parse(meta.getAttribute("content") || "{}") : {};
    } catch (e) {
      return {};
    }
  })();

  function gettext(text, vars) {
    var out = Object.prototype.hasOwnProperty.call(TEXTS, text) ? TEXTS[text] : text;
    return out.replace(/%\((\w+)\)s/g, function (match, name) {
      return vars && Object.prototype.hasOwnProperty.call(vars, name) ? String(vars[name]) : match;
    });
  }

  // ---------------------------------------------------------------- helpers

  function formatBytes(n) {
    if (n < 1000) return n + " B";
    if (n < 1000 * 1000) return (n / 1000).toFixed(n < 10000 ? 1 : 0) + " kB";
    if (n < 1000 * 1000 * 1000) return (n / 1e6).toFixed(n < 1e7 ? 1 : 0) + " MB";
    return (n / 1e9).toFixed(1) + " GB";
  }

  function randomKey() {
    if (window.crypto && typeof window.crypto.randomUUID === "function") {
      return window.crypto.randomUUID();
    }
    var bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    return Array.prototype.map
      .call(bytes, function (b) {
        return (b + 0x100).toString(16).slice(1);
      })
      .join("");
  }

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  }

  function button(label, variant, action) {
    var b = el("button", "btn btn-small " + variant, label);
    b.type = "button";
    b.setAttribute("data-upload-action", action);
    return b;
  }

  function csrfFromPage() {
    var body = document.body;
    var raw = body && body.getAttribute("hx-headers");
    if (raw) {
      try {
        var headers = JSON.parse(raw);
        if (headers && headers["x-csrftoken"]) return headers["x-csrftoken"];
      } catch (e) {
        /* not JSON: ignore */
      }
    }
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") || "" : "";
  }

  /** Append [name, value] pairs for controls, like FormData would (files excluded). */
  function collectControls(controls, pairs) {
    Array.prototype.forEach.call(controls, function (c) {
      if (!c.name || c.disabled || c.name === "_csrf_token") return;
      var type = (c.type || "").toLowerCase();
      if (type === "file" || type === "submit" || type === "button" || type === "reset") return;
      if ((type === "checkbox" || type === "radio") && !c.checked) return;
      if (c.tagName === "SELECT" && c.multiple) {
        Array.prototype.forEach.call(c.selectedOptions, function (o) {
          pairs.push([c.name, o.value]);
        });
        return;
      }
      pairs.push([c.name, c.value]);
    });
    return pairs;
  }

  // ---------------------------------------------------------------- flashes

  var FLASH_LABELS = {
    success: gettext("Done"), error: gettext("Error"), warning: gettext("Warning"),
    info: gettext("Note")
  };

  /** Add a flash message to #flash (same markup as templates/components/flash.html). */
  function showFlash(category, message) {
    var area = document.getElementById("flash");
    if (!area) {
      area = el("div", "flash-area");
      area.id = "flash";
      var main = document.querySelector("main") || document.body;
      main.insertBefore(area, main.firstChild);
    }
    var kind = FLASH_LABELS[category] ? category : "info";
    var box = el("div", "flash flash-" + kind);
    box.setAttribute("role", kind === "error" ? "alert" : "status");
    box.appendChild(el("span", "flash-label", FLASH_LABELS[kind] + ":"));
    box.appendChild(document.createTextNode(" "));
    box.appendChild(el("span", "flash-text", message));
    area.appendChild(box);
  }

  var HTTP_TEXT = {
    400: gettext("The request could not be read."),
    401: gettext("Your session has ended. Please sign in again."),
    403: gettext("You are not allowed to do that, or the page is out of date. Reload it and try again."),
    404: gettext("That was not found. It may have been removed."),
    408: gettext("That took too long. Please try again."),
    409: gettext("Someone else changed this first. Reload the page to see the latest."),
    413: gettext("That is too large."),
    415: gettext("That type of file is not accepted."),
    429: gettext("Too many attempts. Please wait a little and try again."),
    500: gettext("Something went wrong on our side. Please try again."),
    502: gettext("Toothline is briefly unavailable. Please try again."),
    503: gettext("Toothline is briefly unavailable. Please try again."),
    504: gettext("Toothline is briefly unavailable. Please try again.")
  };

  function textForStatus(status) {
    if (status === 0) return gettext("Could not reach Toothline. Check the connection and try again.");
    return HTTP_TEXT[status] ||
      gettext("Something went wrong (HTTP %(status)s). Please try again.", { status: status });
  }

  document.addEventListener("htmx:responseError", function (event) {
    var xhr = event.detail && event.detail.xhr;
    showFlash("error", textForStatus(xhr ? xhr.status : 0));
  });

  document.addEventListener("htmx:sendError", function () {
    showFlash("error", textForStatus(0));
  });

  // ---------------------------------------------------------------- data-confirm

  document.addEventListener(
    "submit",
    function (event) {
      var form = event.target;
      var submitter = event.submitter;
      var question =
        (submitter && submitter.getAttribute("data-confirm")) || form.getAttribute("data-confirm");
      if (question && !window.confirm(question)) {
        event.preventDefault();
        event.stopImmediatePropagation();
      }
    },
    true
  );

  // ---------------------------------------------------------------- data-upload-wait

  document.addEventListener(
    "submit",
    function (event) {
      var form = event.target;
      if (!(form instanceof HTMLFormElement) || !form.hasAttribute("data-upload-wait")) return;
      var busy = document.querySelector(".upload-item.is-uploading, .upload-item.is-queued");
      var failed = document.querySelector(".upload-item.is-failed");
      if (!busy && !failed) return;
      event.preventDefault();
      event.stopImmediatePropagation();
      showFlash(
        "error",
        busy
          ? gettext("Please wait until every photo shows “Uploaded”.")
          : gettext("A photo failed to upload. Retry it or remove it first.")
      );
    },
    true
  );

  // ---------------------------------------------------------------- upload widget

  var widgets = new WeakMap(); // root element (input or form) -> Widget
  var busyWidgets = new Set(); // widgets with files waiting or being sent

  function Widget(root) {
    this.root = root;
    this.isForm = root.tagName === "FORM";
    this.items = [];
    this.running = 0;
    this.wantsNavigate = false;
    this.list = null;
    this.live = null;
  }

  Widget.prototype.attr = function (input, name) {
    if (input && input.hasAttribute(name)) return input.getAttribute(name);
    if (this.isForm && this.root.hasAttribute(name)) return this.root.getAttribute(name);
    return null;
  };

  Widget.prototype.ensureList = function (input) {
    if (this.list) return this.list;
    var selector = this.attr(input, "data-upload-list");
    var list = selector ? document.querySelector(selector) : null;
    if (!list) {
      list = el("ul", "upload-list");
      var anchor = input || this.root;
      anchor.insertAdjacentElement("afterend", list);
    }
    if (!list.classList.contains("upload-list")) list.classList.add("upload-list");
    list.setAttribute("aria-label", gettext("Files"));
    this.list = list;
    this.live = el("p", "visually-hidden");
    this.live.setAttribute("aria-live", "polite");
    this.live.setAttribute("role", "status");
    list.insertAdjacentElement("afterend", this.live);
    return list;
  };

  Widget.prototype.announce = function (text) {
    if (!this.live) return;
    this.live.textContent = "";
    var live = this.live;
    window.setTimeout(function () {
      live.textContent = text;
    }, 50);
  };

  Widget.prototype.emit = function (name, detail) {
    this.root.dispatchEvent(new CustomEvent(name, { bubbles: true, detail: detail }));
  };

  Widget.prototype.csrf = function (input) {
    var token = this.attr(input, "data-csrf");
    if (token) return token;
    var form = this.isForm ? this.root : input && input.form;
    if (form) {
      var hidden = form.querySelector('input[name="_csrf_token"]');
      if (hidden && hidden.value) return hidden.value;
    }
    return csrfFromPage();
  };

  /**
   * The extra fields sent with a file chosen in `input`: the fixed data-field-* ones (input
   * first, then form), then the form's controls (form mode), then data-upload-fields. A name
   * given by a data-field-* attribute is not taken again from a control.
   */
  Widget.prototype.fields = function (input) {
    var fixed = [];
    var fixedNames = {};
    [input, this.isForm ? this.root : null].forEach(function (node) {
      if (!node) return;
      Array.prototype.forEach.call(node.attributes, function (a) {
        if (a.name.indexOf("data-field-") !== 0) return;
        var name = a.name.slice("data-field-".length);
        if (name && !fixedNames[name]) {
          fixedNames[name] = true;
          fixed.push([name, a.value]);
        }
      });
    });
    var controls = [];
    if (this.isForm) collectControls(this.root.elements, controls);
    var names = (this.attr(input, "data-upload-fields") || "").split(/\s+/).filter(Boolean);
    if (names.length) {
      var scope =
        (input && input.closest("[data-upload-scope]")) ||
        (input && input.form) ||
        (input && input.parentElement) ||
        document;
      var taken = {};
      controls.forEach(function (p) {
        taken[p[0]] = true;
      });
      names.forEach(function (name) {
        if (taken[name]) return;
        taken[name] = true;
        collectControls(scope.querySelectorAll('[name="' + CSS.escape(name) + '"]'), controls);
      });
    }
    return fixed.concat(
      controls.filter(function (p) {
        return !fixedNames[p[0]];
      })
    );
  };

  Widget.prototype.add = function (input, files) {
    var list = this.ensureList(input);
    var maxBytes = parseInt(this.attr(input, "data-upload-max-bytes") || "0", 10) || 0;
    var auto = !this.isForm || this.root.hasAttribute("data-upload-auto");
    var self = this;
    Array.prototype.forEach.call(files, function (file) {
      var item = {
        file: file,
        input: input,
        key: randomKey(),
        url: self.attr(input, "data-upload-url") || (self.isForm ? formAction(self.root) : ""),
        fieldName: self.attr(input, "data-upload-name") || input.name || "file",
        fields: null,
        state: "queued",
        xhr: null,
        previewUrl: null,
        deleteUrl: null,
        retryable: true
      };
      self.render(item);
      list.appendChild(item.node);
      self.items.push(item);
      if (file.size === 0) {
        self.fail(item, 0, gettext("This file is empty."), false);
      } else if (maxBytes && file.size > maxBytes) {
        self.fail(
          item,
          413,
          gettext("Too large: %(size)s (the limit is %(limit)s).",
                  { size: formatBytes(file.size), limit: formatBytes(maxBytes) }),
          false
        );
      } else if (!item.url) {
        self.fail(item, 0, gettext("This page has no upload address (data-upload-url)."), false);
      } else if (auto) {
        item.state = "waiting";
        self.setStatus(item, gettext("Waiting to upload…"));
      }
    });
    this.pump();
  };

  Widget.prototype.render = function (item) {
    var file = item.file;
    var li = el("li", "upload-item is-queued");
    li.tabIndex = -1;
    var thumb;
    if (/^image\//.test(file.type) && window.URL && URL.createObjectURL) {
      item.previewUrl = URL.createObjectURL(file);
      thumb = el("img", "upload-thumb");
      thumb.alt = "";
      thumb.addEventListener("error", function () {
        thumb.replaceWith(placeholder(file));
      });
      thumb.src = item.previewUrl;
    } else {
      thumb = placeholder(file);
    }
    var body = el("div", "upload-body");
    var name = el("span", "upload-name", file.name || "file");
    name.appendChild(document.createTextNode(" "));
    name.appendChild(el("span", "upload-size", formatBytes(file.size)));
    var progress = el("progress");
    progress.max = 100;
    progress.value = 0;
    progress.hidden = true;
    progress.setAttribute("aria-label", gettext("Upload of %(name)s", { name: file.name || gettext("file") }));
    var status = el("p", "upload-status",
                    this.isForm ? gettext("Ready to upload") : gettext("Waiting to upload…"));
    var actions = el("div", "upload-actions");
    body.appendChild(name);
    body.appendChild(progress);
    body.appendChild(status);
    body.appendChild(actions);
    li.appendChild(thumb);
    li.appendChild(body);
    item.node = li;
    item.progress = progress;
    item.status = status;
    item.actions = actions;
    li.__uploadItem = item;
    item.widget = this;
    this.setActions(item);
  };

  function formAction(form) {
    // getAttribute, not form.action: a control named "action" would shadow the property
    return new URL(form.getAttribute("action") || "", location.href).href;
  }

  function placeholder(file) {
    var m = /\.([A-Za-z0-9]{1,5})$/.exec(file.name || "");
    var span = el("span", "upload-thumb upload-thumb-placeholder", m ? m[1] : "file");
    span.setAttribute("aria-hidden", "true");
    return span;
  }

  Widget.prototype.setState = function (item, state) {
    item.state = state;
    var cls = state === "waiting" ? "queued" : state;
    item.node.className = "upload-item is-" + cls;
    item.progress.hidden = state !== "uploading";
    this.setActions(item);
  };

  Widget.prototype.setStatus = function (item, text) {
    item.status.textContent = text;
  };

  Widget.prototype.setActions = function (item) {
    var a = item.actions;
    var hadFocus = a.contains(document.activeElement);
    a.textContent = "";
    var label = item.file.name || "file";
    var add = function (b) {
      b.setAttribute("aria-label", b.textContent + " " + label);
      a.appendChild(b);
    };
    if (item.state === "uploading") {
      add(button(gettext("Cancel"), "btn-secondary", "cancel"));
    } else if (item.state === "failed") {
      if (item.retryable) add(button(gettext("Retry"), "btn-primary", "retry"));
      add(button(gettext("Remove"), "btn-secondary", "remove"));
    } else if (item.state === "queued" || item.state === "waiting") {
      add(button(gettext("Remove"), "btn-secondary", "remove"));
    } else if (item.state === "done" && item.deleteUrl) {
      add(button(gettext("Remove"), "btn-danger", "delete"));
    }
    if (hadFocus) {
      // keep keyboard focus in this item when its buttons change
      var first = a.querySelector("button");
      if (first) first.focus();
      else item.node.focus();
    }
  };

  /** Start as many waiting uploads as the concurrency allows; report when all settle. */
  Widget.prototype.pump = function () {
    var limit = parseInt(this.root.getAttribute("data-upload-concurrency") || "2", 10) || 2;
    var self = this;
    this.items.forEach(function (item) {
      if (self.running < limit && item.state === "waiting") self.send(item);
    });
    var busy = this.items.some(function (i) {
      return i.state === "waiting" || i.state === "uploading";
    });
    if (busy) {
      this.root.setAttribute("aria-busy", "true");
      busyWidgets.add(this);
    } else {
      this.root.removeAttribute("aria-busy");
      busyWidgets.delete(this);
    }
    if (!busy && this.settling) {
      this.settling = false;
      var done = this.count("done");
      var failed = this.count("failed");
      this.emit("upload-settled", { done: done, failed: failed });
      var target = this.isForm && this.root.getAttribute("data-upload-done-url");
      if (this.wantsNavigate && target && failed === 0 && this.count("queued") === 0 && done > 0) {
        window.location.assign(target);
      }
      this.wantsNavigate = false;
    }
  };

  Widget.prototype.count = function (state) {
    return this.items.filter(function (i) {
      return i.state === state;
    }).length;
  };

  Widget.prototype.send = function (item) {
    var self = this;
    if (item.fields === null) item.fields = this.fields(item.input);
    if (this.attr(item.input, "data-upload-tus") && window.tus && window.tus.isSupported) {
      this.sendTus(item);
      return;
    }
    var data = new FormData();
    item.fields.forEach(function (p) {
      data.append(p[0], p[1]);
    });
    data.append(item.fieldName, item.file, item.file.name);

    var xhr = new XMLHttpRequest();
    item.xhr = xhr;
    this.running += 1;
    this.settling = true;
    this.setState(item, "uploading");
    item.progress.value = 0;
    this.setStatus(item, gettext("Uploading… %(percent)s", { percent: "0%" }));

    xhr.open("POST", item.url);
    xhr.setRequestHeader("x-csrftoken", this.csrf(item.input));
    xhr.setRequestHeader("Accept", "application/json");
    xhr.setRequestHeader("Idempotency-Key", item.key);

    xhr.upload.addEventListener("progress", function (e) {
      if (!e.lengthComputable || item.xhr !== xhr) return;
      var pct = Math.min(100, Math.floor((e.loaded / e.total) * 100));
      item.progress.value = pct;
      self.setStatus(item, gettext("Uploading… %(percent)s", { percent: pct + "%" }));
    });
    xhr.upload.addEventListener("load", function () {
      if (item.xhr !== xhr) return;
      item.progress.removeAttribute("value"); // indeterminate while the server works
      self.setStatus(item, gettext("Processing…"));
    });

    var finish = function (ok, status, message, response) {
      if (item.xhr !== xhr) return;
      item.xhr = null;
      self.running -= 1;
      if (ok) self.succeed(item, response);
      else self.fail(item, status, message, status !== 413 && status !== 415);
      self.pump();
    };

    xhr.addEventListener("load", function () {
      var json = null;
      try {
        json = xhr.responseText ? JSON.parse(xhr.responseText) : null;
      } catch (e) {
        json = null;
      }
      var message = json && (json.message || json.detail);
      if (typeof message !== "string") message = null;
      var redirected =
        xhr.responseURL &&
        new URL(xhr.responseURL, location.href).pathname !== new URL(item.url, location.href).pathname;
      if (xhr.status >= 200 && xhr.status < 300 && !redirected) {
        finish(true, xhr.status, message, json);
      } else if (redirected) {
        finish(false, 401, textForStatus(401), null);
      } else {
        finish(false, xhr.status, message || textForStatus(xhr.status), json);
      }
    });
    xhr.addEventListener("error", function () {
      finish(false, 0, textForStatus(0), null);
    });
    xhr.addEventListener("abort", function () {
      finish(false, 0, gettext("Cancelled."), null);
    });
    xhr.send(data);
  };

  /**
   * Section 7: the same file over tus (resumable). tus-js-client keeps the upload's URL in
   * localStorage under a fingerprint of case, kind, view, size, type and modification time
   * (never the file name: no patient data in localStorage), so after a dropped connection it
   * retries from the server's offset, and after a page reload choosing the same file again
   * resumes it. Metadata: case_id, kind, view, teeth (the widget's fields).
   */
  Widget.prototype.sendTus = function (item) {
    var self = this;
    var input = item.input;
    var caseId = this.attr(input, "data-case-id") || "";
    var deleteBase = this.attr(input, "data-upload-delete-base");
    var meta = { case_id: caseId };
    item.fields.forEach(function (p) {
      if (p[0] === "kind" || p[0] === "view" || p[0] === "teeth") meta[p[0]] = String(p[1]);
    });
    var handle = null;
    this.running += 1;
    this.settling = true;
    this.setState(item, "uploading");
    item.progress.value = 0;
    this.setStatus(item, "Uploading… 0%");

    var finish = function (ok, status, message, response) {
      if (item.xhr !== handle) return;
      item.xhr = null;
      self.running -= 1;
      if (ok) self.succeed(item, response);
      else self.fail(item, status, message, status !== 413 && status !== 415 && status !== 422);
      self.pump();
    };
    var upload = new window.tus.Upload(item.file, {
      endpoint: this.attr(input, "data-upload-tus"),
      metadata: meta,
      headers: { "x-csrftoken": this.csrf(input), Accept: "application/json" },
      chunkSize: 8 * 1024 * 1024,
      retryDelays: [0, 1000, 2000, 4000, 8000, 15000, 30000],
      storeFingerprintForResuming: true,
      removeFingerprintOnSuccess: true,
      fingerprint: function (file) {
        return Promise.resolve(["toothline-tus", caseId, meta.kind || "", meta.view || "",
                                file.size, file.type, file.lastModified].join("/"));
      },
      onProgress: function (sent, total) {
        if (item.xhr !== handle || !total) return;
        var pct = Math.min(100, Math.floor((sent / total) * 100));
        item.progress.value = pct;
        self.setStatus(item, pct >= 100 ? gettext("Processing…")
                                       : gettext("Uploading… %(percent)s", { percent: pct + "%" }));
      },
      onSuccess: function (payload) {
        var last = payload && payload.lastResponse;
        var id = last ? last.getHeader("Upload-Attachment-Id") : null;
        var base = "/api/v1/cases/" + caseId + "/attachments/" + id;
        finish(true, 204, null, id ? {
          id: id,
          message: "Uploaded",
          thumbnail_url: base + "/thumbnail",
          delete_url: deleteBase ? deleteBase + "/" + id : null
        } : { message: "Uploaded" });
      },
      onError: function (error) {
        var answer = error && error.originalResponse;
        var status = answer ? answer.getStatus() : 0;
        var message = null;
        try {
          var json = answer ? JSON.parse(answer.getBody() || "null") : null;
          message = json && (json.message || json.detail);
        } catch (e) {
          message = null;
        }
        if (typeof message !== "string") message = null;
        finish(false, status, message || textForStatus(status), null);
      }
    });
    handle = {
      abort: function () {
        upload.abort(false);
        finish(false, 0, gettext("Cancelled."), null);
      }
    };
    item.xhr = handle;
    upload.findPreviousUploads().then(function (previous) {
      if (previous.length) upload.resumeFromPreviousUpload(previous[0]);
      if (item.xhr === handle) upload.start();
    });
  };

  // THE one way the page waits for a thumbnail the server is still making (section 6).
  // The server answers 201 before the thumbnail exists (it is made in the background) and
  // the thumbnail URL says 202 until then: ask again each second, for a while. The 200 answer
  // itself is shown (as a blob: URL), so each thumbnail is fetched -- and audited as a
  // view -- once; the 202 answers are not audited.
  var THUMBNAIL_TRIES = 30;

  function whenThumbnailReady(url, show, triesLeft) {
    fetch(url, { credentials: "same-origin", cache: "no-store" }).then(function (answer) {
      if (answer.status === 200) {
        return answer.blob().then(function (data) { show(URL.createObjectURL(data)); });
      }
      if (answer.status === 202 && triesLeft > 0) {
        window.setTimeout(function () { whenThumbnailReady(url, show, triesLeft - 1); }, 1000);
      }
      return null;
    }).catch(function () {
      if (triesLeft > 0) {
        window.setTimeout(function () { whenThumbnailReady(url, show, triesLeft - 1); }, 2000);
      }
    });
  }

  // Server-rendered placeholders: <span data-thumbnail-wait="URL" data-thumbnail-link="URL"
  // data-thumbnail-alt="text">Preparing…</span> becomes <a href=link><img alt=text></a>.
  function waitForPlaceholders(scope) {
    var found = scope.querySelectorAll ? scope.querySelectorAll("[data-thumbnail-wait]") : [];
    Array.prototype.forEach.call(found, function (stand) {
      var url = stand.getAttribute("data-thumbnail-wait");
      stand.removeAttribute("data-thumbnail-wait"); // wait once per placeholder
      whenThumbnailReady(url, function (src) {
        var img = el("img");
        img.src = src;
        img.alt = stand.getAttribute("data-thumbnail-alt") || "";
        img.width = 160;
        img.height = 160;
        var link = stand.getAttribute("data-thumbnail-link");
        var node = img;
        if (link) {
          node = el("a");
          node.href = link;
          node.appendChild(img);
        }
        var busy = stand.closest("[aria-busy]");
        stand.replaceWith(node);
        if (busy && !busy.querySelector(".thumb-processing")) busy.removeAttribute("aria-busy");
      }, THUMBNAIL_TRIES);
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () { waitForPlaceholders(document); });
  } else {
    waitForPlaceholders(document);
  }
  document.addEventListener("htmx:load", function (event) { waitForPlaceholders(event.target); });

  Widget.prototype.succeed = function (item, response) {
    item.deleteUrl = response && typeof response.delete_url === "string" ? response.delete_url : null;
    this.setState(item, "done");
    item.progress.value = 100;
    var note = gettext(response && typeof response.message === "string" ? response.message
                                                                : "Uploaded");
    this.setStatus(item, "✓ " + note);
    if (response && typeof response.thumbnail_url === "string") {
      var img = item.node.querySelector("img.upload-thumb");
      var stand = item.node.querySelector(".upload-thumb-placeholder");
      if (!img && stand) {
        // a type the browser cannot draw (HEIC, DICOM): show the server's thumbnail instead
        img = el("img", "upload-thumb");
        img.alt = "";
        stand.replaceWith(img);
      }
      if (img) whenThumbnailReady(response.thumbnail_url, function (src) { img.src = src; },
                                  THUMBNAIL_TRIES);
    }
    this.announce(gettext("%(name)s: uploaded.", { name: item.file.name || gettext("File") }));
    this.emit("upload-done", { file: item.file, response: response });
  };

  Widget.prototype.fail = function (item, status, message, retryable) {
    item.retryable = retryable !== false;
    this.setState(item, "failed");
    this.setStatus(item, gettext("Failed: %(message)s", { message: message }));
    this.announce(gettext("%(name)s failed: %(message)s",
                          { name: item.file.name || gettext("File"), message: message }));
    this.emit("upload-failed", { file: item.file, status: status, message: message });
  };

  Widget.prototype.remove = function (item) {
    var index = this.items.indexOf(item);
    if (index === -1) return;
    var next = this.items[index + 1] || this.items[index - 1];
    if (item.xhr) {
      var xhr = item.xhr;
      item.xhr = null; // so its abort event is ignored
      this.running -= 1;
      xhr.abort();
    }
    this.items.splice(index, 1);
    if (item.previewUrl) URL.revokeObjectURL(item.previewUrl);
    item.node.remove();
    this.announce(gettext("%(name)s removed.", { name: item.file.name || gettext("File") }));
    this.emit("upload-removed", { file: item.file });
    var focusTarget = next && next.node.querySelector("button");
    if (focusTarget) focusTarget.focus();
    else if (item.input && item.input.isConnected) item.input.focus();
    this.pump();
  };

  Widget.prototype.deleteOnServer = function (item) {
    var self = this;
    var xhr = new XMLHttpRequest();
    xhr.open("DELETE", item.deleteUrl);
    xhr.setRequestHeader("x-csrftoken", this.csrf(item.input));
    xhr.setRequestHeader("Accept", "application/json");
    this.setStatus(item, "Removing…");
    xhr.addEventListener("load", function () {
      if ((xhr.status >= 200 && xhr.status < 300) || xhr.status === 404) self.remove(item);
      else self.setStatus(item, "Could not remove: " + textForStatus(xhr.status));
    });
    xhr.addEventListener("error", function () {
      self.setStatus(item, "Could not remove: " + textForStatus(0));
    });
    xhr.send();
  };

  Widget.prototype.submit = function () {
    var self = this;
    var queued = this.items.filter(function (i) {
      return i.state === "queued";
    });
    queued.forEach(function (i) {
      self.setState(i, "waiting");
      self.setStatus(i, "Waiting to upload…");
    });
    this.wantsNavigate = true;
    var busy = this.count("waiting") + this.count("uploading");
    if (busy) {
      this.settling = true;
      this.pump();
      return;
    }
    this.wantsNavigate = false;
    var target = this.root.getAttribute("data-upload-done-url");
    if (this.count("failed")) {
      this.announce("Some files failed. Retry or remove them first.");
      showFlash("error", gettext("Some files failed to upload. Retry or remove them first."));
    } else if (this.count("done") && target) {
      window.location.assign(target);
    } else if (!this.count("done")) {
      showFlash("info", gettext("Choose at least one file first."));
    }
  };

  function widgetFor(root) {
    var w = widgets.get(root);
    if (!w) {
      w = new Widget(root);
      widgets.set(root, w);
    }
    return w;
  }

  function rootOf(input) {
    var form = input.closest("form[data-upload-form]");
    if (form) return form;
    return input.hasAttribute("data-upload-url") ? input : null;
  }

  document.addEventListener("change", function (event) {
    var input = event.target;
    if (!(input instanceof HTMLInputElement) || input.type !== "file") return;
    var root = rootOf(input);
    if (!root || !input.files || !input.files.length) return;
    var files = Array.prototype.slice.call(input.files);
    widgetFor(root).add(input, files);
    input.value = ""; // the same file can be chosen again; a native submit carries no copy
  });

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.hasAttribute("data-upload-form")) return;
    if (event.defaultPrevented) return;
    event.preventDefault();
    widgetFor(form).submit();
  });

  document.addEventListener("click", function (event) {
    var b = event.target.closest && event.target.closest("button[data-upload-action]");
    var li = b && b.closest(".upload-item");
    var item = li && li.__uploadItem;
    if (!item) return;
    var w = item.widget;
    var action = b.getAttribute("data-upload-action");
    if (action === "cancel" && item.xhr) {
      item.xhr.abort();
    } else if (action === "retry" && item.state === "failed") {
      w.setState(item, "waiting");
      w.setStatus(item, "Waiting to upload…");
      w.settling = true;
      w.pump();
    } else if (action === "remove") {
      w.remove(item);
    } else if (action === "delete" && item.deleteUrl) {
      w.deleteOnServer(item);
    }
  });

  // Leaving the page would drop the uploads still running: ask first.
  window.addEventListener("beforeunload", function (event) {
    var running = false;
    busyWidgets.forEach(function (w) {
      if (w.root.isConnected) running = true;
    });
    if (running) {
      event.preventDefault();
      event.returnValue = "";
    }
  });

  // A small API for pages and tests.
  window.Toothline = { showFlash: showFlash, formatBytes: formatBytes };
})();

/*
 * FOCUS AFTER AN HTMX SWAP (WCAG 2.4.3 focus order, 3.3.1 error identification; issue 18).
 * After a swap settles, where does keyboard and screen-reader focus go?
 *   - swapped into a live region (role=status/alert, aria-live, e.g. the draft's save status):
 *     nowhere -- the region announces itself and the person keeps typing;
 *   - the new content has an error: to the first field with aria-invalid="true" (its
 *     aria-describedby reads the error out), else to the first [role=alert] / .form-error;
 *   - focus was lost (the focused element was swapped away, or nothing had focus after a
 *     click or submit): to the new content's first heading, else to the swapped element.
 * Polling and load-triggered swaps that did not take focus away move nothing. Elements that
 * are not focusable get tabindex="-1" (focusable by script only, not in the Tab order).
 */
(function () {
  "use strict";

  var USER_EVENTS = { submit: 1, click: 1, change: 1, keyup: 1, keydown: 1, input: 1 };

  function focusOn(node) {
    if (!node) return false;
    if (!node.matches("a[href], button, input, select, textarea, [tabindex]")) {
      node.setAttribute("tabindex", "-1");
    }
    node.focus({ preventScroll: false });
    return document.activeElement === node;
  }

  function inLiveRegion(node) {
    return !!(node && node.closest && node.closest('[aria-live], [role="status"], [role="alert"], [role="log"]'));
  }

  document.addEventListener("htmx:afterSettle", function (event) {
    var detail = event.detail || {};
    var target = detail.target || event.target;
    // an outerHTML swap replaced the target itself: its successor carries the same id
    if (target && !target.isConnected && target.id) target = document.getElementById(target.id);
    if (!target || !target.isConnected || inLiveRegion(target)) return;
    var trigger = detail.requestConfig && detail.requestConfig.triggeringEvent;
    var byPerson = !!(trigger && USER_EVENTS[trigger.type]);
    var active = document.activeElement;
    var lost = !active || active === document.body || !active.isConnected;
    if (!byPerson && !lost) return;
    var submitted = !!(trigger && trigger.type === "submit");
    var invalid = target.querySelector('[aria-invalid="true"]');
    var error = target.querySelector('[role="alert"], .form-error, .field-error');
    if ((submitted || lost) && (invalid || error)) {
      if (focusOn(invalid) || focusOn(error)) return;
    }
    if (!lost) return;
    var heading = target.matches("h1, h2, h3") ? target : target.querySelector("h1, h2, h3");
    focusOn(heading || target);
  });
})();
