/* The weld page: OpenSeadragon viewer with switchable layers, and the operator's review
 * (confirm / reject findings, add missed defects, export an annotations YAML).
 * No network: the image is a data URI, the viewer's script sits beside this page. */
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("weld-data").textContent);
  var STORE = "weld-anomaly-review:" + data.run;
  var viewer = null;

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text !== undefined) node.textContent = text;
    return node;
  }

  /* An outline as an SVG in its bounding box, so OpenSeadragon scales it with the image. */
  function outlineElement(f) {
    var div = el("div", {"class": "overlay finding conf-" + f.confidence, "data-finding": f.finding});
    var svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
    svg.setAttribute("viewBox", "0 0 " + f.width + " " + f.height);
    svg.setAttribute("preserveAspectRatio", "none");
    var path = document.createElementNS("http://www.w3.org/2000/svg", "path");
    path.setAttribute("d", f.outline.map(function (p, i) {
      return (i ? "L" : "M") + (p[0] - f.x) + " " + (p[1] - f.y);
    }).join(" ") + " Z");
    svg.appendChild(path);
    div.appendChild(svg);
    div.appendChild(el("span", {"class": "tag"}, String(f.finding)));
    return div;
  }

  function addOverlay(node, x, y, w, h) {
    viewer.addOverlay({element: node, location: viewer.viewport.imageToViewportRectangle(x, y, w, h)});
  }

  function drawLayers() {
    data.crops.forEach(function (c) {
      addOverlay(el("div", {"class": "overlay crop-box", "title": "crop " + c.name}), c.x, c.y, c.width, c.height);
    });
    data.annotations.forEach(function (a) {
      addOverlay(el("div", {"class": "overlay annotation sev-" + a.severity}), a.x, a.y, a.width, a.height);
    });
    data.findings.forEach(function (f) {
      addOverlay(outlineElement(f), f.x, f.y, f.width, f.height);
      var i = f.indication;  // the dark spot the finding is measured on
      if (i) addOverlay(el("div", {"class": "overlay indication conf-" + f.confidence, "title": "indication of finding " + f.finding}), i.x, i.y, i.width, i.height);
    });
  }

  function show(x, y, w, h) {
    if (!viewer) return;
    var pad = Math.max(w, h) * 0.25 + 24;
    viewer.viewport.fitBounds(viewer.viewport.imageToViewportRectangle(x - pad, y - pad, w + 2 * pad, h + 2 * pad));
  }

  function startViewer() {
    if (!window.OpenSeadragon) return;
    viewer = window.OpenSeadragon({
      element: document.getElementById("viewer"),
      tileSources: {type: "image", url: data.film, buildPyramid: true},
      drawer: "canvas",
      showNavigationControl: false,
      showNavigator: true,
      navigatorId: "navigator",  // below the viewer: it hides no corner of the film
      maxZoomPixelRatio: 12,
      visibilityRatio: 0.5,
      gestureSettingsMouse: {clickToZoom: false, dblClickToZoom: true},
      imageSmoothingEnabled: false
    });
    window.weldViewer = viewer;
    viewer.addHandler("open", function () {
      drawLayers();
      document.body.classList.add("viewer-ready");
    });
    viewer.addHandler("canvas-click", function (event) {
      if (!document.getElementById("mark-mode").checked || !event.quick) return;
      event.preventDefaultAction = true;
      var p = viewer.viewport.viewerElementToImageCoordinates(event.position);
      var size = Number(document.getElementById("missed-width").value) || 16;
      document.getElementById("missed-x").value = Math.max(0, Math.round(p.x - size / 2));
      document.getElementById("missed-y").value = Math.max(0, Math.round(p.y - size / 2));
    });
    document.getElementById("zoom-in").onclick = function () { viewer.viewport.zoomBy(1.6); viewer.viewport.applyConstraints(); };
    document.getElementById("zoom-out").onclick = function () { viewer.viewport.zoomBy(1 / 1.6); viewer.viewport.applyConstraints(); };
    document.getElementById("zoom-home").onclick = function () { viewer.viewport.goHome(); };
    document.getElementById("zoom-one").onclick = function () {
      viewer.viewport.zoomTo(viewer.viewport.imageToViewportZoom(1));
    };
  }

  /* Layer switches: a class on <body> hides a layer (see the page's style). */
  Array.prototype.forEach.call(document.querySelectorAll("input[data-layer]"), function (box) {
    box.addEventListener("change", function () {
      document.body.classList.toggle("hide-" + box.getAttribute("data-layer"), !box.checked);
    });
  });
  Array.prototype.forEach.call(document.querySelectorAll("[data-show]"), function (link) {
    link.addEventListener("click", function (event) {
      var f = data.findings[Number(link.getAttribute("data-show"))];
      event.preventDefault();
      show(f.x, f.y, f.width, f.height);
      document.getElementById("viewer").scrollIntoView({block: "nearest"});
    });
  });

  /* The review: kept in the browser's storage for this run, so one export holds every
   * weld reviewed; the page works (this weld only) where storage is not allowed. */
  function loadAll() {
    try { return JSON.parse(window.localStorage.getItem(STORE) || "{}"); } catch (e) { return {}; }
  }
  var all = loadAll();
  var mine = all[data.image] || {decisions: {}, missed: []};
  mine.when = mine.when || {};  // finding -> {by, at}: who decided, and when
  var REVIEWER = STORE + ":reviewer";
  var reviewerInput = document.getElementById("reviewer");
  try { reviewerInput.value = window.localStorage.getItem(REVIEWER) || ""; } catch (e) { /* none */ }
  reviewerInput.addEventListener("change", function () {
    try { window.localStorage.setItem(REVIEWER, reviewerInput.value.trim()); } catch (e) { /* none */ }
    render();
  });
  function stamp() { return {by: reviewerInput.value.trim(), at: new Date().toISOString()}; }
  function signed(who) {  // the YAML fields of who decided, and when
    return who ? ", reviewed_by: " + q(who.by || "unnamed") + ", reviewed_at: " + q(who.at) : "";
  }

  function save() {
    mine.findings = data.findings.map(function (f) {
      return {finding: f.finding, x: f.x, y: f.y, width: f.width, height: f.height};
    });
    all[data.image] = mine;
    try { window.localStorage.setItem(STORE, JSON.stringify(all)); } catch (e) { /* this weld only */ }
    render();
  }

  function q(text) { return JSON.stringify(String(text)); }  // a YAML double-quoted scalar

  function yamlText() {
    var lines = [
      "# Review exported from the weld-anomaly report of run " + data.run + ".",
      "# Confirmed findings and missed defects are defects (severity likely); rejected findings",
      "# are left out, so a weld whose findings were all rejected is listed as sound ([]).",
      "# A finding's box is the box of its flagged fragments: tighten it if you need exact sizes.",
      "# Use as data.annotations (merge it with your other annotations first).",
      "# Reviewer: " + (reviewerInput.value.trim() || "unnamed") + "; exported " + new Date().toISOString() + ".",
      "images:"
    ];
    Object.keys(all).sort().forEach(function (image) {
      var r = all[image], entries = [], notes = [];
      (r.findings || []).forEach(function (f) {
        var d = r.decisions[f.finding], who = (r.when || {})[f.finding];
        var box = "x: " + f.x + ", y: " + f.y + ", width: " + f.width + ", height: " + f.height;
        if (d === "confirmed") entries.push("    - {" + box + ", severity: likely, type: " + q("confirmed finding " + f.finding) + signed(who) + "}");
        else if (d === "rejected") notes.push("    # rejected finding " + f.finding + ": " + box + (who ? " by " + (who.by || "unnamed") + " at " + who.at : ""));
        else notes.push("    # not reviewed: finding " + f.finding + ": " + box);
      });
      r.missed.forEach(function (m) {
        entries.push("    - {x: " + m.x + ", y: " + m.y + ", width: " + m.width + ", height: " + m.height + ", severity: likely, type: \"missed defect\"" + signed(m.who) + "}");
      });
      if (!entries.length && !Object.keys(r.decisions).length) return;  // nothing reviewed
      lines.push("  " + q(image) + ":" + (entries.length ? "" : " []"));
      lines.push.apply(lines, entries.concat(notes));
    });
    return lines.join("\n") + "\n";
  }

  function render() {
    Array.prototype.forEach.call(document.querySelectorAll("input[data-decision]"), function (radio) {
      radio.checked = mine.decisions[radio.name.replace("decision-", "")] === radio.value;
    });
    var list = document.getElementById("missed-list");
    list.textContent = "";
    mine.missed.forEach(function (m, i) {
      var item = el("li", {}, "x " + m.x + ", y " + m.y + ", " + m.width + " × " + m.height + " px ");
      var remove = el("button", {type: "button"}, "remove");
      remove.onclick = function () { mine.missed.splice(i, 1); save(); };
      item.appendChild(remove);
      list.appendChild(item);
    });
    var reviewed = Object.keys(all).filter(function (k) {
      return Object.keys(all[k].decisions || {}).length || (all[k].missed || []).length;
    }).length;
    document.getElementById("review-status").textContent =
      Object.keys(mine.decisions).length + " of " + data.findings.length + " findings of this weld reviewed, " +
      mine.missed.length + " missed defect(s) added; " + reviewed + " weld(s) of this run in the export.";
    document.getElementById("review-yaml").value = yamlText();
  }

  Array.prototype.forEach.call(document.querySelectorAll("input[data-decision]"), function (radio) {
    radio.addEventListener("change", function () {
      mine.decisions[radio.name.replace("decision-", "")] = radio.value;
      mine.when[radio.name.replace("decision-", "")] = stamp();
      save();
    });
  });
  document.getElementById("missed-add").addEventListener("click", function () {
    var box = ["x", "y", "width", "height"].map(function (k) {
      return Math.round(Number(document.getElementById("missed-" + k).value));
    });
    var ok = box.every(function (v) { return isFinite(v) && v >= 0; }) && box[2] > 0 && box[3] > 0 &&
      box[0] + box[2] <= data.width && box[1] + box[3] <= data.height;
    document.getElementById("missed-error").textContent = ok ? "" :
      "The box must lie inside the image (" + data.width + " × " + data.height + " px) with a width and height of at least 1.";
    if (!ok) return;
    mine.missed.push({x: box[0], y: box[1], width: box[2], height: box[3], who: stamp()});
    save();
    if (viewer) addOverlay(el("div", {"class": "overlay missed"}), box[0], box[1], box[2], box[3]);
  });
  document.getElementById("review-export").addEventListener("click", function () {
    var blob = new Blob([yamlText()], {type: "application/x-yaml"});
    var link = el("a", {href: URL.createObjectURL(blob), download: "review-" + data.run + ".yaml"});
    document.body.appendChild(link);
    link.click();
    link.remove();
  });
  document.getElementById("review-clear").addEventListener("click", function () {
    mine = {decisions: {}, missed: []};
    save();
  });

  startViewer();
  render();
})();
