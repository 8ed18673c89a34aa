// Dashboard charts: the page embeds its rates as JSON; Chart.js (from npm) draws them.
// Filters submit on change (no inline handlers: the Content-Security-Policy forbids them).
(function () {
  "use strict";
  function percentages(values) {
    return values.map(function (value) { return value === null ? null : Math.round(value * 1000) / 10; });
  }
  function draw() {
    var source = document.getElementById("chart-data");
    if (!source || typeof Chart === "undefined") { return; }
    var data = JSON.parse(source.textContent);
    var percentAxis = { y: { min: 0, max: 100, ticks: { callback: function (v) { return v + "%"; } } } };
    var days = document.getElementById("chart-days");
    if (days) {
      new Chart(days, {
        type: "line",
        data: { labels: data.days.labels, datasets: [
          { label: data.names.completion, data: percentages(data.days.completion), borderColor: "#1d7f3b",
            backgroundColor: "rgba(29,127,59,0.15)", fill: true, tension: 0.2, spanGaps: true },
          { label: data.names.on_time, data: percentages(data.days.on_time), borderColor: "#2060c0",
            tension: 0.2, spanGaps: true }] },
        options: { animation: false, responsive: true, maintainAspectRatio: false, scales: percentAxis }
      });
    }
    var stores = document.getElementById("chart-stores");
    if (stores) {
      new Chart(stores, {
        type: "bar",
        data: { labels: data.stores.labels, datasets: [
          { label: data.names.completion, data: percentages(data.stores.completion), backgroundColor: "#3a8fd8" }] },
        options: { animation: false, responsive: true, maintainAspectRatio: false, scales: percentAxis,
                   plugins: { legend: { display: false } } }
      });
    }
  }
  function autosubmit() {
    document.querySelectorAll("select[data-autosubmit]").forEach(function (select) {
      select.addEventListener("change", function () { select.form.submit(); });
    });
  }
  function ready() { autosubmit(); draw(); }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", ready); } else { ready(); }
})();
