// Basir dashboard: a custom dashboard's panels drawn with uPlot (line, area, bar) or as a
// figure (stat), from each panel's JSON; redrawn every data-refresh-s seconds.
(function () {
  "use strict";
  var grid = document.getElementById("panels");
  if (!grid || !window.uPlot) {
    return;
  }
  var COLOURS = ["#1d5fbf", "#1b6e2e", "#a15c00", "#7a2fa0", "#a61b1b", "#00707a"];
  var FILLS = ["#1d5fbf33", "#1b6e2e33", "#a15c0033", "#7a2fa033", "#a61b1b33", "#00707a33"];
  var lang = document.documentElement.lang || "en";
  var rtl = document.documentElement.dir === "rtl";
  var numbers = new Intl.NumberFormat(lang, { maximumFractionDigits: 2 });
  var plots = {};
  var clock = new Intl.DateTimeFormat(lang, { timeZone: "UTC", hour: "2-digit", minute: "2-digit" });
  var day = new Intl.DateTimeFormat(lang, { timeZone: "UTC", month: "short", day: "numeric" });

  // Time ticks in the page's language: hours and minutes, with the day for long windows.
  function timeTicks(data) {
    var long = data.end - data.start > 86400;
    return function (u, ticks) {
      return ticks.map(function (t) {
        var moment = new Date(t * 1e3);
        return long ? day.format(moment) + " " + clock.format(moment) : clock.format(moment);
      });
    };
  }

  function note(box, text) {
    var p = document.createElement("p");
    p.className = "empty";
    p.textContent = text;
    box.appendChild(p);
  }

  function stat(box, data) {
    box.textContent = "";
    data.series.forEach(function (label, i) {
      var value = data.latest[i];
      var div = document.createElement("div");
      div.className = "stat";
      div.textContent = value === null ? "—" : numbers.format(value);
      if (data.series.length > 1) {
        var small = document.createElement("small");
        small.setAttribute("dir", "ltr");
        small.textContent = label;
        div.appendChild(small);
      }
      box.appendChild(div);
    });
  }

  function options(figure, box, data) {
    var chart = data.chart;
    var series = [{ label: grid.getAttribute("data-label-time") }];
    data.series.forEach(function (label, i) {
      var s = { label: label, stroke: COLOURS[i % COLOURS.length], width: 2,
                value: function (u, v) { return v === null ? "—" : numbers.format(v); } };
      if (chart === "area") {
        s.fill = FILLS[i % FILLS.length];
      }
      if (chart === "bar" && window.uPlot.paths && window.uPlot.paths.bars) {
        s.paths = window.uPlot.paths.bars({ size: [0.8, 40] });
        s.fill = COLOURS[i % COLOURS.length];
        s.points = { show: false };
      }
      series.push(s);
    });
    return {
      width: Math.max(280, box.clientWidth),
      height: 240,
      tzDate: function (ts) { return window.uPlot.tzDate(new Date(ts * 1e3), "Etc/UTC"); },
      scales: { x: { time: true, dir: rtl ? -1 : 1, range: function () { return [data.start, data.end]; } } },
      axes: [
        { label: grid.getAttribute("data-label-time"), side: 2, values: timeTicks(data) },
        { side: rtl ? 1 : 3, values: function (u, ticks) { return ticks.map(function (t) { return numbers.format(t); }); } }
      ],
      series: series
    };
  }

  function draw(figure, data) {
    var box = figure.querySelector(".plot");
    var id = figure.id;
    var key = data.chart + "|" + data.series.join("|");
    if (data.time.length === 0) {
      if (plots[id]) { plots[id].plot.destroy(); delete plots[id]; }
      box.textContent = "";
      note(box, grid.getAttribute("data-empty"));
    } else if (data.chart === "stat") {
      stat(box, data);
    } else if (plots[id] && plots[id].key === key) {
      plots[id].plot.setData([data.time].concat(data.values));
    } else {
      if (plots[id]) { plots[id].plot.destroy(); }
      box.textContent = "";
      plots[id] = { key: key, plot: new window.uPlot(options(figure, box, data), [data.time].concat(data.values), box) };
    }
    if (data.more > 0) {
      note(box, grid.getAttribute("data-more").replace("{n}", numbers.format(data.more)));
    }
    figure.setAttribute("data-drawn", String(Date.now()));
  }

  function load(figure) {
    fetch(figure.getAttribute("data-url"), { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) { if (data) { draw(figure, data); } });
  }

  function loadAll() {
    Array.prototype.forEach.call(grid.querySelectorAll("figure.panel"), load);
  }

  window.addEventListener("resize", function () {
    Object.keys(plots).forEach(function (id) {
      var box = document.getElementById(id).querySelector(".plot");
      plots[id].plot.setSize({ width: Math.max(280, box.clientWidth), height: 240 });
    });
  });
  loadAll();
  window.setInterval(loadAll, 1000 * Number(grid.getAttribute("data-refresh-s") || 30));
})();
