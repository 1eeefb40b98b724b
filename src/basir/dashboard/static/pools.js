// Basir dashboard: the resources page's chart of each pool's use (percent of its capacity)
// per minute of the last hour, from the metric history; re-drawn (debounced) when tasks change.
(function () {
  "use strict";
  var box = document.getElementById("pool-chart");
  if (!box || !window.uPlot) {
    return;
  }
  var COLOURS = ["#1d5fbf", "#1b6e2e", "#a15c00", "#7a2fa0", "#a61b1b", "#00707a"];
  var plot = null;
  var shown = "";
  var timer = null;
  var range = { start: 0, end: 0 };

  function width() {
    return Math.max(280, box.clientWidth);
  }

  function draw(data) {
    range.start = data.start;
    range.end = data.end;
    var columns = [data.time].concat(data.values);
    var key = data.pools.join(",");
    if (plot && key === shown) {
      plot.setData(columns);
      return;
    }
    if (plot) {
      plot.destroy();
    }
    shown = key;
    var rtl = document.documentElement.dir === "rtl";
    var series = [{ label: box.getAttribute("data-label-time") }];
    data.pools.forEach(function (name, i) {
      series.push({ label: name, stroke: COLOURS[i % COLOURS.length], width: 2 });
    });
    plot = new window.uPlot({
      width: width(),
      height: 220,
      tzDate: function (ts) { return window.uPlot.tzDate(new Date(ts * 1e3), "Etc/UTC"); },
      scales: {
        x: { time: true, dir: rtl ? -1 : 1, range: function () { return [range.start, range.end]; } },
        y: { range: [0, 100] }
      },
      axes: [
        { label: box.getAttribute("data-label-time"), side: 2 },
        { label: box.getAttribute("data-label-use"), side: rtl ? 1 : 3 }
      ],
      series: series
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
      timer = window.setTimeout(load, 5000);
    }
  });
  window.addEventListener("resize", function () {
    if (plot) { plot.setSize({ width: width(), height: 220 }); }
  });
  load();
})();
