/*
 * Toothline -- photo quality check before sending (issue 19).
 *
 * A file input with data-quality-check is checked before the upload widget (app.js) sees
 * the chosen files: each picture is drawn on a canvas scaled to the same long side as the
 * server's check (storage/media/quality.py), turned into Rec. 601 luminance and scored the
 * same way -- variance of the 3x3 Laplacian [0,1,0; 1,-4,1; 0,1,0] (sharpness), mean
 * luminance and the share of pixels clipped dark/bright (exposure), the original's size
 * (resolution). The thresholds are NOT written here: the page renders them from the Python
 * constants into <template id="quality-check" data-quality-thresholds="{...}">, together
 * with the messages (so they are translated with the page) and the two button labels.
 *
 * A picture with a problem shows "This photo looks blurry -- retake, or send anyway" next to
 * the input: "Retake" drops this choice and opens the camera/picker again, "Send anyway"
 * hands the files to the upload widget as if nothing had happened. A file the browser
 * cannot decode (HEIC on most browsers) is not checked: the server scores it anyway.
 *
 * How it stops app.js: a capture-phase "change" listener on document runs before app.js's
 * bubbling one; it stops the event, checks, and then dispatches a fresh "change" that it
 * lets through (input.__qualityChecked).
 */
(function () {
  "use strict";
  if (window.ToothlineQuality) return; // loaded again by an htmx swap: one listener is enough

  function config() {
    var t = document.getElementById("quality-check");
    if (!t) return null;
    try {
      return { node: t, thresholds: JSON.parse(t.getAttribute("data-quality-thresholds")) };
    } catch (e) {
      return null;
    }
  }

  function decode(file) {
    if (window.createImageBitmap) {
      return createImageBitmap(file).then(function (bitmap) {
        return { source: bitmap, width: bitmap.width, height: bitmap.height };
      });
    }
    return new Promise(function (resolve, reject) {
      var url = URL.createObjectURL(file);
      var img = new Image();
      img.onload = function () {
        URL.revokeObjectURL(url);
        resolve({ source: img, width: img.naturalWidth, height: img.naturalHeight });
      };
      img.onerror = function () {
        URL.revokeObjectURL(url);
        reject(new Error("cannot decode"));
      };
      img.src = url;
    });
  }

  /** Scores of one decoded picture: the same as storage.media.quality.assess. */
  function score(picture, t) {
    var longSide = t.analysis_long_side;
    var scale = Math.min(1, longSide / Math.max(picture.width, picture.height));
    var w = Math.max(1, Math.round(picture.width * scale));
    var h = Math.max(1, Math.round(picture.height * scale));
    var canvas = document.createElement("canvas");
    canvas.width = w;
    canvas.height = h;
    var ctx = canvas.getContext("2d", { willReadFrequently: true });
    ctx.imageSmoothingEnabled = true;
    ctx.imageSmoothingQuality = "high";
    ctx.drawImage(picture.source, 0, 0, w, h);
    var rgba = ctx.getImageData(0, 0, w, h).data;
    var gray = new Float64Array(w * h);
    var sum = 0, dark = 0, bright = 0;
    for (var i = 0, p = 0; i < gray.length; i++, p += 4) {
      var v = Math.round((rgba[p] * 299 + rgba[p + 1] * 587 + rgba[p + 2] * 114) / 1000);
      gray[i] = v;
      sum += v;
      if (v <= t.dark_level) dark++;
      if (v >= t.bright_level) bright++;
    }
    var n = 0, mean = 0, m2 = 0;
    for (var y = 1; y < h - 1; y++) {
      for (var x = 1; x < w - 1; x++) {
        var c = y * w + x;
        var lap = gray[c - w] + gray[c + w] + gray[c - 1] + gray[c + 1] - 4 * gray[c];
        n++;
        var d = lap - mean; // Welford: the variance in one pass
        mean += d / n;
        m2 += d * (lap - mean);
      }
    }
    var q = {
      sharpness: n ? m2 / n : 0,
      mean_luminance: gray.length ? sum / gray.length : 0,
      dark_share: gray.length ? dark / gray.length : 0,
      bright_share: gray.length ? bright / gray.length : 0,
      width: picture.width,
      height: picture.height
    };
    q.problems = verdict(q, t);
    return q;
  }

  function verdict(q, t) {
    var found = [];
    if (q.mean_luminance < t.min_mean_luminance || q.dark_share > t.max_clipped_share) {
      found.push("too_dark");
    } else if (q.mean_luminance > t.max_mean_luminance || q.bright_share > t.max_clipped_share) {
      found.push("too_bright");
    } else if (q.sharpness < t.min_sharpness) {
      found.push("blurry");
    }
    if (Math.max(q.width, q.height) < t.min_long_side ||
        Math.min(q.width, q.height) < t.min_short_side) {
      found.push("low_resolution");
    }
    return found;
  }

  function check(file, t) {
    if (!/^image\//.test(file.type)) return Promise.resolve(null);
    return decode(file).then(
      function (picture) {
        var q = score(picture, t);
        if (picture.source.close) picture.source.close();
        return q;
      },
      function () {
        return null;
      }
    );
  }

  function clearWarning(input) {
    var old = input.__qualityWarning;
    if (old && old.parentNode) old.parentNode.removeChild(old);
    input.__qualityWarning = null;
  }

  function text(cfg, selector, fallback) {
    var node = cfg.node.content.querySelector(selector);
    return node ? node.textContent.trim() : fallback;
  }

  function warn(input, cfg, problem, files) {
    clearWarning(input);
    var box = document.createElement("div");
    box.className = "quality-warning";
    box.setAttribute("role", "alert");
    box.setAttribute("data-quality-problem", problem);
    var p = document.createElement("p");
    p.textContent = text(cfg, '[data-problem="' + problem + '"]', problem);
    box.appendChild(p);
    var actions = document.createElement("div");
    actions.className = "quality-actions";
    var retake = document.createElement("button");
    retake.type = "button";
    retake.className = "btn btn-primary";
    retake.setAttribute("data-quality-action", "retake");
    retake.textContent = text(cfg, "[data-retake]", "Retake");
    var send = document.createElement("button");
    send.type = "button";
    send.className = "btn btn-secondary";
    send.setAttribute("data-quality-action", "send");
    send.textContent = text(cfg, "[data-send-anyway]", "Send anyway");
    actions.appendChild(retake);
    actions.appendChild(send);
    box.appendChild(actions);
    retake.addEventListener("click", function () {
      clearWarning(input);
      input.value = "";
      input.click();
    });
    send.addEventListener("click", function () {
      clearWarning(input);
      pass(input, files);
    });
    input.insertAdjacentElement("afterend", box);
    input.__qualityWarning = box;
    retake.focus();
  }

  /** Hand the files to the upload widget: a fresh change event that this file lets through. */
  function pass(input, files) {
    if (files && window.DataTransfer && input.files !== files) {
      var dt = new DataTransfer();
      Array.prototype.forEach.call(files, function (f) { dt.items.add(f); });
      input.files = dt.files;
    }
    input.__qualityChecked = true;
    input.dispatchEvent(new Event("change", { bubbles: true }));
  }

  document.addEventListener(
    "change",
    function (event) {
      var input = event.target;
      if (!(input instanceof HTMLInputElement) || input.type !== "file") return;
      if (!input.hasAttribute("data-quality-check")) return;
      if (input.__qualityChecked) {
        input.__qualityChecked = false;
        return; // checked already: app.js takes it from here
      }
      var cfg = config();
      if (!cfg || !input.files || !input.files.length) return;
      event.stopImmediatePropagation();
      var files = Array.prototype.slice.call(input.files);
      clearWarning(input);
      input.setAttribute("aria-busy", "true");
      Promise.all(files.map(function (f) { return check(f, cfg.thresholds); })).then(
        function (results) {
          input.removeAttribute("aria-busy");
          var first = null;
          results.forEach(function (q) {
            if (q && q.problems.length && !first) first = q;
          });
          input.__qualityScores = results;
          if (first) warn(input, cfg, first.problems[0], input.files);
          else pass(input, null);
        }
      );
    },
    true
  );

  window.ToothlineQuality = { score: score, verdict: verdict };
})();
