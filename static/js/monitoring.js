// Draws the monitoring page's charts from the JSON the page embeds; the tables beside them hold
// the same numbers for screen readers and for browsers without JavaScript.
document.addEventListener("DOMContentLoaded", function () {
  var source = document.getElementById("monitoring-chart-data");
  if (!source || typeof Chart === "undefined") return;
  var data = JSON.parse(source.textContent);
  var base = { animation: false, maintainAspectRatio: false };

  var statistic = document.getElementById("statistic-chart");
  if (statistic && data.over_time.length) {
    new Chart(statistic, {
      type: "line",
      data: {
        labels: data.over_time.map(function (p) { return p.at; }),
        datasets: [
          { label: data.method, data: data.over_time.map(function (p) { return p.statistic; }), borderColor: "#0b5cad" },
          { label: "threshold", data: data.over_time.map(function () { return data.threshold; }), borderColor: "#b42318", borderDash: [6, 4], pointRadius: 0 },
        ],
      },
      options: base,
    });
  }

  var distribution = document.getElementById("distribution-chart");
  if (distribution && data.histogram && data.histogram.reference) {
    var h = data.histogram;
    var share = function (xs) { var t = xs.reduce(function (a, b) { return a + b; }, 0) || 1; return xs.map(function (x) { return x / t; }); };
    var labels = data.kind === "numeric"
      ? h.reference.map(function (_, i) {
          var lo = i === 0 ? "−∞" : Number(h.bins[i - 1]).toPrecision(4);
          var hi = i === h.bins.length ? "∞" : Number(h.bins[i]).toPrecision(4);
          return "[" + lo + ", " + hi + ")";
        })
      : h.bins;
    new Chart(distribution, {
      type: "bar",
      data: { labels: labels, datasets: [
        { label: "reference", data: share(h.reference), backgroundColor: "#8c959f" },
        { label: "current", data: share(h.current), backgroundColor: "#0b5cad" },
      ] },
      options: base,
    });
  }

  var performance = document.getElementById("performance-chart");
  if (performance && data.performance.length) {
    var names = {};
    data.performance.forEach(function (row) { row.metrics.forEach(function (m) { names[m.name] = true; }); });
    var colours = ["#0b5cad", "#1a7f37", "#9a6700", "#8250df", "#b42318", "#57606a"];
    var datasets = [];
    Object.keys(names).forEach(function (name, i) {
      var pick = function (key) { return data.performance.map(function (row) {
        var m = row.metrics.find(function (x) { return x.name === name; }); return m ? m[key] : null; }); };
      var colour = colours[i % colours.length];
      datasets.push({ label: name + " (realized)", data: pick("realized"), borderColor: colour });
      datasets.push({ label: name + " (estimated)", data: pick("estimated"), borderColor: colour, borderDash: [2, 3] });
      datasets.push({ label: name + " (validation)", data: pick("baseline"), borderColor: colour, borderDash: [8, 4], pointRadius: 0 });
    });
    new Chart(performance, {
      type: "line",
      data: { labels: data.performance.map(function (r) { return r.at; }), datasets: datasets },
      options: base,
    });
  }
});
