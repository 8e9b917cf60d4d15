// Experiment pages: the plan partial's 400 answers, the analysis panel's refresh once its job has
// finished, and the interval plots of each metric's effect (data from the page's json_script; the
// table under each chart has the same numbers for screen readers and browsers without scripts).
(function () {
  "use strict";

  // The plan endpoint answers 400 with the field messages: show them instead of dropping them.
  document.addEventListener("htmx:beforeSwap", function (evt) {
    var target = evt.detail.target;
    if (evt.detail.xhr.status === 400 && target && target.id === "plan") {
      evt.detail.shouldSwap = true;
      evt.detail.isError = false;
    }
  });

  function finished(job) {
    return job.matches(".job[data-status='succeeded'], .job[data-status='failed']");
  }

  // The job widget polls itself; once it shows the job finished, fetch the analysis panel again.
  function refreshWhenDone(elt) {
    var jobs = elt.matches && elt.matches(".job") ? [elt] : Array.prototype.slice.call(elt.querySelectorAll ? elt.querySelectorAll(".job") : []);
    jobs.forEach(function (job) {
      var panel = job.closest("[data-refresh-url]");
      if (panel && finished(job) && !panel.dataset.refreshing) {
        panel.dataset.refreshing = "1";
        htmx.ajax("GET", panel.dataset.refreshUrl, { target: panel, swap: "outerHTML" });
      }
    });
  }

  function bounds(row) {
    var values = [row.effect, row.low, row.high, row.null].filter(function (v) { return typeof v === "number" && isFinite(v); });
    var min = Math.min.apply(null, values), max = Math.max.apply(null, values);
    var span = max - min || Math.abs(row.effect) || 1;
    return { min: min - span * 0.25, max: max + span * 0.25 };
  }

  function draw(canvas, row) {
    var range = bounds(row);
    // An open end (one-sided interval) runs to the edge of the plot.
    var low = row.low === null ? range.min : row.low, high = row.high === null ? range.max : row.high;
    var colour = row.significant ? "#116329" : "#0b5cad";
    var datasets = [
      { label: row.label, data: [{ x: row.effect, y: 0 }], pointRadius: 7, pointBackgroundColor: colour, pointBorderColor: colour },
      { label: "No effect", data: [{ x: row.null, y: -1 }, { x: row.null, y: 1 }], showLine: true, borderColor: "#57606a", borderDash: [4, 4], borderWidth: 1.5, pointRadius: 0 },
    ];
    if (row.has_ci) {  // rank tests report no interval
      datasets.unshift({ label: "Confidence interval", data: [{ x: low, y: 0 }, { x: high, y: 0 }], showLine: true, borderColor: colour, borderWidth: 3,
        pointStyle: "line", rotation: 90, pointRadius: [row.low === null ? 0 : 10, row.high === null ? 0 : 10], pointBorderColor: colour, pointBorderWidth: 3 });
    }
    new Chart(canvas, {
      type: "scatter",
      data: { datasets: datasets },
      options: {
        animation: false, maintainAspectRatio: false,
        plugins: {
          legend: { position: "bottom", labels: { boxHeight: 2 } },
          tooltip: { callbacks: { label: function (ctx) { return ctx.dataset.label + ": " + Number(ctx.parsed.x).toPrecision(4); } } },
        },
        scales: {
          // suggested (not fixed) bounds: Chart.js widens them to round tick values
          x: { suggestedMin: range.min, suggestedMax: range.max, title: { display: true, text: row.label + " (" + row.arm + " − control)" } },
          y: { min: -1, max: 1, display: false },
        },
      },
    });
  }

  function drawCharts(elt) {
    var data = document.getElementById("analysis-chart-data");
    if (!data || typeof Chart === "undefined") return;
    if (elt !== document.body && !(elt.contains && elt.contains(data))) return;
    JSON.parse(data.textContent).forEach(function (row) {
      var canvas = document.getElementById("effect-chart-" + row.index);
      if (canvas && !Chart.getChart(canvas)) draw(canvas, row);
    });
  }

  htmx.onLoad(function (elt) {
    refreshWhenDone(elt);
    drawCharts(elt);
  });
})();
