// Basir dashboard: the overview's chart of runs finished per interval, drawn with uPlot and
// re-drawn (debounced) when the page's live stream says a run changed.
(function () {
  "use strict";
  var box = document.getElementById("throughput");
  if (!box || !window.uPlot || !window.basirLiveChart) {
    return;
  }

  function draw(data, plot) {
    var columns = [data.time, data.succeeded, data.failed];
    if (plot) {
      plot.setData(columns);
      return plot;
    }
    var rtl = document.documentElement.dir === "rtl";
    return new window.uPlot({
      width: window.basirChartWidth(box),
      height: 220,
      tzDate: function (ts) { return window.uPlot.tzDate(new Date(ts * 1e3), "Etc/UTC"); },
      scales: { x: { time: true, dir: rtl ? -1 : 1 } },
      axes: [
        { label: box.getAttribute("data-label-time"), side: 2, values: window.basirTimeTicks },
        { label: box.getAttribute("data-label-runs"), side: rtl ? 1 : 3, values: window.basirNumberTicks }
      ],
      series: [
        { label: box.getAttribute("data-label-time") },
        { label: box.getAttribute("data-label-succeeded"), stroke: "#1b6e2e", fill: "rgba(27,110,46,0.12)" },
        { label: box.getAttribute("data-label-failed"), stroke: "#a61b1b", fill: "rgba(166,27,27,0.12)" }
      ]
    }, columns, box);
  }

  window.basirLiveChart(box, draw, 1000);
})();
