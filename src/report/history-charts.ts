/**
 * A history chart per anomaly check of a run: the observed values of the previous partitions it
 * was compared with, the band they gave, and this partition's value (red when it fell outside).
 */
import { ANOMALY_KINDS } from "../validate/check-types.ts";
import type { CheckResult, HistoryPoint } from "../validate/types.ts";
import { isRecord } from "./format.ts";

/** One anomaly check's history: labels are the days compared with, then this partition's. */
export interface HistoryChart {
  title: string;
  kind: "history";
  labels: string[];
  values: number[];
  /** The band's ends (null: open on that side, or no band because the check was skipped). */
  lower: number | null;
  upper: number | null;
  /** This partition's point is the last; did it pass? */
  passed: boolean;
  skipped: boolean;
  yLabel?: string;
}

/** The history charts of a run's checks, in check order (none for checks without a history). */
export function historyCharts(dt: string, checks: readonly CheckResult[]): HistoryChart[] {
  return checks.flatMap((check) => {
    const history = historyOf(check);
    if (check.kind === undefined || !ANOMALY_KINDS.has(check.kind) || typeof check.observed !== "number" || history.length === 0) return [];
    const chart: HistoryChart = {
      title: `${check.table}: ${check.check} (history)`,
      kind: "history",
      labels: [...history.map((p) => p.dt), dt],
      values: [...history.map((p) => p.value), check.observed],
      lower: check.lower ?? null,
      upper: check.upper ?? null,
      passed: check.passed,
      skipped: check.skipped === true,
      yLabel: check.kind === "volume" ? "rows" : "value",
    };
    return [chart];
  });
}

/** The earlier points a check result carries (validate's CheckReport.history), oldest first. */
function historyOf(check: CheckResult): HistoryPoint[] {
  const history = (check as { history?: unknown }).history;
  if (!Array.isArray(history)) return [];
  return history.filter((p): p is HistoryPoint => isRecord(p) && typeof p["dt"] === "string" && typeof p["value"] === "number");
}
