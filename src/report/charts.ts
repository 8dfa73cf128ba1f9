/**
 * The charts cell: a figure per chart (with its data as a table), and the script that draws them
 * with Chart.js (loaded from the data dir's shared asset, see chart-asset.ts).
 */
import type { StepRecord } from "../pipeline/index.ts";
import type { ReportChart } from "../pipeline/job-charts.ts";
import { esc, formatNumber } from "./format.ts";

/** The charts of a report, drawn in order. */
export type ReportCharts = ReportChart[];

/** The charts cell: one figure per chart, or a note that there are none. */
export function renderCharts(charts: ReportCharts): string {
  const figures = charts
    .map(
      (c, i) => `<figure class="chart" data-chart-index="${i}" data-chart-kind="${esc(c.kind)}">
<figcaption>${esc(c.title)}</figcaption>
<div class="canvas-box${c.kind === "hbar" ? " canvas-tall" : ""}"><canvas id="chart-${i}" role="img" aria-label="${esc(c.title)}"></canvas></div>
<details><summary>data</summary><div class="scroll"><table class="chart-data"><tbody>${c.labels.map((label, j) => `<tr><th>${esc(label)}</th><td class="num">${esc(formatNumber(c.values[j] ?? 0))}</td></tr>`).join("")}</tbody></table></div></details>
</figure>`,
    )
    .join("\n");
  return `<section class="cell cell-charts" id="charts" data-kind="charts">
<div class="gutter">[*]</div>
<div class="body">
<h2><span class="badge badge-charts">charts</span> <span class="step-name">Charts</span></h2>
${charts.length > 0 ? `<div class="charts">${figures}</div>` : `<p class="muted">No charts for this run.</p>`}
</div>
</section>`;
}

/** Time per step, the chart every report with steps has first. */
export function stepTimingChart(steps: readonly StepRecord[]): ReportChart {
  return {
    title: "Time per step (seconds)",
    kind: "hbar",
    labels: steps.map((s, i) => `[${i + 1}] ${s.name}`),
    values: steps.map((s) => Math.round(s.ms) / 1000),
    xLabel: "seconds",
  };
}

/**
 * Draws each chart with Chart.js (no animation, so it is drawn at load) and marks its canvas
 * data-rendered="true" with data-points=<drawn elements> once drawn at a non-zero size.
 */
export const RENDER_SCRIPT = `(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("report-data").textContent);
  if (typeof Chart === "undefined") return;
  Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
  Chart.defaults.color = "#4b5563";
  var colors = { bar: "#3b82f6", hbar: "#8b5cf6", line: "#0ea5e9", histogram: "#10b981" };
  var marker = {
    id: "sluiceRendered",
    afterRender: function (chart) {
      var drawn = chart.getDatasetMeta(0).data.length;
      if (chart.width > 0 && chart.height > 0) {
        chart.canvas.setAttribute("data-rendered", "true");
        chart.canvas.setAttribute("data-points", String(drawn));
      }
    }
  };
  data.charts.forEach(function (c, i) {
    var canvas = document.getElementById("chart-" + i);
    if (!canvas) return;
    var color = colors[c.kind] || "#3b82f6";
    var horizontal = c.kind === "hbar";
    var histogram = c.kind === "histogram";
    var valueAxis = { beginAtZero: true, grid: { color: "#eef0f3" }, title: { display: !!(horizontal ? c.xLabel : c.yLabel), text: (horizontal ? c.xLabel : c.yLabel) || "" } };
    var categoryAxis = { grid: { display: false }, title: { display: !!(horizontal ? c.yLabel : c.xLabel), text: (horizontal ? c.yLabel : c.xLabel) || "" } };
    new Chart(canvas, {
      type: c.kind === "line" ? "line" : "bar",
      data: {
        labels: c.labels,
        datasets: [{
          label: c.yLabel || c.xLabel || c.title,
          data: c.values,
          backgroundColor: c.kind === "line" ? "rgba(14,165,233,0.15)" : color,
          borderColor: color,
          borderWidth: c.kind === "line" ? 2 : 0,
          borderRadius: histogram ? 0 : 3,
          fill: c.kind === "line",
          tension: 0.25,
          pointRadius: 2,
          barPercentage: histogram ? 1 : 0.8,
          categoryPercentage: histogram ? 1 : 0.85
        }]
      },
      options: {
        animation: false,
        responsive: true,
        maintainAspectRatio: false,
        indexAxis: horizontal ? "y" : "x",
        plugins: { legend: { display: false }, tooltip: { intersect: false } },
        scales: horizontal ? { x: valueAxis, y: categoryAxis } : { x: categoryAxis, y: valueAxis }
      },
      plugins: [marker]
    });
  });
  // The page's full height, for screenshot tools that size their window to it.
  document.documentElement.setAttribute("data-height", String(document.documentElement.scrollHeight));
})();`;
