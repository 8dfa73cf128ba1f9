/**
 * Runs a suite over a partition's frame in one pass: a single lazy query (one collect) evaluates
 * every row check into a boolean "fails" column, plus the quarantine flag and the table-level
 * aggregates. Checks are never evaluated again: what follows reads that result's boolean flags,
 * one select of sums for the counts, one filter for the valid rows (no copy when nothing is
 * quarantined), one for the few failing rows, from which the quarantined rows (with reasons) and
 * each failing check's first five samples are cut.
 *
 * - Frames from the extract stage carry `_error` (decode error, null when the record decoded) and
 *   `_page`/`_row`. A non-null `_error` is the built-in check "decodes" (severity error, action
 *   quarantine, allowance suite.decodeAllowance), whose reason is the `_error` text itself.
 * - `_reason` lists, joined by "; ", the decode error and then the name of every error-severity
 *   quarantine check the row failed, in suite order. Warnings add no reason.
 * - A result's `action` is what applies: "block" for a quarantine check over its allowance.
 */
import pl from "nodejs-polars";
import { ConfigError, SchemaError } from "../core/errors.ts";
import {
  DECODE_CHECK,
  TABLE_LEVEL_KINDS,
  dtypeName,
  type CheckSpec,
  type CompareOp,
  type Scalar,
  type Suite,
  type ValidationContext,
} from "./suite.ts";
import type { CheckResult, FailingSample, FailureAction, Severity } from "./types.ts";

/** Extract-stage columns: the decode error (null when the record decoded) and the record's origin. */
export const ERROR_COLUMN = "_error";
export const PAGE_COLUMN = "_page";
export const ROW_COLUMN = "_row";
/** Column of `quarantined` holding why a row was quarantined. */
export const REASON_COLUMN = "_reason";
const REASON_SEPARATOR = "; ";
const SAMPLE_SIZE = 5;
const HELPER = "__sluice_v_";

/** A CheckResult with what a human needs to understand it (a subtype: usable as CheckResult). */
export interface CheckReport extends CheckResult {
  description: string;
  /** Rows in the partition the check looked at. */
  rows: number;
  /** Fraction of rows allowed to fail (quarantine checks of severity error), else null. */
  allowance: number | null;
  /** Why it failed, in words (table-level result, allowance exceeded), or why it was skipped; else null. */
  detail: string | null;
}

export interface ValidationOutcome {
  /** Rows that load: all rows minus quarantined ones, without helper or extract columns. */
  valid: pl.DataFrame;
  /** Failing rows (original columns, `_page`/`_row` kept) plus `_reason` (Utf8). */
  quarantined: pl.DataFrame;
  /** One per check in suite order, preceded by "decodes" when the frame has `_error`. */
  results: CheckReport[];
  /** The checks that block the partition; empty means it may load. */
  blocked: CheckReport[];
}

/** A check compiled against a frame's schema. */
interface RowPlan {
  /** The suite's check, or null for the built-in decode check. */
  check: CheckSpec | null;
  name: string;
  severity: Severity;
  onFail: FailureAction;
  allowance: number;
  description: string;
  columns: string[];
  /** True where the row fails; never null. */
  fail: pl.Expr;
  /** Name of its boolean column, and of its failing-row count in the sums. */
  flag: string;
  /** Columns whose values a failing sample shows. */
  valueColumns: string[];
}

