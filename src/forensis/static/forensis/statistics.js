/* Forensis statistics pages: draw each chart from its JSON data (Chart.js, served locally), and let every
   table of figures sort by a click on a column heading. Loaded with `defer`; no inline script (the
   Content-Security-Policy allows scripts from this site only). */
(function () {
  "use strict";

  var PALETTE = ["#16324f", "#d1495b", "#edae49", "#00798c", "#66a182", "#8d6a9f", "#b0b7c0", "#30638e"];

  function drawChart(canvas) {
    var source = document.getElementById(canvas.dataset.chart);
    if (!source || typeof Chart === "undefined") { return; }
    var spec = JSON.parse(source.textContent);
    var horizontal = spec.horizontal === true;
    var datasets = spec.datasets.map(function (dataset, index) {
      var color = PALETTE[index % PALETTE.length];
      return {
        label: dataset.label,
        data: dataset.data,
        backgroundColor: color,
        borderColor: color,
        borderWidth: spec.type === "line" ? 2 : 0,
        tension: 0.2,
        pointRadius: spec.type === "line" ? 2 : 0,
      };
    });
    var valueAxis = { beginAtZero: true, stacked: spec.stacked === true, ticks: { precision: 0 } };
    var categoryAxis = { stacked: spec.stacked === true, ticks: { autoSkip: true, maxRotation: 60 } };
    var chart = new Chart(canvas, {
      type: spec.type,
      data: { labels: spec.labels, datasets: datasets },
      options: {
        indexAxis: horizontal ? "y" : "x",
        responsive: true,
        maintainAspectRatio: false,
        animation: false,
        plugins: { legend: { display: datasets.length > 1, position: "bottom" } },
        scales: horizontal ? { x: valueAxis, y: categoryAxis } : { x: categoryAxis, y: valueAxis },
      },
    });
    canvas.dataset.rendered = String(chart.data.labels.length);
  }

  function cellValue(row, column) {
    var text = row.cells[column] ? row.cells[column].textContent.trim() : "";
    var number = Number(text.replace(/,/g, ""));
    return text !== "" && !isNaN(number) ? number : text.toLowerCase();
  }

  function makeSortable(table) {
    var headings = table.tHead ? table.tHead.rows[0].cells : [];
    Array.prototype.forEach.call(headings, function (heading, column) {
      heading.setAttribute("role", "button");
      heading.tabIndex = 0;
      var sort = function () {
        var ascending = !heading.classList.contains("asc");
        Array.prototype.forEach.call(headings, function (other) { other.classList.remove("asc", "desc"); });
        heading.classList.add(ascending ? "asc" : "desc");
        var body = table.tBodies[0];
        var rows = Array.prototype.slice.call(body.rows);
        rows.sort(function (a, b) {
          var x = cellValue(a, column), y = cellValue(b, column);
          if (typeof x !== typeof y) { x = String(x); y = String(y); }
          return (x < y ? -1 : x > y ? 1 : 0) * (ascending ? 1 : -1);
        });
        rows.forEach(function (row) { body.appendChild(row); });
      };
      heading.addEventListener("click", sort);
      heading.addEventListener("keydown", function (event) { if (event.key === "Enter") { sort(); } });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("canvas[data-chart]").forEach(drawChart);
    document.querySelectorAll("table.sortable").forEach(makeSortable);
  });
})();
