// Dashboard and campaign charts: the page embeds its rates as JSON; Chart.js (from npm) draws them.
// Filters submit on change and irreversible forms ask first (no inline handlers: the
// Content-Security-Policy forbids them).
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
    // Per store: completion alone (dashboard), or with on-time and deviation (campaign page).
    function bars(canvas, keys, colours) {
      var shown = keys.filter(function (key) { return data.stores[key]; });
      new Chart(canvas, {
        type: "bar",
        data: { labels: data.stores.labels, datasets: shown.map(function (key) {
          return { label: data.names[key], data: percentages(data.stores[key]), backgroundColor: colours[key] };
        }) },
        options: { animation: false, responsive: true, maintainAspectRatio: false, scales: percentAxis,
                   plugins: { legend: { display: shown.length > 1 } } }
      });
    }
    var stores = document.getElementById("chart-stores");
    if (stores) {
      bars(stores, ["completion", "on_time", "deviation"],
           { completion: "#3a8fd8", on_time: "#1d7f3b", deviation: "#c0392b" });
    }
    var attach = document.getElementById("chart-attach");
    if (attach) {
      bars(attach, ["attach_before", "attach"], { attach_before: "#9aa5b1", attach: "#e67e22" });
    }
  }
  function autosubmit() {
    document.querySelectorAll("select[data-autosubmit]").forEach(function (select) {
      select.addEventListener("change", function () { select.form.submit(); });
    });
  }
  // Forms that cannot be undone ask first: <form data-confirm="question">.
  function confirmations() {
    document.querySelectorAll("form[data-confirm]").forEach(function (form) {
      form.addEventListener("submit", function (event) {
        if (!window.confirm(form.getAttribute("data-confirm"))) { event.preventDefault(); }
      });
    });
  }
  // Long uploads show that they are running: <form data-busy="message"> with a <progress hidden>.
  function busyForms() {
    document.querySelectorAll("form[data-busy]").forEach(function (form) {
      form.addEventListener("submit", function () {
        var bar = form.querySelector("progress");
        if (bar) { bar.hidden = false; bar.setAttribute("aria-label", form.getAttribute("data-busy")); }
        form.querySelectorAll("button[type=submit]").forEach(function (button) {
          button.setAttribute("aria-busy", "true");
          button.textContent = form.getAttribute("data-busy");
        });
      });
    });
  }
  function ready() { autosubmit(); confirmations(); busyForms(); draw(); }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", ready); } else { ready(); }
})();
