/**
 * Anomaly rules: a partition's observed value against the same check's values in the table's
 * previous loaded partitions, by date (whatever order the partitions ran in). The band is the
 * history's median +- maxChange (percent) or its mean +- maxZ standard deviations (zscore).
 */
import type { AnomalyRule, CheckSpec, Suite } from "./check-types.ts";
import { numberText, percent } from "./describe.ts";
import type { HistoryPoint, HistorySeries } from "./types.ts";

/** An AnomalyRule with its defaults filled. */
export type ResolvedRule = Required<AnomalyRule>;

/** What the history says about one observed value. */
export interface AnomalyVerdict {
  /** Too little history to judge: passed stays true. */
  skipped: boolean;
  passed: boolean;
  lower: number | null;
  upper: number | null;
  detail: string;
  /** The partitions compared with, oldest first. */
  used: HistoryPoint[];
}

/** Defaults: 14 partitions, at least 7, within 30% of the median, both directions, no seasonality. */
export function resolveRule(rule: AnomalyRule): ResolvedRule {
  return {
    history: rule.history ?? 14,
    minHistory: rule.minHistory ?? 7,
    method: rule.method ?? "percent",
    maxChange: rule.maxChange ?? 0.3,
    maxZ: rule.maxZ ?? 3,
    seasonality: rule.seasonality ?? "none",
    direction: rule.direction ?? "both",
  };
}

/** The anomaly rule of a check, or null when it has none (volume always has one). */
export function anomalyRuleOf(check: CheckSpec): ResolvedRule | null {
  if (check.kind === "volume") return resolveRule(check.anomaly ?? {});
  if (check.kind === "aggregate" && check.anomaly !== undefined) return resolveRule(check.anomaly);
  return null;
}

/** Weekday of a YYYY-MM-DD day, 0 = Sunday (JS getUTCDay and DuckDB dayofweek agree). */
export function weekdayOf(dt: string): number {
  return new Date(`${dt}T00:00:00Z`).getUTCDay();
}

/** The history the suite's anomaly checks need for partition `dt`. */
export function historySeries(suite: Suite, dt: string): HistorySeries[] {
  return suite.checks.flatMap((check) => {
    const rule = anomalyRuleOf(check);
    if (rule === null) return [];
    return [{ check: check.name, limit: rule.history, weekday: rule.seasonality === "weekly" ? weekdayOf(dt) : null }];
  });
}

/** Judges `observed` of partition `dt` against `history` (any order; later or other-weekday points are ignored). */
export function judge(observed: number, history: readonly HistoryPoint[], rule: ResolvedRule, dt: string): AnomalyVerdict {
  const weekday = weekdayOf(dt);
  const used = history
    .filter((p) => p.dt < dt && Number.isFinite(p.value) && (rule.seasonality !== "weekly" || weekdayOf(p.dt) === weekday))
    .sort((a, b) => (a.dt < b.dt ? 1 : -1))
    .slice(0, rule.history)
    .reverse();
  const span = used.length > 0 ? `${used.length} partition${used.length === 1 ? "" : "s"}${rule.seasonality === "weekly" ? " on the same weekday" : ""}, ${used[0]?.dt} to ${used.at(-1)?.dt}` : "no earlier partition";
  if (used.length < rule.minHistory) {
    return { skipped: true, passed: true, lower: null, upper: null, used, detail: `skipped: history of ${span}; at least ${rule.minHistory} needed (observed ${numberText(observed)})` };
  }
  const values = used.map((p) => p.value);
  const { center, lower, upper, basis } = band(values, rule);
  const passed = (lower === null || observed >= lower) && (upper === null || observed <= upper);
  const expected = lower !== null && upper !== null ? `${numberText(lower)} to ${numberText(upper)}` : lower !== null ? `at least ${numberText(lower)}` : `at most ${numberText(upper as number)}`;
  const change = center !== 0 ? `, ${percent(Math.abs(observed - center) / Math.abs(center))} ${observed < center ? "below" : "above"} the ${basis}` : "";
  return { skipped: false, passed, lower, upper, used, detail: `observed ${numberText(observed)}${change}; expected ${expected} (${basis} ${numberText(center)} of ${span})` };
}

function band(values: number[], rule: ResolvedRule): { center: number; lower: number | null; upper: number | null; basis: string } {
  let center: number;
  let spread: number;
  if (rule.method === "zscore") {
    center = values.reduce((s, v) => s + v, 0) / values.length;
    const variance = values.length > 1 ? values.reduce((s, v) => s + (v - center) ** 2, 0) / (values.length - 1) : 0;
    spread = rule.maxZ * Math.sqrt(variance);
  } else {
    center = median(values);
    spread = Math.abs(center) * rule.maxChange;
  }
  return {
    center,
    lower: rule.direction === "rise" ? null : center - spread,
    upper: rule.direction === "drop" ? null : center + spread,
    basis: rule.method === "zscore" ? "mean" : "median",
  };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}