/** Validates a partition's frame against a suite; see ValidationOutcome. */
export function validate(frame: pl.DataFrame, suite: Suite, context: ValidationContext): ValidationOutcome {
  const schema = frame.schema;
  const columns = frame.columns;
  const has = (c: string) => columns.includes(c);
  const schemaError = (message: string) =>
    new SchemaError(`validating ${suite.table}: ${message}`, { context: { table: suite.table, stage: "validate" } });

  if (has(REASON_COLUMN)) throw schemaError(`the frame already has a column named ${REASON_COLUMN}`);
  if (columns.some((c) => c.startsWith(HELPER))) throw schemaError(`columns starting with ${HELPER} are reserved`);
  for (const c of suite.key) if (!has(c)) throw schemaError(`the frame has no key column ${c}`);
  for (const check of suite.checks) {
    if (check.kind === "dtype") continue; // a missing column is that check's failure, not an error
    const missing = check.columns.find((c) => !has(c));
    if (missing) throw schemaError(`check "${check.name}" reads column ${missing}, which the frame does not have`);
  }

  // A record that failed to decode has null where the bad value was, so it may also fail that
  // column's not_null check: both reasons are listed (the decode error first), which keeps every
  // broken field of the record named.
  const decodes = has(ERROR_COLUMN);
  const plans: RowPlan[] = [];
  if (decodes) {
    plans.push({
      check: null, name: DECODE_CHECK, severity: "error", onFail: "quarantine", allowance: suite.decodeAllowance,
      description: "the record decoded into the table's columns and types", columns: [ERROR_COLUMN],
      fail: pl.col(ERROR_COLUMN).isNotNull(), flag: `${HELPER}f0`, valueColumns: [ERROR_COLUMN],
    });
  }
  const tableAggs: pl.Expr[] = [];
  const freshness = new Map<CheckSpec, { newest: string; fresh: string }>();
  const skipped = new Map<CheckSpec, CheckReport>();
  suite.checks.forEach((check, i) => {
    if (check.kind === "foreign_key" && check.severity === "warn" && context.foreignKeys?.[check.references] === undefined) {
      // A warning without reference values (e.g. a preview run that does not open the warehouse)
      // is reported as skipped; an error-severity one throws in compileRowCheck instead.
      skipped.set(check, {
        check: check.name, table: suite.table, columns: check.columns, severity: check.severity, action: check.onFail,
        passed: true, failingRows: 0, sample: [], description: check.description, rows: frame.height,
        allowance: null, detail: `skipped: no reference values for ${check.references} in the validation context`,
      });
      return;
    }
    if (TABLE_LEVEL_KINDS.has(check.kind)) {
      if (check.kind === "freshness") {
        const newest = `${HELPER}t${i}`;
        const fresh = `${HELPER}ok${i}`;
        const threshold = new Date(context.window.end.getTime() - check.maxAgeHours * 3_600_000);
        const max = pl.col(check.column).max();
        tableAggs.push(max.alias(newest), max.gtEq(literal(threshold, schema[check.column])).fillNull(false).alias(fresh));
        freshness.set(check, { newest, fresh });
      }
      return;
    }
    const fail = compileRowCheck(check, schema, context, suite.table).fillNull(false);
    plans.push({
      check, name: check.name, severity: check.severity, onFail: check.onFail, allowance: check.allowance,
      description: check.description, columns: check.columns, fail,
      flag: `${HELPER}f${i + 1}`, valueColumns: check.columns,
    });
  });

  const quarantining = plans.filter((p) => p.severity === "error" && p.onFail === "quarantine");
  const QUARANTINE = `${HELPER}q`;
  const ANY_FAILED = `${HELPER}any`;
  // pl.col([...]) selects several columns in one expression node: nodejs-polars allocates a heavy
  // JS object per node (~0.8 ms of CPU here), so multi-column nodes keep the overhead flat.
  const anyOf = (list: RowPlan[]) => (list.length ? pl.anyHorizontal(pl.col(list.map((p) => p.flag))) : pl.lit(false));

  // The one pass over the input: a boolean per check, the rows to quarantine, the table aggregates.
  const query = frame
    .lazy()
    .withColumns(...plans.map((p) => p.fail.alias(p.flag)))
    .withColumns(anyOf(quarantining).alias(QUARANTINE), anyOf(plans).alias(ANY_FAILED), ...tableAggs);
  let flagged: pl.DataFrame;
  try {
    flagged = query.collectSync();
  } catch (error) {
    throw pinpoint(error, frame, plans, suite.table);
  }
  const helpers = [...plans.map((p) => p.flag), QUARANTINE, ANY_FAILED, ...[...freshness.values()].flatMap((f) => [f.newest, f.fresh])];

  // Then one select of sums over the boolean flags (and the broadcast aggregates' values).
  const counted = [...plans.map((p) => p.flag), QUARANTINE];
  const aggregated = [...freshness.values()].flatMap((f) => [f.newest, f.fresh]);
  const scalars: Record<string, unknown> = flagged
    .lazy()
    .select(pl.col(counted).sum(), ...(aggregated.length ? [pl.col(aggregated).first()] : []))
    .collectSync()
    .toRecords()[0] ?? {};
  const scalarAt = (name: string): unknown => scalars[name] ?? null;
  const rows = flagged.height;
  const keyColumns = [...suite.key, ...[PAGE_COLUMN, ROW_COLUMN].filter((c) => has(c) && !suite.key.includes(c))];
  // Every row that failed anything (usually few): samples and quarantine are cut from this.
  const failing = flagged.lazy().filter(pl.col(ANY_FAILED)).collectSync();
  const failingPlans = plans.filter((p) => Number(scalarAt(p.flag) ?? 0) > 0);
  const samples = sampleRows(failing, failingPlans, keyColumns);

  const results: CheckReport[] = [];
  const reportOf = new Map<CheckSpec | null, CheckReport>();
  for (const p of plans) {
    const failingRows = Number(scalarAt(p.flag) ?? 0);
    const quarantines = p.severity === "error" && p.onFail === "quarantine";
    // failingRows / rows, not allowance * rows: 0.29 * 100 is 28.999999999999996 in binary floating point.
    const overAllowance = quarantines && rows > 0 && failingRows / rows > p.allowance;
    const blocks = p.severity === "error" && failingRows > 0 && (p.onFail === "block" || overAllowance);
    const report: CheckReport = {
      check: p.name, table: suite.table, columns: p.columns, severity: p.severity,
      // The action that actually applies: a quarantine check over its allowance blocks.
      action: blocks ? "block" : p.onFail,
      passed: failingRows === 0, failingRows,
      sample: samples.get(p) ?? [],
      description: p.description, rows, allowance: quarantines ? p.allowance : null,
      detail: overAllowance
        ? `${failingRows} of ${rows} rows (${percent(failingRows / rows)}) failed, more than the allowance of ${percent(p.allowance)}`
        : failingRows > 0 ? `${failingRows} of ${rows} rows failed` : null,
    };
    reportOf.set(p.check, report);
  }
  if (decodes) results.push(reportOf.get(null) as CheckReport);
  for (const check of suite.checks) {
    results.push(reportOf.get(check) ?? skipped.get(check) ?? tableReport(check, suite.table, schema, rows, context, freshness.get(check), scalarAt));
  }

  const notLoaded = [...helpers, ...[ERROR_COLUMN, PAGE_COLUMN, ROW_COLUMN].filter(has)];
  const valid = Number(scalarAt(QUARANTINE) ?? 0) === 0
    ? flagged.drop(notLoaded) // nothing to remove: no copy
    : flagged.lazy().filter(pl.col(QUARANTINE).not()).drop(notLoaded).collectSync();
  // Reasons only from checks that failed somewhere (fewer expressions to build).
  const reasons = quarantining.filter((p) => failingPlans.includes(p)).map((p) =>
    pl.when(pl.col(p.flag)).then(p.check ? pl.lit(p.name) : pl.col(ERROR_COLUMN)).otherwise(pl.lit(null)),
  );
  const quarantined = failing
    .lazy()
    .filter(pl.col(QUARANTINE))
    .withColumns((reasons.length ? pl.concatString(reasons, REASON_SEPARATOR, true) : pl.lit(null).cast(pl.Utf8)).alias(REASON_COLUMN))
    .drop(helpers)
    .collectSync();

  return { valid, quarantined, results, blocked: results.filter((r) => r.action === "block" && !r.passed && r.severity === "error") };
}

