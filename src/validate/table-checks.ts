/**
 * Table-level checks: each is judged on the partition as a whole (its dtype, row count, newest
 * value, an aggregate, its history, the fields the source sent). The numbers they need are
 * computed by Polars in the pass's one select of sums (`exprs`), then each check is judged in JS.
 */
import pl from "nodejs-polars";
import type { AggregateCheck, CheckSpec, FreshnessCheck, PresenceCheck, ValidationContext, VolumeCheck } from "./check-types.ts";
import { anomalyRuleOf, judge } from "./anomaly.ts";
import { dtypeName, numberText, percent } from "./describe.ts";
import { literal, ParamResolver, type FrameSchema } from "./row-checks.ts";
import type { CheckReport, HistoryPoint } from "./types.ts";

/** Reads a value the select of sums computed (null when absent). */
export type ScalarAt = (name: string) => unknown;

/** A table-level check ready to run: what to compute, and how to judge it. */
export interface TablePlan {
  check: CheckSpec;
  /** Expressions of the select of sums (aggregates over the whole frame). */
  exprs: pl.Expr[];
  /** Judges the check from the computed values; `rows` are the partition's rows. */
  report(scalarAt: ScalarAt, rows: number): CheckReport;
}

/** What a judgement found, before it becomes a CheckReport. */
interface Finding {
  passed: boolean;
  observed: number | null;
  lower?: number | null;
  upper?: number | null;
  skipped?: boolean;
  detail: string | null;
  /** What a failing sample shows; default: observed. */
  value?: unknown;
  history?: HistoryPoint[];
}

/** Where table-level checks look: the schema, the context, and the rows of the run's partition. */
export interface TableScope {
  table: string;
  schema: FrameSchema;
  context: ValidationContext;
  /** True for the rows of the run's partition (frames with a Date `dt` column), else null: every row. */
  inPartition: pl.Expr | null;
  helper: string;
}

/** The rows of the run's partition when the frame spans several days (a Date `dt` column), else null. */
export function partitionFilter(schema: FrameSchema, context: ValidationContext): pl.Expr | null {
  if (schema["dt"]?.variant !== "Date") return null;
  return pl.col("dt").eq(pl.lit(new Date(`${context.window.dt}T00:00:00Z`)).cast(pl.Date));
}

/** The name under which the select of sums computes a table check's value (check i's newest value, its fresh flag, or its aggregate); validate-chunks.ts supplies them too. */
export function tableScalarName(what: "newest" | "fresh" | "aggregate", i: number, helper: string): string {
  return `${helper}${what === "newest" ? "t" : what === "fresh" ? "ok" : "a"}${i}`;
}

/** Plans a table-level check (index i makes its helper names unique). */
export function planTableCheck(check: CheckSpec, i: number, scope: TableScope): TablePlan {
  const finish = (find: (at: ScalarAt, rows: number) => Finding, exprs: pl.Expr[] = []): TablePlan => ({
    check,
    exprs,
    report: (at, rows) => toReport(check, scope.table, rows, find(at, rows)),
  });
  switch (check.kind) {
    case "dtype":
      return finish(() => dtypeFinding(check.column, check.dtype, scope.schema));
    case "row_count":
      return finish((_, rows) => boundsFinding(rows, check.min, check.max, `${rows} rows, expected ${check.min ?? 0} to ${check.max ?? "any number of"}`));
    case "freshness":
      return freshnessPlan(check, i, scope, finish);
    case "volume":
      return finish((_, rows) => volumeFinding(check, rows, scope.context));
    case "aggregate": {
      const name = tableScalarName("aggregate", i, scope.helper);
      return finish((at) => aggregateFinding(check, numberOrNull(at(name)), scope.context), [aggregateExpr(check, scope, new ParamResolver(check, scope.context, scope.table)).alias(name)]);
    }
    case "presence":
      return finish(() => presenceFinding(check, scope.context));
    default:
      throw new Error(`unreachable: ${check.kind} is row-level`);
  }
}

function toReport(check: CheckSpec, table: string, rows: number, f: Finding): CheckReport {
  const blocks = !f.passed && check.severity === "error";
  const report: CheckReport = {
    check: check.name, kind: check.kind, table, columns: check.columns, severity: check.severity, action: blocks ? "block" : check.onFail,
    passed: f.passed, failingRows: 0, sample: f.passed ? [] : [{ key: {}, value: plain(f.value === undefined ? f.observed : f.value) }],
    description: check.description, rows, allowance: null, detail: f.detail,
    observed: f.observed, lower: f.lower ?? null, upper: f.upper ?? null, skipped: f.skipped ?? false,
  };
  if (f.history !== undefined) report.history = f.history;
  return report;
}

function dtypeFinding(column: string, expected: pl.DataType, schema: FrameSchema): Finding {
  const actual = schema[column];
  const passed = actual !== undefined && actual.equals(expected);
  const detail = passed ? null : actual ? `dtype is ${dtypeName(actual)}, expected ${dtypeName(expected)}` : `column ${column} is missing`;
  return { passed, observed: null, detail, value: actual ? dtypeName(actual) : null };
}

function boundsFinding(observed: number, min: number | undefined, max: number | undefined, failure: string): Finding {
  const passed = (min === undefined || observed >= min) && (max === undefined || observed <= max);
  const detail = passed ? null : failure;
  return { passed, observed, lower: min ?? null, upper: max ?? null, detail };
}

