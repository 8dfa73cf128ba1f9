/**
 * The charts cell: a figure per chart (with its data as a table), and the script that draws them
 * with Chart.js (loaded from the data dir's shared asset, see chart-asset.ts).
 */
import type { StepRecord } from "../pipeline/index.ts";
import type { ReportChart } from "../pipeline/job-charts.ts";
import { esc, formatNumber } from "./format.ts";
import type { HistoryChart } from "./history-charts.ts";

/** The charts of a report, drawn in order: a job's own, and the history of its anomaly checks. */
export type ReportCharts = Array<ReportChart | HistoryChart>;

/** The charts cell: one figure per chart, or a note that there are none. */
export function renderCharts(charts: ReportCharts): string {
  const figures = charts
    .map(
      (c, i) => `<figure class="chart" data-chart-index="${i}" data-chart-kind="${esc(c.kind)}">
<figcaption>${esc(c.title)}</figcaption>
<div class="canvas-box${c.kind === "hbar" ? " canvas-tall" : ""}"><canvas id="chart-${i}" role="img" aria-label="${esc(c.title)}"></canvas></div>
<details><summary>data</summary><div class="scroll"><table class="chart-data"><tbody>${c.labels.map((label, j) => `<tr><th>${esc(label)}</th><td class="num">${esc(formatNumber(c.values[j] ?? 0))}</td></tr>`).join("")}${c.kind === "history" ? bandRow(c) : ""}</tbody></table></div></details>
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

/** The band of a history chart as a row of its data table. */
function bandRow(c: HistoryChart): string {
  const band = c.skipped ? "none (skipped: too little history)" : `${c.lower === null ? "−∞" : formatNumber(c.lower)} to ${c.upper === null ? "+∞" : formatNumber(c.upper)}`;
  return `<tr class="band"><th>expected</th><td class="num" data-field="band">${esc(band)}</td></tr>`;
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
    if (c.kind === "history") {
      new Chart(canvas, historyConfig(c));
      return;
    }
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
  // An anomaly check's history: earlier values as a line, the band as a shaded area between its
  // ends, and this partition as the last point (red when it fell outside the band).
  function historyConfig(c) {
    var last = c.values.length - 1;
    var mark = c.skipped ? "#9ca3af" : c.passed ? "#15803d" : "#b91c1c";
    var flat = function (v) { return c.labels.map(function () { return v; }); };
    var band = { borderColor: "rgba(245,158,11,0.9)", borderDash: [5, 4], borderWidth: 1, pointRadius: 0, backgroundColor: "rgba(245,158,11,0.15)" };
    return {
      type: "line",
      data: {
        labels: c.labels,
        datasets: [
          {
            label: "observed",
            data: c.values,
            borderColor: "#0ea5e9",
            borderWidth: 2,
            tension: 0.2,
            pointRadius: c.values.map(function (_, i) { return i === last ? 6 : 2; }),
            pointBackgroundColor: c.values.map(function (_, i) { return i === last ? mark : "#0ea5e9"; }),
            pointBorderColor: c.values.map(function (_, i) { return i === last ? mark : "#0ea5e9"; })
          },
          Object.assign({ label: "expected from", data: flat(c.lower), fill: false }, band),
          Object.assign({ label: "expected to", data: flat(c.upper), fill: c.lower === null ? false : "-1" }, band)
        ]
      },
      options: {
        animation: false,
        responsive: true,
        maintainAspectRatio: false,
        plugins: { legend: { display: false }, tooltip: { intersect: false, mode: "index" } },
        scales: { x: { grid: { display: false } }, y: { beginAtZero: true, grid: { color: "#eef0f3" }, title: { display: !!c.yLabel, text: c.yLabel || "" } } }
      },
      plugins: [marker]
    };
  }
  // The page's full height, for screenshot tools that size their window to it.
  document.documentElement.setAttribute("data-height", String(document.documentElement.scrollHeight));
})();`;