/** The boolean "row fails" expression of a row-level check (may be null where a value is null). */
function compileRowCheck(check: CheckSpec, schema: Record<string, pl.DataType>, context: ValidationContext, table: string): pl.Expr {
  const bad = (message: string) =>
    new ConfigError(`validation suite "${table}": check "${check.name}": ${message}`, { context: { table, stage: "validate" } });
  const resolve = <T>(value: T | ((c: ValidationContext) => T), what: string): T => {
    if (typeof value !== "function") return value;
    try {
      return (value as (c: ValidationContext) => T)(context);
    } catch (error) {
      throw bad(`${what} could not be computed: ${error instanceof Error ? error.message : String(error)}`);
    }
  };
  const scalar = (value: unknown, what: string): Scalar => {
    const ok = ["string", "number", "bigint", "boolean"].includes(typeof value) ||
      (value instanceof Date && !Number.isNaN(value.getTime()));
    if (!ok) throw bad(`${what} resolved to ${String(value)}, not a string, number, bigint, boolean or valid Date`);
    return value as Scalar;
  };
  const valuesSeries = (values: readonly unknown[], dtype: pl.DataType | undefined, what: string): pl.Series => {
    try {
      const series = pl.Series.isSeries(values) ? values : pl.Series("values", [...values]);
      return (dtype ? series.cast(dtype, true) : series).implode();
    } catch (error) {
      throw bad(`${what} cannot be cast to the column's dtype ${dtype ? dtypeName(dtype) : "?"}: ${firstLine(error)}`);
    }
  };

  // Value checks rely on null propagation: a comparison with a null is null, and the caller's
  // fillNull(false) makes that a pass. No explicit isNotNull() guards: nodejs-polars allocates a
  // heavy JS object per expression node, so fewer nodes is measurably faster to build.
  const all = (exprs: pl.Expr[]) => exprs.reduce((a, b) => a.and(b));
  switch (check.kind) {
    case "not_null":
      return pl.col(check.column).isNull();
    case "unique": {
      // Nulls form one group in over(), so they need the explicit guard here.
      const cols = check.columns.map((c) => pl.col(c));
      const [first, ...rest] = cols;
      // Group sizes over the key: exact, and about 40% less CPU than isDuplicated() on strings here.
      return all(cols.map((c) => c.isNotNull())).and(pl.len().over(first as pl.Expr, ...rest).gt(1));
    }
    case "compare": {
      const value = literal(scalar(resolve(check.value, "value"), "value"), schema[check.column]);
      return compare(pl.col(check.column), check.op, value).not();
    }
    case "between": {
      const col = pl.col(check.column);
      const ok: pl.Expr[] = [];
      const inclusiveMin = check.closed === "both" || check.closed === "left";
      const inclusiveMax = check.closed === "both" || check.closed === "right";
      if (check.min !== undefined) {
        const min = literal(scalar(resolve(check.min, "min"), "min"), schema[check.column]);
        ok.push(inclusiveMin ? col.gtEq(min) : col.gt(min));
      }
      if (check.max !== undefined) {
        const max = literal(scalar(resolve(check.max, "max"), "max"), schema[check.column]);
        ok.push(inclusiveMax ? col.ltEq(max) : col.lt(max));
      }
      return all(ok).not();
    }
    case "is_in":
    case "not_in": {
      const values = resolve<readonly Scalar[]>(check.values, "values");
      if (!Array.isArray(values)) throw bad(`values resolved to ${String(values)}, not an array`);
      values.forEach((v, i) => scalar(v, `values[${i}]`));
      const member = pl.col(check.column).isIn(valuesSeries(values, schema[check.column], "values"));
      return check.kind === "is_in" ? member.not() : member;
    }
    case "matches":
      return pl.col(check.column).str.contains(check.pattern).not();
    case "str_length": {
      const length = pl.col(check.column).str.lengths();
      const ok: pl.Expr[] = [];
      if (check.min !== undefined) ok.push(length.gtEq(check.min));
      if (check.max !== undefined) ok.push(length.ltEq(check.max));
      return all(ok).not();
    }
    case "column_compare":
      return compare(pl.col(check.left), check.op, pl.col(check.right)).not();
    case "foreign_key": {
      const values = context.foreignKeys?.[check.references];
      if (values === undefined) {
        throw bad(`no reference values for ${check.references}: pass them as context.foreignKeys["${check.references}"]`);
      }
      return pl.col(check.column).isIn(valuesSeries(values as readonly unknown[], schema[check.column], check.references)).not();
    }
    case "custom": {
      const expr = resolve(check.expr, "expr");
      if (!(expr instanceof Object) || typeof (expr as { not?: unknown }).not !== "function") throw bad("expr did not return a Polars expression");
      return expr.not();
    }
    case "dtype":
    case "row_count":
    case "freshness":
      throw new Error(`unreachable: ${check.kind} is table-level`);
  }
}

