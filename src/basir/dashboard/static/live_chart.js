// Basir dashboard: what every live chart box shares — read its data (`data-url`), read it
// again (debounced) when the page's live stream reports a change, follow the page's width.
// `draw(data, plot)` draws or updates the uPlot chart and returns it.
(function () {
  "use strict";
  function width(box) {
    return Math.max(280, box.clientWidth);
  }

  // Axis ticks in the page's language (Arabic digits and clock on an Arabic page), in UTC
  // like the axis label says.
  var lang = document.documentElement.lang || "en";
  var numbers = new Intl.NumberFormat(lang, { maximumFractionDigits: 2 });
  var clock = new Intl.DateTimeFormat(lang, { timeZone: "UTC", hour: "2-digit", minute: "2-digit" });

  window.basirChartWidth = width;
  window.basirTimeTicks = function (u, ticks) {
    return ticks.map(function (t) { return clock.format(new Date(t * 1e3)); });
  };
  window.basirNumberTicks = function (u, ticks) {
    return ticks.map(function (t) { return numbers.format(t); });
  };
  window.basirLiveChart = function (box, draw, delayMs) {
    var plot = null;
    var timer = null;

    function load() {
      timer = null;
      fetch(box.getAttribute("data-url"), { credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (data) { if (data) { plot = draw(data, plot); } });
    }

    box.addEventListener("htmx:sseMessage", function () {
      if (timer === null) {
        timer = window.setTimeout(load, delayMs);
      }
    });
    window.addEventListener("resize", function () {
      if (plot) { plot.setSize({ width: width(box), height: 220 }); }
    });
    load();
  };
})();
