// Draws the finance dashboard's charts from the JSON the page carries (json_script), so the
// page needs no inline script under the Content-Security-Policy. Each chart's numbers are also
// in the table beneath it.
(function () {
  "use strict";
  var source = document.getElementById("finance-charts");
  if (!source || typeof Chart === "undefined") {
    return;
  }
  var palette = ["#2f6fab", "#d9822b", "#3b9c5a", "#b8434f", "#7a5cad", "#5f6b7a"];
  var charts = JSON.parse(source.textContent);
  charts.forEach(function (spec) {
    var canvas = document.querySelector('canvas[data-chart="' + spec.key + '"]');
    if (!canvas) {
      return;
    }
    var twoAxes = spec.datasets.some(function (d) { return d.yAxisID === "y1"; });
    var datasets = spec.datasets.map(function (d, i) {
      var colour = palette[i % palette.length];
      var data = Object.assign({}, d);
      if (spec.type === "doughnut") {
        data.backgroundColor = palette.slice(0, d.data.length);
      } else {
        data.backgroundColor = colour;
        data.borderColor = colour;
      }
      if (twoAxes && i > 0) {
        data.type = "line";
      }
      return data;
    });
    var scales = {};
    if (spec.type !== "doughnut") {
      scales.y = { beginAtZero: true };
      if (twoAxes) {
        scales.y1 = { beginAtZero: true, position: "right", grid: { drawOnChartArea: false } };
      }
    }
    canvas.chart = new Chart(canvas, {
      type: spec.type,
      data: { labels: spec.labels, datasets: datasets },
      options: {
        animation: false,
        responsive: true,
        maintainAspectRatio: false,
        scales: scales,
        plugins: { legend: { display: datasets.length > 1 || spec.type === "doughnut" } }
      }
    });
  });
  document.body.setAttribute("data-charts-drawn", String(charts.length));
})();