/** A literal for comparing with a column: Dates take the column's time unit and zone, integers its width. */
function literal(value: Scalar, dtype: pl.DataType | undefined): pl.Expr {
  const lit = pl.lit(value);
  if (!dtype) return lit;
  const variant = dtype.variant;
  if (value instanceof Date && (variant === "Datetime" || variant === "Date")) return lit.cast(dtype);
  // Without the cast Polars widens an Int64 column to Float64 to compare with a JS number.
  if (typeof value === "number" && Number.isSafeInteger(value) && /^U?Int(8|16|32|64)$/.test(variant)) return lit.cast(dtype);
  if (typeof value === "bigint" && /^U?Int(8|16|32|64)$/.test(variant)) return lit.cast(dtype);
  return lit;
}

function compare(left: pl.Expr, op: CompareOp, right: pl.Expr): pl.Expr {
  switch (op) {
    case "eq": return left.eq(right);
    case "ne": return left.neq(right);
    case "gt": return left.gt(right);
    case "ge": return left.gtEq(right);
    case "lt": return left.lt(right);
    case "le": return left.ltEq(right);
  }
}

/** Results of dtype, row_count and freshness checks, from the schema, the height and the query (validate-chunks.ts too). */
export function tableReport(
  check: CheckSpec,
  table: string,
  schema: Record<string, pl.DataType>,
  rows: number,
  context: ValidationContext,
  fresh: { newest: string; fresh: string } | undefined,
  scalarAt: (name: string) => unknown,
): CheckReport {
  let passed = true;
  let value: unknown = null;
  let detail: string | null = null;
  switch (check.kind) {
    case "dtype": {
      const actual = schema[check.column];
      value = actual ? dtypeName(actual) : null;
      passed = actual !== undefined && actual.equals(check.dtype);
      if (!passed) detail = actual ? `dtype is ${dtypeName(actual)}, expected ${dtypeName(check.dtype)}` : `column ${check.column} is missing`;
      break;
    }
    case "row_count":
      value = rows;
      passed = (check.min === undefined || rows >= check.min) && (check.max === undefined || rows <= check.max);
      if (!passed) detail = `${rows} rows, expected ${check.min ?? 0} to ${check.max ?? "any number of"}`;
      break;
    case "freshness": {
      value = fresh ? scalarAt(fresh.newest) : null;
      passed = fresh !== undefined && scalarAt(fresh.fresh) === true;
      if (!passed) {
        detail = value instanceof Date
          ? `newest ${check.column} is ${value.toISOString()}, ${((context.window.end.getTime() - value.getTime()) / 3_600_000).toFixed(1)} h before the partition's end (at most ${check.maxAgeHours} h allowed)`
          : `no ${check.column} value at all`;
      }
      break;
    }
    default:
      throw new Error(`unreachable: ${check.kind} is row-level`);
  }
  const blocks = !passed && check.severity === "error";
  return {
    check: check.name, table, columns: check.columns, severity: check.severity, action: blocks ? "block" : check.onFail,
    passed, failingRows: 0, sample: passed ? [] : [{ key: {}, value: plain(value) }],
    description: check.description, rows, allowance: null, detail,
  };
}