function freshnessPlan(check: FreshnessCheck & CheckSpec, i: number, scope: TableScope, finish: (find: (at: ScalarAt) => Finding, exprs: pl.Expr[]) => TablePlan): TablePlan {
  const newest = tableScalarName("newest", i, scope.helper);
  const fresh = tableScalarName("fresh", i, scope.helper);
  const reference = check.relativeTo === "now" ? (scope.context.now ?? new Date()) : scope.context.window.end;
  const threshold = new Date(reference.getTime() - check.maxAgeHours * 3_600_000);
  const max = pl.col(check.column).max();
  const exprs = [max.alias(newest), max.gtEq(literal(threshold, scope.schema[check.column])).fillNull(false).alias(fresh)];
  return finish((at) => {
    const value = at(newest);
    const hours = value instanceof Date ? (reference.getTime() - value.getTime()) / 3_600_000 : null;
    const passed = at(fresh) === true;
    const behind = check.relativeTo === "now" ? "now" : "the partition's end";
    const detail = passed ? null : hours !== null ? `newest ${check.column} is ${(value as Date).toISOString()}, ${hours.toFixed(1)} h before ${behind} (at most ${check.maxAgeHours} h allowed)` : `no ${check.column} value at all`;
    return { passed, observed: hours === null ? null : Number(hours.toFixed(3)), upper: check.maxAgeHours, detail, value };
  }, exprs);
}

function volumeFinding(check: VolumeCheck & CheckSpec, rows: number, context: ValidationContext): Finding {
  if (check.minRows !== undefined && rows < check.minRows) {
    return { passed: false, observed: rows, lower: check.minRows, detail: `${rows} rows, fewer than the floor of ${check.minRows}` };
  }
  return anomalyFinding(check, rows, context);
}

function aggregateFinding(check: AggregateCheck & CheckSpec, observed: number | null, context: ValidationContext): Finding {
  if (observed === null) return { passed: true, skipped: true, observed: null, detail: "skipped: no value (no rows to aggregate)" };
  if (check.min !== undefined || check.max !== undefined) {
    const bounds = boundsFinding(observed, check.min, check.max, `observed ${numberText(observed)}, expected ${check.min ?? "-inf"} to ${check.max ?? "+inf"}`);
    if (!bounds.passed || check.anomaly === undefined) return bounds;
  }
  return anomalyFinding(check, observed, context);
}

/** The observed value against the check's history (the anomaly rule), or skipped without enough of it. */
function anomalyFinding(check: CheckSpec, observed: number, context: ValidationContext): Finding {
  const rule = anomalyRuleOf(check);
  if (rule === null) return { passed: true, observed, detail: null };
  const verdict = judge(observed, context.history?.[check.name] ?? [], rule, context.window.dt);
  return { passed: verdict.passed, skipped: verdict.skipped, observed, lower: verdict.lower, upper: verdict.upper, detail: verdict.detail, history: verdict.used };
}

function presenceFinding(check: PresenceCheck & CheckSpec, context: ValidationContext): Finding {
  const presence = context.presence;
  const present = presence?.present[check.column];
  if (presence === undefined || present === undefined) {
    return { passed: true, skipped: true, observed: null, detail: `skipped: no presence counts for ${check.column} (the frame did not come from ctx.extract, or the field is not a declared leaf)` };
  }
  if (presence.records === 0) return { passed: true, skipped: true, observed: null, detail: "skipped: no records" };
  const absent = (presence.records - present) / presence.records;
  const allowed = check.maxAbsent ?? 0;
  const passed = absent <= allowed;
  const detail = passed ? null : `${check.column} was absent from ${presence.records - present} of ${presence.records} records (${percent(absent)}), more than ${percent(allowed)}: did the source rename or drop it?`;
  return { passed, observed: absent, upper: allowed, detail };
}

/** The aggregate as one Float64 value over the partition's rows where `where` holds. */
function aggregateExpr(check: AggregateCheck & CheckSpec, scope: TableScope, p: ParamResolver): pl.Expr {
  const given = check.where === undefined ? null : p.resolve(check.where, "where");
  const where = given === null ? scope.inPartition : scope.inPartition === null ? given : scope.inPartition.and(given);
  if (check.agg === "count") return (where === null ? pl.len() : where.fillNull(false).sum()).cast(pl.Float64);
  const col = where === null ? pl.col(check.column as string) : pl.col(check.column as string).filter(where.fillNull(false));
  const value = (() => {
    switch (check.agg) {
      case "sum": return col.sum();
      case "mean": return col.mean();
      case "median": return col.median();
      case "min": return col.min();
      case "max": return col.max();
      case "std": return col.std();
      case "quantile": return col.quantile(check.quantile ?? 0.5);
      case "null_rate": return col.isNull().mean();
      case "distinct_count": return col.dropNulls().nUnique();
    }
  })();
  return value.cast(pl.Float64);
}

function numberOrNull(value: unknown): number | null {
  if (typeof value === "bigint") return Number(value);
  return typeof value === "number" && Number.isFinite(value) ? value : null;
}

/** JSON-friendly values: bigints become numbers when safe, else strings. */
export function plain(value: unknown): unknown {
  if (typeof value === "bigint") return Number.isSafeInteger(Number(value)) ? Number(value) : value.toString();
  return value;
}
