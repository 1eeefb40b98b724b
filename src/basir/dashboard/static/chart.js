// Basir dashboard: the overview's chart of runs finished per interval, drawn with uPlot and
// re-drawn (debounced) when the page's live stream says a run changed.
(function () {
  "use strict";
  var box = document.getElementById("throughput");
  if (!box || !window.uPlot) {
    return;
  }
  var plot = null;
  var timer = null;

  function width() {
    return Math.max(280, box.clientWidth);
  }

  function draw(data) {
    var columns = [data.time, data.succeeded, data.failed];
    if (plot) {
      plot.setData(columns);
      return;
    }
    var rtl = document.documentElement.dir === "rtl";
    plot = new window.uPlot({
      width: width(),
      height: 220,
      tzDate: function (ts) { return window.uPlot.tzDate(new Date(ts * 1e3), "Etc/UTC"); },
      scales: { x: { time: true, dir: rtl ? -1 : 1 } },
      axes: [
        { label: box.getAttribute("data-label-time"), side: 2 },
        { label: box.getAttribute("data-label-runs"), side: rtl ? 1 : 3 }
      ],
      series: [
        { label: box.getAttribute("data-label-time") },
        { label: box.getAttribute("data-label-succeeded"), stroke: "#1b6e2e", fill: "rgba(27,110,46,0.12)" },
        { label: box.getAttribute("data-label-failed"), stroke: "#a61b1b", fill: "rgba(166,27,27,0.12)" }
      ]
    }, columns, box);
  }

  function load() {
    timer = null;
    fetch(box.getAttribute("data-url"), { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) { if (data) { draw(data); } });
  }

  box.addEventListener("htmx:sseMessage", function () {
    if (timer === null) {
      timer = window.setTimeout(load, 1000);
    }
  });
  window.addEventListener("resize", function () {
    if (plot) { plot.setSize({ width: width(), height: 220 }); }
  });
  load();
})();