/** The first few failing rows of each check, with the suite's key (and the record's page/row when known). */
function sampleRows(failing: pl.DataFrame, plans: RowPlan[], keyColumns: string[]): Map<RowPlan, FailingSample[]> {
  const out = new Map<RowPlan, FailingSample[]>();
  if (plans.length === 0) return out;
  // One query keeps the rows that are among the first SAMPLE_SIZE failures of any check
  // (at most SAMPLE_SIZE per check), so JS only ever sees a handful of rows.
  const flags = plans.map((p) => p.flag);
  const firstFailures = pl.col(flags).and(pl.col(flags).cumSum().ltEq(SAMPLE_SIZE));
  const records = failing.lazy().filter(pl.anyHorizontal(firstFailures)).collectSync().toRecords();
  for (const plan of plans) {
    const samples = records.filter((row) => row[plan.flag] === true).slice(0, SAMPLE_SIZE).map((row) => {
      const key: Record<string, unknown> = {};
      for (const c of keyColumns) key[c] = plain(row[c]);
      const value = plan.valueColumns.length === 1
        ? plain(row[plan.valueColumns[0] as string])
        : Object.fromEntries(plan.valueColumns.map((c) => [c, plain(row[c])]));
      return { key, value };
    });
    out.set(plan, samples);
  }
  return out;
}

