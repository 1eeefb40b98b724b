// Basir dashboard: draw a run's DAG with dagre as SVG, and recolour nodes from live events.
// Node colours are CSS classes (s-<state>), never inline styles, so the CSP stays strict.
(function () {
  "use strict";
  var SVG = "http://www.w3.org/2000/svg";
  var NODE_W = 150;
  var NODE_H = 44;
  var box = document.getElementById("dag");
  if (!box || !window.dagre) {
    return;
  }
  var url = box.getAttribute("data-graph-url");
  var nodes = {};
  var pending = null;

  function el(name, attrs) {
    var node = document.createElementNS(SVG, name);
    Object.keys(attrs).forEach(function (key) {
      node.setAttribute(key, attrs[key]);
    });
    return node;
  }

  function setState(id, status, label) {
    var node = nodes[id];
    if (!node) {
      return false;
    }
    node.group.setAttribute("class", "node s-" + status);
    node.group.setAttribute("data-status", status);
    if (label) {
      node.state.textContent = label;
    }
    return true;
  }

  function draw(data) {
    var g = new window.dagre.graphlib.Graph();
    var rtl = document.documentElement.dir === "rtl";
    g.setGraph({ rankdir: rtl ? "RL" : "LR", nodesep: 18, ranksep: 48, marginx: 8, marginy: 8 });
    g.setDefaultEdgeLabel(function () { return {}; });
    data.nodes.forEach(function (n) { g.setNode(n.id, { width: NODE_W, height: NODE_H }); });
    data.edges.forEach(function (e) { g.setEdge(e[0], e[1]); });
    window.dagre.layout(g);
    var size = g.graph();
    var svg = el("svg", {
      viewBox: "0 0 " + Math.ceil(size.width) + " " + Math.ceil(size.height),
      width: Math.ceil(size.width),
      height: Math.ceil(size.height),
      "class": "dag-svg"
    });
    g.edges().forEach(function (e) {
      var points = g.edge(e).points.map(function (p) { return p.x + "," + p.y; }).join(" ");
      svg.appendChild(el("polyline", { points: points, "class": "edge" }));
    });
    nodes = {};
    data.nodes.forEach(function (n) {
      var pos = g.node(n.id);
      var group = el("g", {
        "class": "node s-" + n.status,
        "data-task": n.id,
        "data-status": n.status,
        transform: "translate(" + (pos.x - NODE_W / 2) + "," + (pos.y - NODE_H / 2) + ")"
      });
      group.appendChild(el("rect", { width: NODE_W, height: NODE_H, rx: 6, ry: 6 }));
      var name = el("text", { x: NODE_W / 2, y: 18, "text-anchor": "middle", "class": "name" });
      name.textContent = n.id;
      var state = el("text", { x: NODE_W / 2, y: 35, "text-anchor": "middle", "class": "state" });
      state.textContent = n.label;
      group.appendChild(name);
      group.appendChild(state);
      svg.appendChild(group);
      nodes[n.id] = { group: group, state: state };
    });
    box.replaceChildren(svg);
  }

  function load() {
    pending = null;
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) { if (data) { draw(data); } });
  }

  function reloadSoon() {
    if (pending === null) {
      pending = window.setTimeout(load, 150);
    }
  }

  box.addEventListener("htmx:sseMessage", function (event) {
    var message = event.detail;
    if (!message || message.type !== "task") {
      if (message && message.type === "sync") { reloadSoon(); }
      return;
    }
    var data = JSON.parse(message.data);
    // A task the drawing does not have yet (a foreach instance, an added task): redraw.
    if (!setState(data.task, data.status, null)) {
      reloadSoon();
    } else {
      reloadLabelsSoon();
    }
  });
  document.body.addEventListener("resync", reloadSoon);

  // Labels are translated server-side: refresh them after a burst of changes.
  var labelTimer = null;
  function reloadLabelsSoon() {
    if (labelTimer !== null) { return; }
    labelTimer = window.setTimeout(function () {
      labelTimer = null;
      fetch(url, { credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (data) {
          if (!data) { return; }
          data.nodes.forEach(function (n) {
            if (!setState(n.id, n.status, n.label)) { reloadSoon(); }
          });
        });
    }, 300);
  }

  load();
})();
