// Campaign impact charts: the page embeds its daily figures as JSON; Chart.js (from npm) draws
// treated against control stores. No inline code: the Content-Security-Policy forbids it.
(function () {
  "use strict";
  var COLOURS = { treated: "#c0392b", control: "#2060c0" };
  function line(canvas, data, key, scale, unit) {
    var datasets = ["treated", "control"].map(function (group) {
      return { label: data.names[group], borderColor: COLOURS[group], backgroundColor: COLOURS[group],
               tension: 0.2, spanGaps: true, pointRadius: 2,
               data: data.days.map(function (day) {
                 var value = day[group][key];
                 return value === null ? null : Math.round(value * scale * 10) / 10;
               }),
               segment: { borderDash: function (context) {
                 return data.days[context.p1DataIndex].window === "before" ? [5, 4] : undefined; } } };
    });
    new Chart(canvas, {
      type: "line",
      data: { labels: data.days.map(function (day) { return day.label; }), datasets: datasets },
      options: { animation: false, responsive: true, maintainAspectRatio: false,
                 scales: { y: { beginAtZero: true, ticks: { callback: function (v) { return v + unit; } } } },
                 plugins: { tooltip: { callbacks: { title: function (items) {
                   var day = data.days[items[0].dataIndex];
                   return day.label + " · " + data.names[day.window]; } } } } }
    });
  }
  function draw() {
    var source = document.getElementById("impact-data");
    if (!source || typeof Chart === "undefined") { return; }
    var data = JSON.parse(source.textContent);
    var attach = document.getElementById("chart-attach");
    if (attach) { line(attach, data, "attach_rate", 100, "%"); }
    var units = document.getElementById("chart-units");
    if (units) { line(units, data, "units_per_store", 1, ""); }
  }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", draw); } else { draw(); }
})();