/** JSON-friendly values: bigints become numbers when safe, else strings. */
function plain(value: unknown): unknown {
  if (typeof value === "bigint") return Number.isSafeInteger(Number(value)) ? Number(value) : value.toString();
  return value;
}

function percent(fraction: number): string {
  return `${(fraction * 100).toFixed(fraction < 0.01 && fraction > 0 ? 2 : 1)}%`;
}

function firstLine(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split("\n")[0] ?? "";
}

/** Re-runs each check alone on the empty frame to name the one Polars rejected (e.g. a type mismatch). */
function pinpoint(error: unknown, frame: pl.DataFrame, plans: RowPlan[], table: string): Error {
  const empty = frame.head(0).lazy();
  for (const p of plans) {
    try {
      empty.select(p.fail.alias("x")).collectSync();
    } catch (inner) {
      return new ConfigError(
        `validation suite "${table}": check "${p.name}" cannot run on this frame (columns ${p.columns.map((c) => `${c}: ${frame.schema[c] ? dtypeName(frame.schema[c]) : "?"}`).join(", ")}): ${firstLine(inner)}`,
        { cause: inner, context: { table, stage: "validate" } },
      );
    }
  }
  return error instanceof Error ? error : new Error(String(error));
}

/** A one-paragraph message naming each blocking check and a few failing values, for ValidationBlockedError. */
export function describeBlocked(blocked: CheckResult[]): string {
  if (blocked.length === 0) return "no check blocks the partition";
  const table = blocked[0]?.table ?? "?";
  const parts = blocked.map((r) => {
    const detail = "detail" in r && typeof r.detail === "string" ? r.detail : `${r.failingRows} rows failed`;
    const examples = r.failingRows > 0 && r.sample.length
      ? `, e.g. ${r.sample.slice(0, 3).map(showSample).join(", ")}`
      : "";
    return `"${r.check}" (${detail}${examples})`;
  });
  const n = blocked.length;
  return `Validation of ${table} blocked the partition: ${n} check${n === 1 ? "" : "s"} failed: ${parts.join("; ")}. Nothing of the partition was loaded.`;
}

function showSample(sample: FailingSample): string {
  const key = Object.entries(sample.key).map(([k, v]) => `${k}=${showValue(v)}`).join(" ");
  return key ? `${showValue(sample.value)} at ${key}` : showValue(sample.value);
}

function showValue(value: unknown): string {
  if (value instanceof Date) return value.toISOString();
  if (value === null || value === undefined) return "null";
  if (typeof value === "object") return JSON.stringify(value, (_k, v: unknown) => (typeof v === "bigint" ? v.toString() : v));
  return typeof value === "string" ? JSON.stringify(value) : String(value);
}
