// Bias report page: one interval chart per metric (point, bootstrap interval, threshold line).
// Data from the page's json_script; the tables have the same numbers.
(function () {
  "use strict";

  // A disparity: one point, its interval and a full-height threshold line.
  function drawDisparity(canvas, c) {
    var colour = c.status === "fail" ? "#b42318" : "#0b5cad";
    var datasets = [{ label: "Value", data: [{ x: c.values[0], y: 0 }], pointRadius: 7, pointBackgroundColor: colour, pointBorderColor: colour }];
    if (c.low[0] !== null) {
      datasets.push({ label: "Interval", data: [{ x: c.low[0], y: 0 }, { x: c.high[0], y: 0 }], showLine: true, borderColor: colour, borderWidth: 3, pointRadius: 0 });
    }
    if (c.threshold !== null) {
      datasets.push({ label: "Threshold", data: [{ x: c.threshold, y: -1 }, { x: c.threshold, y: 1 }], showLine: true,
        borderColor: "#57606a", borderDash: [4, 4], borderWidth: 1.5, pointRadius: 0 });
    }
    new Chart(canvas, {
      type: "scatter",
      data: { datasets: datasets },
      options: { animation: false, maintainAspectRatio: false, plugins: { legend: { display: false } },
        scales: { y: { min: -1, max: 1, display: false }, x: { suggestedMin: 0 } } },
    });
  }

  function draw(canvas, c) {
    if (c.kind === "disparity") return drawDisparity(canvas, c);
    var points = [], bars = [];
    c.labels.forEach(function (label, i) {
      if (c.values[i] === null) return;
      points.push({ x: c.values[i], y: label });
      if (c.low[i] !== null) bars.push({ label: label, low: c.low[i], high: c.high[i] });
    });
    var colour = c.status === "fail" ? "#b42318" : "#0b5cad";
    var datasets = [{ label: "Value", data: points, pointRadius: 6, pointBackgroundColor: colour, pointBorderColor: colour }];
    bars.forEach(function (b) {
      datasets.push({ label: "Interval " + b.label, data: [{ x: b.low, y: b.label }, { x: b.high, y: b.label }], showLine: true,
        borderColor: colour, borderWidth: 3, pointRadius: 0 });
    });
    if (c.threshold !== null) {
      datasets.push({ label: "Threshold", data: [{ x: c.threshold, y: c.labels[0] }, { x: c.threshold, y: c.labels[c.labels.length - 1] }],
        showLine: true, borderColor: "#57606a", borderDash: [4, 4], borderWidth: 1.5, pointRadius: 4, pointStyle: "line" });
    }
    new Chart(canvas, {
      type: "scatter",
      data: { labels: c.labels, datasets: datasets },
      options: {
        animation: false, maintainAspectRatio: false,
        plugins: { legend: { display: false } },
        scales: { y: { type: "category", labels: c.labels, offset: true }, x: { suggestedMin: 0 } },
      },
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var data = document.getElementById("fairness-chart-data");
    if (!data || typeof Chart === "undefined") return;
    JSON.parse(data.textContent).forEach(function (c, i) {
      var canvas = document.getElementById("fairness-chart-" + i);
      if (canvas) draw(canvas, c);
    });
  });
})();
