// Draws the dashboard's stage chart from the JSON the page embeds (the table beside it has the
// same numbers for screen readers and for browsers without JavaScript).
document.addEventListener("DOMContentLoaded", function () {
  var canvas = document.getElementById("stage-chart");
  var data = document.getElementById("stage-chart-data");
  if (!canvas || !data || typeof Chart === "undefined") return;
  var chart = JSON.parse(data.textContent);
  new Chart(canvas, {
    type: "bar",
    data: { labels: chart.labels, datasets: [{ label: "Versions", data: chart.counts, backgroundColor: "#0b5cad" }] },
    options: { animation: false, maintainAspectRatio: false, plugins: { legend: { display: false } }, scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } },
  });
});
