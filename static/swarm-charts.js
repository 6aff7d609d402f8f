// Charts over time (uPlot, static/vendor/uplot). Each section.charts[data-chart-url] fetches its JSON,
// draws one small chart per series, and refetches (setData, never a re-render) when a live event of
// one of its data-live-kinds arrives ("swarm:refresh" from swarm.js), every minute, and when the
// range picker changes. Each chart carries data-sum (the total it shows) for tests and screen readers.
(function () {
  "use strict";
  var COLORS = ["#2563eb", "#059669", "#7c3aed", "#d97706", "#0891b2", "#dc2626", "#db2777", "#b91c1c"];

  function dark() { return window.matchMedia && window.matchMedia("(prefers-color-scheme: dark)").matches; }

  function fmtTick(step) {
    return function (u, splits) {
      return splits.map(function (s) {
        var d = new Date(s * 1000);
        var hm = d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
        return step >= 3600 ? d.toLocaleDateString([], { weekday: "short" }) + " " + hm : hm;
      });
    };
  }

  function total(data) {
    return data.reduce(function (a, v) { return v == null ? a : a + v; }, 0);
  }

  function headline(chart, data) {
    if (chart.name === "queue_depth") return String(data.length ? data[data.length - 1] || 0 : 0) + " now";
    if (chart.name === "claim_wait_s") {
      var seen = data.filter(function (v) { return v != null; });
      return seen.length ? seen[seen.length - 1] + " s last" : "no claims";
    }
    return String(total(data));
  }

  function opts(width, chart, color, step) {
    var axis = dark() ? "#9ca3af" : "#6b7280";
    var grid = dark() ? "#374151" : "#e5e7eb";
    return {
      width: width, height: 110, legend: { show: false }, cursor: { y: false, points: { size: 5 } },
      scales: { x: { time: true }, y: { range: function (u, min, max) { return [0, Math.max(1, max * 1.15)]; } } },
      axes: [
        { stroke: axis, grid: { stroke: grid, width: 1 }, ticks: { show: false }, size: 24, values: fmtTick(step), space: 70 },
        { stroke: axis, grid: { stroke: grid, width: 1 }, ticks: { show: false }, size: 36, space: 24 },
      ],
      series: [{}, {
        label: chart.label, stroke: color, width: 1.5, fill: color + "22", spanGaps: false,
        paths: chart.name === "queue_depth" || chart.name === "claim_wait_s" ? undefined : uPlot.paths.stepped({ align: 1 }),
        points: { show: false },
      }],
    };
  }

  function render(section, json) {
    var grid = section.querySelector(".chart-grid");
    var state = section._charts || (section._charts = { plots: {} });
    var loading = grid.querySelector(".chart-loading");
    if (loading) loading.remove();
    json.charts.forEach(function (chart, i) {
      var box = grid.querySelector('[data-chart="' + chart.name + '"]');
      if (!box) {
        box = document.createElement("figure");
        box.className = "chart";
        box.dataset.chart = chart.name;
        box.innerHTML = '<figcaption><span class="label"></span> <span class="value"></span></figcaption><div class="plot"></div>';
        box.querySelector(".label").textContent = chart.label;
        grid.appendChild(box);
      }
      box.dataset.sum = String(total(chart.data));
      box.querySelector(".value").textContent = headline(chart, chart.data);
      var data = [json.t, chart.data];
      var plot = state.plots[chart.name];
      if (plot && state.step === json.step_s) { plot.setData(data); return; }
      if (plot) plot.destroy();
      var holder = box.querySelector(".plot");
      state.plots[chart.name] = new uPlot(opts(Math.max(200, holder.clientWidth || 260), chart, COLORS[i % COLORS.length], json.step_s), data, holder);
    });
    state.step = json.step_s;
    section.dataset.loaded = String(Date.now());
  }

  // live: a refresh the page started (an event, the minute timer), held like every region while paused.
  function load(section, live) {
    var range = section.dataset.range || "hour";
    var url = section.dataset.chartUrl + "&range=" + range;
    return fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (json) {
        if (live && window.swarmPaused) { if (window.swarmHold) window.swarmHold(section); return; }
        if (json && json.range === (section.dataset.range || "hour")) render(section, json);
      })
      .catch(function () { /* the next event or the minute timer tries again */ });
  }

  function init(section) {
    if (section._chartsInit) return;
    section._chartsInit = true;
    var params = new URLSearchParams(location.search);
    if (params.get("range") === "day") section.dataset.range = "day";
    section.querySelectorAll("[data-range]").forEach(function (b) {
      b.setAttribute("aria-pressed", String(b.dataset.range === (section.dataset.range || "hour")));
    });
    section.addEventListener("swarm:refresh", function () { load(section, true); });
    section.addEventListener("click", function (e) {
      var button = e.target.closest("[data-range]");
      if (!button) return;
      section.dataset.range = button.dataset.range;
      section.querySelectorAll("[data-range]").forEach(function (b) { b.setAttribute("aria-pressed", String(b === button)); });
      var url = new URL(location.href);
      url.searchParams.set("range", button.dataset.range);
      history.replaceState(null, "", url);
      load(section);
    });
    load(section);
    setInterval(function () { if (!window.swarmPaused) load(section, true); }, 60000);
  }

  function initAll() { document.querySelectorAll("section.charts[data-chart-url]").forEach(init); }
  document.addEventListener("DOMContentLoaded", initAll);
  document.addEventListener("htmx:load", initAll);
})();
