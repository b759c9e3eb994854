/*
 * Toothline -- annotations and measurements in the dentist's viewer (templates/review/case.html,
 * docs/review.md "The workbench").
 *
 * An opened image whose link carries data-viewer-annotations="API URL" gets its drawings from
 * GET that URL and shows them in <svg id="viewer-overlay"> over the picture (viewer.js keeps the
 * layer on the picture's box with the same zoom and pan). While the case is yours to draw on
 * ("editable"), a tool button [data-annotate-tool=arrow|circle|freehand|text|measure] turns
 * dragging on the picture into a shape (a click for text); the shapes wait until "Save
 * annotation" POSTs them with the note and the two choices (claim attachment, patient's page).
 * Coordinates are fractions of the picture (0..1). The server checks every shape and works out
 * every length itself; the readout here is a preview until the answer comes back.
 *
 * No inline scripts or styles (CSP): attributes and the CSSOM only.
 */
(function () {
  "use strict";

  var SVG = "http://www.w3.org/2000/svg";
  var current = null;  // {url, width, height, calibration, editable}
  var pending = [];
  var drawing = null;

  function el(id) {
    return document.getElementById(id);
  }

  function csrf() {
    try {
      return JSON.parse(document.body.getAttribute("hx-headers") || "{}")["x-csrftoken"] || "";
    } catch (e) {
      return "";
    }
  }

  function status(text) {
    var out = el("annotation-status");
    if (out) out.textContent = text;
  }

  function size() {
    var img = el("viewer-image");
    return { w: (img && img.naturalWidth) || 1, h: (img && img.naturalHeight) || 1 };
  }

  function node(name, attrs, parent) {
    var n = document.createElementNS(SVG, name);
    for (var key in attrs) n.setAttribute(key, String(attrs[key]));
    if (parent) parent.appendChild(n);
    return n;
  }

  function lengthOf(shape) {
    if (!current) return "";
    var dx = (shape.to[0] - shape.from[0]) * current.width;
    var dy = (shape.to[1] - shape.from[1]) * current.height;
    var spacing = current.calibration && current.calibration.pixel_spacing;
    if (spacing) {
      var mm = Math.sqrt(Math.pow(dx * spacing[1], 2) + Math.pow(dy * spacing[0], 2));
      return (Math.round(mm * 100) / 100) + " mm";
    }
    return (Math.round(Math.sqrt(dx * dx + dy * dy) * 10) / 10) + " px";
  }

  function drawShape(group, shape) {
    var s = size();
    var X = function (p) { return p[0] * s.w; };
    var Y = function (p) { return p[1] * s.h; };
    var stroke = { stroke: "#ffc400", "stroke-width": 3, fill: "none",
      "vector-effect": "non-scaling-stroke" };
    if (shape.type === "arrow" || shape.type === "measure") {
      var line = node("line", Object.assign({ x1: X(shape.from), y1: Y(shape.from),
        x2: X(shape.to), y2: Y(shape.to), "data-shape": shape.type }, stroke), group);
      if (shape.type === "arrow") line.setAttribute("marker-end", "url(#viewer-arrowhead)");
      else {
        var label = shape.length !== undefined ? shape.length + " " + shape.unit : lengthOf(shape);
        var t = node("text", { x: (X(shape.from) + X(shape.to)) / 2,
          y: (Y(shape.from) + Y(shape.to)) / 2 - 6, class: "viewer-label",
          "font-size": Math.max(12, s.w / 40) }, group);
        t.textContent = label;
      }
    } else if (shape.type === "circle") {
      node("circle", Object.assign({ cx: X(shape.center), cy: Y(shape.center),
        r: shape.radius * s.w, "data-shape": "circle" }, stroke), group);
    } else if (shape.type === "freehand") {
      node("polyline", Object.assign({ points: shape.points.map(function (p) {
        return X(p) + "," + Y(p);
      }).join(" "), "data-shape": "freehand" }, stroke), group);
    } else if (shape.type === "text") {
      var text = node("text", { x: X(shape.at), y: Y(shape.at), class: "viewer-label",
        "data-shape": "text", "font-size": Math.max(12, s.w / 40) }, group);
      text.textContent = shape.text;
    }
  }

  function render(saved) {
    var svg = el("viewer-overlay");
    if (!svg) return;
    var s = size();
    svg.setAttribute("viewBox", "0 0 " + s.w + " " + s.h);
    var layers = svg.querySelectorAll("g[data-layer]");
    for (var i = 0; i < layers.length; i++) layers[i].remove();
    (saved || []).forEach(function (a, index) {
      var g = node("g", { "data-layer": "saved", "data-annotation": a.lineage_id }, svg);
      a.shapes.forEach(function (shape) { drawShape(g, shape); });
      var first = a.shapes[0];
      var at = first.from || first.center || first.at || (first.points && first.points[0]);
      if (at) {
        var n = node("text", { x: at[0] * s.w + 6, y: at[1] * s.h + 18, class: "viewer-label",
          "font-size": Math.max(12, s.w / 40) }, g);
        n.textContent = String(index + 1);
      }
    });
    var p = node("g", { "data-layer": "pending" }, svg);
    pending.forEach(function (shape) { drawShape(p, shape); });
    if (drawing && drawing.shape) drawShape(p, drawing.shape);
  }

  function list(saved) {
    var ul = el("annotation-list");
    if (!ul) return;
    ul.textContent = "";
    (saved || []).forEach(function (a, index) {
      var li = document.createElement("li");
      var kinds = a.shapes.map(function (s) { return s.type; }).join(", ");
      var measures = a.shapes.filter(function (s) { return s.type === "measure"; })
        .map(function (s) { return s.length + " " + s.unit + " (calibration: " + s.calibration + ")"; });
      li.textContent = (index + 1) + ". " + kinds + (a.note ? ": " + a.note : "") +
        (measures.length ? " · " + measures.join(", ") : "") +
        (a.include_in_claim ? " · in the claim attachment" : "") +
        (a.show_to_patient ? " · shown to the patient" : "") + " · v" + a.version;
      li.setAttribute("data-annotation", a.lineage_id);
      ul.appendChild(li);
    });
  }

  function load() {
    if (!current) return;
    fetch(current.url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : Promise.reject(r.status); })
      .then(function (body) {
        current.calibration = body.calibration;
        current.editable = body.editable;
        current.saved = body.annotations;
        var tools = el("annotation-tools");
        if (tools) tools.hidden = !body.editable;
        var cal = el("measure-calibration");
        if (cal) cal.textContent = "calibration: " + body.calibration.calibration;
        list(body.annotations);
        render(body.annotations);
        var panel = el("annotation-panel");
        if (panel) panel.dataset.loaded = "1";
      })
      .catch(function () { status("Annotations could not be loaded."); });
  }

  function setTool(name) {
    var dialog = el("viewer");
    if (!dialog) return;
    var same = dialog.dataset.tool === name;
    dialog.dataset.tool = same ? "" : name;
    var buttons = document.querySelectorAll("[data-annotate-tool]");
    for (var i = 0; i < buttons.length; i++) {
      var on = !same && buttons[i].getAttribute("data-annotate-tool") === name;
      buttons[i].setAttribute("aria-pressed", on ? "true" : "false");
    }
  }

  function point(event) {
    var img = el("viewer-image");
    var r = img.getBoundingClientRect();
    var x = (event.clientX - r.left) / r.width;
    var y = (event.clientY - r.top) / r.height;
    return [Math.round(Math.max(0, Math.min(1, x)) * 100000) / 100000,
      Math.round(Math.max(0, Math.min(1, y)) * 100000) / 100000];
  }

  function save() {
    if (!current || !pending.length) { status("Draw something first."); return; }
    var body = {
      shapes: pending,
      note: (el("annotation-note") || {}).value || "",
      include_in_claim: !!(el("annotation-claim") || {}).checked,
      show_to_patient: !!(el("annotation-patient") || {}).checked,
    };
    fetch(current.url, { method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "x-csrftoken": csrf() },
      body: JSON.stringify(body) })
      .then(function (r) { return r.json().then(function (j) { return [r.status, j]; }); })
      .then(function (answer) {
        if (answer[0] !== 201) { status(answer[1].detail || answer[1].message || "Not saved."); return; }
        pending = [];
        var note = el("annotation-note");
        if (note) note.value = "";
        var measured = answer[1].shapes.filter(function (s) { return s.type === "measure"; });
        if (measured.length) {
          var m = measured[measured.length - 1];
          var out = el("measure-readout");
          if (out) out.textContent = m.length + " " + m.unit;
        }
        status("Annotation saved (version " + answer[1].version + ").");
        load();
      })
      .catch(function () { status("Not saved: the connection failed."); });
  }

  document.addEventListener("toothline:viewer-open", function (event) {
    var link = event.detail.link;
    var url = link.getAttribute("data-viewer-annotations");
    var panel = el("annotation-panel");
    pending = [];
    drawing = null;
    setTool("");
    var out = el("measure-readout");
    if (out) out.textContent = "";
    status("");
    if (panel) { panel.hidden = !url; panel.dataset.loaded = ""; }
    if (!url) { current = null; render([]); list([]); return; }
    current = { url: url, width: Number(link.getAttribute("data-viewer-width")) || size().w,
      height: Number(link.getAttribute("data-viewer-height")) || size().h };
    var img = el("viewer-image");
    if (img && img.complete && img.naturalWidth) load();
    else if (img) img.addEventListener("load", load, { once: true });
  });

  document.addEventListener("click", function (event) {
    var target = event.target instanceof Element ? event.target : null;
    if (!target) return;
    var tool = target.closest("[data-annotate-tool]");
    if (tool) { setTool(tool.getAttribute("data-annotate-tool")); return; }
    var action = target.closest("[data-annotate-action]");
    if (!action) return;
    var name = action.getAttribute("data-annotate-action");
    if (name === "save") save();
    else if (name === "discard") { pending = []; render(current && current.saved); status(""); }
  });

  document.addEventListener("pointerdown", function (event) {
    var dialog = el("viewer");
    var stage = event.target instanceof Element && event.target.closest("#viewer-stage");
    if (!stage || !dialog || !dialog.dataset.tool || !current || !current.editable) return;
    event.preventDefault();
    var tool = dialog.dataset.tool;
    var p = point(event);
    if (tool === "text") {
      var words = ((el("annotation-text") || {}).value || "").trim();
      if (!words) { status("Type the text first, then click where it goes."); return; }
      pending.push({ type: "text", at: p, text: words });
      render(current.saved);
      return;
    }
    drawing = { tool: tool, start: p, id: event.pointerId, points: [p], shape: null };
    stage.setPointerCapture(event.pointerId);
  });

  document.addEventListener("pointermove", function (event) {
    if (!drawing || drawing.id !== event.pointerId) return;
    var p = point(event);
    if (drawing.tool === "freehand") {
      drawing.points.push(p);
      if (drawing.points.length > 500) drawing.points.splice(1, 1);
      drawing.shape = { type: "freehand", points: drawing.points.slice() };
    } else if (drawing.tool === "circle") {
      var s = size();
      var dx = (p[0] - drawing.start[0]) * s.w;
      var dy = (p[1] - drawing.start[1]) * s.h;
      var r = Math.sqrt(dx * dx + dy * dy) / s.w;
      drawing.shape = { type: "circle", center: drawing.start,
        radius: Math.max(0.001, Math.min(1, Math.round(r * 100000) / 100000)) };
    } else {
      drawing.shape = { type: drawing.tool, from: drawing.start, to: p };
      if (drawing.tool === "measure") {
        var out = el("measure-readout");
        if (out) out.textContent = lengthOf(drawing.shape);
      }
    }
    render(current && current.saved);
  });

  function finish(event) {
    if (!drawing || drawing.id !== event.pointerId) return;
    var shape = drawing.shape;
    drawing = null;
    if (shape && (shape.type !== "freehand" || shape.points.length >= 2)) pending.push(shape);
    render(current && current.saved);
    status(pending.length + " shape(s) not saved yet.");
  }
  document.addEventListener("pointerup", finish);
  document.addEventListener("pointercancel", finish);
})();
