// Basir dashboard: draw a run's DAG with dagre as SVG, and recolour nodes from live events.
// Node colours are CSS classes (s-<state>), never inline styles, so the CSP stays strict; each
// node also says its state in words (colour is never the only cue).
// Big runs: the instances of a `foreach` are collapsed into one group node (with counts per
// state) until expanded; the toolbar zooms, fits and searches (a match inside a collapsed group
// expands it), so a 1,000-task run stays usable.
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
  var text = {
    items: box.getAttribute("data-items") || "{count}",
    expand: box.getAttribute("data-expand") || "+",
    collapse: box.getAttribute("data-collapse") || "-",
    found: box.getAttribute("data-found") || "{count}",
    none: box.getAttribute("data-none") || ""
  };
  var data = null;          // the last graph fetched: {nodes, edges}
  var byId = {};            // id -> node of `data`
  var drawn = {};           // id -> {group, state} of the nodes on screen
  var expanded = {};        // parent id -> true when its instances are shown
  var expandAll = false;
  var scale = 1;
  var size = { width: 0, height: 0 };
  var svg = null;
  var pending = null;

  function el(name, attrs) {
    var node = document.createElementNS(SVG, name);
    Object.keys(attrs).forEach(function (key) {
      node.setAttribute(key, attrs[key]);
    });
    return node;
  }

  function fill(template, count) {
    return template.replace("{count}", String(count));
  }

  function isOpen(parent) {
    return expandAll || expanded[parent] === true;
  }

  // The graph on screen: instances of collapsed parents become one "<parent>[*]" group node.
  function view() {
    var nodes = [];
    var groups = {};
    var where = {};
    data.nodes.forEach(function (n) {
      if (n.parent && byId[n.parent] && !isOpen(n.parent)) {
        var gid = n.parent + "[*]";
        var group = groups[gid];
        if (!group) {
          group = groups[gid] = { id: gid, group: n.parent, counts: {}, size: 0, status: "pending" };
          nodes.push(group);
        }
        group.counts[n.status] = (group.counts[n.status] || 0) + 1;
        group.size += 1;
        where[n.id] = gid;
      } else {
        nodes.push(n);
        where[n.id] = n.id;
      }
    });
    Object.keys(groups).forEach(function (gid) { groups[gid].status = groupStatus(groups[gid]); });
    var seen = {};
    var edges = [];
    data.edges.forEach(function (e) {
      var a = where[e[0]];
      var b = where[e[1]];
      var key = a + "\u0000" + b;
      if (a && b && a !== b && !seen[key]) {
        seen[key] = true;
        edges.push([a, b]);
      }
    });
    return { nodes: nodes, edges: edges, where: where };
  }

  // A group's state: any failure, else anything running, else all alike, else pending.
  function groupStatus(group) {
    var order = ["failed", "upstream_failed", "running", "retrying", "queued", "cancelled"];
    for (var i = 0; i < order.length; i += 1) {
      if (group.counts[order[i]]) { return order[i]; }
    }
    var states = Object.keys(group.counts);
    return states.length === 1 ? states[0] : "pending";
  }

  function groupLabel(group) {
    var done = group.counts.succeeded || 0;
    return fill(text.items, group.size) + " · ✓ " + done;
  }

  function setState(id, status, label) {
    var node = drawn[id];
    if (!node) {
      return false;
    }
    node.group.setAttribute("class", "node s-" + status + (node.isGroup ? " group" : ""));
    node.group.setAttribute("data-status", status);
    if (label) {
      node.state.textContent = label;
    }
    node.title.textContent = node.name + " · " + (label || node.state.textContent);
    return true;
  }

  function applyScale() {
    if (!svg) { return; }
    svg.setAttribute("width", Math.ceil(size.width * scale));
    svg.setAttribute("height", Math.ceil(size.height * scale));
  }

  function draw() {
    var shown = view();
    var g = new window.dagre.graphlib.Graph();
    var rtl = document.documentElement.dir === "rtl";
    g.setGraph({ rankdir: rtl ? "RL" : "LR", nodesep: 18, ranksep: 48, marginx: 8, marginy: 8 });
    g.setDefaultEdgeLabel(function () { return {}; });
    shown.nodes.forEach(function (n) { g.setNode(n.id, { width: NODE_W, height: NODE_H }); });
    shown.edges.forEach(function (e) { g.setEdge(e[0], e[1]); });
    window.dagre.layout(g);
    size = { width: Math.ceil(g.graph().width), height: Math.ceil(g.graph().height) };
    svg = el("svg", { viewBox: "0 0 " + size.width + " " + size.height, "class": "dag-svg", role: "group" });
    g.edges().forEach(function (e) {
      var points = g.edge(e).points.map(function (p) { return p.x + "," + p.y; }).join(" ");
      svg.appendChild(el("polyline", { points: points, "class": "edge", "aria-hidden": "true" }));
    });
    drawn = {};
    shown.nodes.forEach(function (n) {
      var pos = g.node(n.id);
      var isGroup = n.group !== undefined;
      var node = el("g", {
        "class": "node s-" + n.status + (isGroup ? " group" : ""),
        "data-task": n.id,
        "data-status": n.status,
        transform: "translate(" + (pos.x - NODE_W / 2) + "," + (pos.y - NODE_H / 2) + ")"
      });
      var title = el("title", {});
      node.appendChild(title);
      node.appendChild(el("rect", { width: NODE_W, height: NODE_H, rx: isGroup ? 2 : 6, ry: isGroup ? 2 : 6 }));
      var name = el("text", { x: NODE_W / 2, y: 18, "text-anchor": "middle", "class": "name", direction: "ltr" });
      name.textContent = n.id.length > 22 ? n.id.slice(0, 21) + "…" : n.id;
      var state = el("text", { x: NODE_W / 2, y: 35, "text-anchor": "middle", "class": "state" });
      state.textContent = isGroup ? groupLabel(n) : n.label;
      node.appendChild(name);
      node.appendChild(state);
      if (isGroup || (byId[n.id] && hasInstances(n.id))) {
        // Keyboard and pointer: a group (or an expanded parent) toggles its instances.
        var parent = isGroup ? n.group : n.id;
        node.setAttribute("tabindex", "0");
        node.setAttribute("role", "button");
        node.setAttribute("aria-expanded", isOpen(parent) ? "true" : "false");
        node.setAttribute("data-toggle", parent);
      }
      svg.appendChild(node);
      drawn[n.id] = { group: node, state: state, title: title, name: n.id, isGroup: isGroup };
      title.textContent = n.id + " · " + state.textContent;
    });
    applyScale();
    box.replaceChildren(svg);
    search(false);
  }

  var parents = {};
  function hasInstances(id) {
    return parents[id] === true;
  }

  function accept(graph) {
    data = graph;
    byId = {};
    parents = {};
    graph.nodes.forEach(function (n) { byId[n.id] = n; if (n.parent) { parents[n.parent] = true; } });
    var expandButton = document.getElementById("dag-expand");
    if (expandButton) { expandButton.hidden = Object.keys(parents).length === 0; }
    draw();
  }

  function load() {
    pending = null;
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (graph) { if (graph) { accept(graph); } });
  }

  function reloadSoon() {
    if (pending === null) {
      pending = window.setTimeout(load, 150);
    }
  }

  function toggle(parent) {
    expanded[parent] = !isOpen(parent);
    if (expandAll && !expanded[parent]) {
      expandAll = false;
      document.getElementById("dag-expand").setAttribute("aria-pressed", "false");
      Object.keys(parents).forEach(function (p) { expanded[p] = p !== parent; });
    }
    draw();
    var again = svg.querySelector('[data-toggle="' + CSS.escape(parent) + '"]');
    if (again) { again.focus(); }
  }

  box.addEventListener("click", function (event) {
    var target = event.target.closest ? event.target.closest("[data-toggle]") : null;
    if (target) { toggle(target.getAttribute("data-toggle")); }
  });
  box.addEventListener("keydown", function (event) {
    var target = event.target.closest ? event.target.closest("[data-toggle]") : null;
    if (target && (event.key === "Enter" || event.key === " ")) {
      event.preventDefault();
      toggle(target.getAttribute("data-toggle"));
    }
  });

  // Search: highlight matching nodes, expand the groups holding matches, scroll to the first.
  var searchBox = document.getElementById("dag-search");
  var found = document.getElementById("dag-found");
  function search(scroll) {
    if (!searchBox || !data) { return; }
    var query = searchBox.value.trim().toLowerCase();
    Object.keys(drawn).forEach(function (id) { drawn[id].group.classList.remove("match"); });
    if (!query) { found.textContent = ""; return; }
    var hits = data.nodes.filter(function (n) { return n.id.toLowerCase().indexOf(query) !== -1; });
    var hidden = hits.filter(function (n) { return !drawn[n.id] && n.parent && !isOpen(n.parent); });
    if (hidden.length && scroll) {
      hidden.forEach(function (n) { expanded[n.parent] = true; });
      draw();
      return search(scroll);
    }
    hits.forEach(function (n) { if (drawn[n.id]) { drawn[n.id].group.classList.add("match"); } });
    found.textContent = hits.length ? fill(text.found, hits.length) : text.none;
    if (scroll && hits.length && drawn[hits[0].id]) {
      drawn[hits[0].id].group.scrollIntoView({ block: "center", inline: "center" });
    }
  }
  if (searchBox) {
    var searchTimer = null;
    searchBox.addEventListener("input", function () {
      window.clearTimeout(searchTimer);
      searchTimer = window.setTimeout(function () { search(true); }, 200);
    });
  }

  function zoom(factor) {
    scale = Math.min(3, Math.max(0.1, scale * factor));
    applyScale();
  }
  function bind(id, handler) {
    var button = document.getElementById(id);
    if (button) { button.addEventListener("click", handler); }
  }
  bind("dag-zoom-in", function () { zoom(1.25); });
  bind("dag-zoom-out", function () { zoom(0.8); });
  bind("dag-fit", function () {
    if (size.width) {
      var high = Math.max(120, window.innerHeight * 0.7 - 8);
      scale = Math.min(1, (box.clientWidth - 4) / size.width, high / size.height);
      applyScale();
    }
  });
  bind("dag-expand", function () {
    expandAll = !expandAll;
    if (!expandAll) { expanded = {}; }
    document.getElementById("dag-expand").setAttribute("aria-pressed", expandAll ? "true" : "false");
    if (data) { draw(); }
  });

  box.addEventListener("htmx:sseMessage", function (event) {
    var message = event.detail;
    if (!message || message.type !== "task") {
      if (message && message.type === "sync") { reloadSoon(); }
      return;
    }
    var change = JSON.parse(message.data);
    var known = byId[change.task];
    if (!known) {
      reloadSoon();  // a task the drawing does not have yet (a foreach instance, an added task)
      return;
    }
    known.status = change.status;
    if (drawn[change.task]) {
      setState(change.task, change.status, null);
      reloadLabelsSoon();
    } else {
      regroupSoon();  // inside a collapsed group: recount it
    }
  });
  document.body.addEventListener("resync", reloadSoon);

  // A burst of instance changes: recount the groups once.
  var regroupTimer = null;
  function regroupSoon() {
    if (regroupTimer !== null) { return; }
    regroupTimer = window.setTimeout(function () {
      regroupTimer = null;
      var shown = view();
      shown.nodes.forEach(function (n) {
        if (n.group !== undefined) { setState(n.id, n.status, groupLabel(n)); }
      });
    }, 200);
  }

  // Labels are translated server-side: refresh them after a burst of changes.
  var labelTimer = null;
  function reloadLabelsSoon() {
    if (labelTimer !== null) { return; }
    labelTimer = window.setTimeout(function () {
      labelTimer = null;
      fetch(url, { credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (graph) {
          if (!graph) { return; }
          graph.nodes.forEach(function (n) {
            if (byId[n.id]) { byId[n.id].status = n.status; byId[n.id].label = n.label; }
            if (!byId[n.id] || (drawn[n.id] && !setState(n.id, n.status, n.label))) { reloadSoon(); }
          });
          regroupSoon();
        });
    }, 300);
  }

  load();
})();
