// Basir dashboard: the resources page's chart of each pool's use (percent of its capacity)
// per minute of the last hour, from the metric history; re-drawn (debounced) when tasks change.
(function () {
  "use strict";
  var box = document.getElementById("pool-chart");
  if (!box || !window.uPlot || !window.basirLiveChart) {
    return;
  }
  var COLOURS = ["#1d5fbf", "#1b6e2e", "#a15c00", "#7a2fa0", "#a61b1b", "#00707a"];
  var shown = "";
  var range = { start: 0, end: 0 };

  function draw(data, plot) {
    range.start = data.start;
    range.end = data.end;
    var columns = [data.time].concat(data.values);
    var key = data.pools.join(",");
    if (plot && key === shown) {
      plot.setData(columns);
      return plot;
    }
    if (plot) {
      plot.destroy();
    }
    shown = key;
    var rtl = document.documentElement.dir === "rtl";
    var series = [{ label: box.getAttribute("data-label-time") }];
    data.pools.forEach(function (name, i) {
      var label = (data.labels && data.labels[i]) || name; // built-in pools translated
      series.push({ label: label, stroke: COLOURS[i % COLOURS.length], width: 2 });
    });
    return new window.uPlot({
      width: window.basirChartWidth(box),
      height: 220,
      tzDate: function (ts) { return window.uPlot.tzDate(new Date(ts * 1e3), "Etc/UTC"); },
      scales: {
        x: { time: true, dir: rtl ? -1 : 1, range: function () { return [range.start, range.end]; } },
        y: { range: [0, 100] }
      },
      axes: [
        { label: box.getAttribute("data-label-time"), side: 2, values: window.basirTimeTicks },
        { label: box.getAttribute("data-label-use"), side: rtl ? 1 : 3, values: window.basirNumberTicks }
      ],
      series: series
    }, columns, box);
  }

  window.basirLiveChart(box, draw, 5000);
})();
