/**
 * The run report: one HTML page per partition run, read like a notebook (a header, then one cell
 * per step with its schema, first rows and facts, then charts), viewable offline from the data dir.
 */
export { latestReport, reportPath } from "./paths.ts";
export { writeRunReport } from "./write.ts";
export type { RunReportOptions } from "./write.ts";
export { renderRunReport } from "./render.ts";
export { jobCharts, lakeFiles } from "./job-charts.ts";
export { chartAssetPath, chartJs } from "./chart-asset.ts";
export type { ReportCharts } from "./charts.ts";
export { historyCharts, type HistoryChart } from "./history-charts.ts";
export type { ReportChart } from "../pipeline/job-charts.ts";
export { shortDtype } from "./dtypes.ts";
export { esc, formatMs } from "./format.ts";
