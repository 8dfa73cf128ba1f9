/**
 * Runs a suite over a partition's frame in one pass: a single lazy query (one collect) evaluates
 * every row check into a boolean "fails" column (after left-joining the foreign keys' reference
 * keys), plus the quarantine flag. Checks are never evaluated again: what follows reads that
 * result's boolean flags, one select of sums for the counts and the table-level aggregates, one
 * filter for the valid rows (no copy when nothing is quarantined), one for the few failing rows,
 * from which the quarantined rows (with reasons) and each failing check's first five samples are cut.
 *
 * - Frames from the extract stage carry `_error` (decode error, null when the record decoded) and
 *   `_page`/`_row`. A non-null `_error` is the built-in check "decodes" (severity error, action
 *   quarantine, allowance suite.decodeAllowance), whose reason is the `_error` text itself.
 * - `_reason` lists, joined by "; ", the decode error and then the name of every error-severity
 *   quarantine check the row failed, in suite order. Warnings add no reason. A not_null check does
 *   not fail on the column the decode error names (the decoder nulled it): one reason per field.
 * - A result's `action` is what applies: "block" for a quarantine check over its block limit.
 */
import pl from "nodejs-polars";
import { ConfigError, SchemaError } from "../core/errors.ts";
import { DECODE_CHECK, TABLE_LEVEL_KINDS, type CheckSpec, type Suite, type ValidationContext } from "./check-types.ts";
import { dtypeName } from "./describe.ts";
import { planForeignKey } from "./foreign-keys.ts";
import { rowReport, sampleRows, skippedReport } from "./results.ts";
import { compileRowCheck, firstLine, type RowPlan } from "./row-checks.ts";
import { partitionFilter, planTableCheck, type ScalarAt, type TablePlan } from "./table-checks.ts";
import { limitsOf } from "./thresholds.ts";
import type { CheckReport } from "./types.ts";
import { schemaOf } from "../core/frame-schema.ts";
import { aliasOnce, exprOnce } from "../core/expr-memo.ts";

export { describeBlocked } from "./results.ts";

/** Extract-stage columns: the decode error (null when the record decoded) and the record's origin. */
export const ERROR_COLUMN = "_error";
export const PAGE_COLUMN = "_page";
export const ROW_COLUMN = "_row";
/** Column of `quarantined` holding why a row was quarantined. */
export const REASON_COLUMN = "_reason";
const REASON_SEPARATOR = "; ";
const HELPER = "__sluice_v_";
const QUARANTINE = `${HELPER}q`;
const ANY_FAILED = `${HELPER}any`;
const PARTITION_ROWS = `${HELPER}rows`;

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

/** A suite compiled against one frame: row plans, table plans, and the checks that cannot run. */
interface Compiled {
  plans: RowPlan[];
  tables: TablePlan[];
  skipped: Map<CheckSpec, CheckReport>;
  inPartition: pl.Expr | null;
}

/** The pass's output: every input column plus the helper flags, and the select of sums. */
interface Pass {
  flagged: pl.DataFrame;
  helpers: string[];
  scalarAt: ScalarAt;
}

/**
 * Compiled row checks of one validation context, by check and column schema: chunks of a partition
 * share their context, so even checks whose expressions depend on it compile once for them all.
 */
export type RowCheckCache = Map<CheckSpec, Map<string, pl.Expr>>;

/** What a caller validating many frames (the chunks of a partition) already has. */
export interface ValidateOptions {
  /** Compiled row checks of this same context. */
  rowChecks?: RowCheckCache;
  /** The frame's schema (nodejs-polars' frame.schema builds a Series per column, ~1 ms each). */
  schema?: Record<string, pl.DataType>;
}

/** Validates a partition's frame against a suite; see ValidationOutcome. */
export function validate(frame: pl.DataFrame, suite: Suite, context: ValidationContext, options: ValidateOptions = {}): ValidationOutcome {
  return collectEachSync(validation(frame, suite, context, options));
}

/**
 * validate(), its queries collected off the main thread: the event loop stays free meanwhile (a
 * chunk validated while the listing goes on held it 50-110 ms per 130K rows, delaying responses).
 */
export function validateAsync(frame: pl.DataFrame, suite: Suite, context: ValidationContext, options: ValidateOptions = {}): Promise<ValidationOutcome> {
  return collectEach(validation(frame, suite, context, options));
}

/** The steps of a validation: yields each query to collect and is resumed with its result (or its error). */
type Steps<T> = Generator<pl.LazyDataFrame, T, pl.DataFrame>;

/** Runs `steps`, collecting each query on the main thread. */
function collectEachSync<T>(steps: Steps<T>): T {
  let step = steps.next();
  while (!step.done) {
    let frame: pl.DataFrame;
    try {
      frame = step.value.collectSync();
    } catch (error) {
      step = steps.throw(error);
      continue;
    }
    step = steps.next(frame);
  }
  return step.value;
}

/** Runs `steps`, collecting each query on Polars' threads. */
async function collectEach<T>(steps: Steps<T>): Promise<T> {
  let step = steps.next();
  while (!step.done) {
    let frame: pl.DataFrame;
    try {
      frame = await step.value.collect();
    } catch (error) {
      step = steps.throw(error);
      continue;
    }
    step = steps.next(frame);
  }
  return step.value;
}

function* validation(frame: pl.DataFrame, suite: Suite, context: ValidationContext, options: ValidateOptions): Steps<ValidationOutcome> {
  checkFrame(frame, suite);
  const compiled = compileSuite(frame, suite, context, options);
  const pass = yield* runPass(frame, compiled, suite.table);
  const { flagged, helpers, scalarAt } = pass;
  const has = (c: string) => flagged.columns.includes(c);
  const count = (flag: string) => Number(scalarAt(flag) ?? 0);
  const failingPlans = compiled.plans.filter((p) => count(p.flag) > 0);
  // Every row that failed anything (usually few, often none: then no query): samples and quarantine are cut from this.
  const failing = failingPlans.length > 0 ? yield flagged.lazy().filter(pl.col(ANY_FAILED)) : flagged.head(0);
  const keyColumns = [...suite.key, ...[PAGE_COLUMN, ROW_COLUMN].filter((c) => has(c) && !suite.key.includes(c))];
  const samples = sampleRows(failing, failingPlans, keyColumns);

  const reportOf = new Map<CheckSpec | null, CheckReport>(compiled.skipped);
  for (const p of compiled.plans) reportOf.set(p.check, rowReport(p, suite.table, count(p.flag), flagged.height, samples.get(p) ?? []));
  const partitionRows = compiled.inPartition === null ? flagged.height : count(PARTITION_ROWS);
  for (const t of compiled.tables) reportOf.set(t.check, t.report(scalarAt, partitionRows));
  const results = [...(reportOf.has(null) ? [reportOf.get(null) as CheckReport] : []), ...suite.checks.map((c) => reportOf.get(c) as CheckReport)];

  const notLoaded = [...helpers, ...[ERROR_COLUMN, PAGE_COLUMN, ROW_COLUMN].filter(has)];
  const valid = count(QUARANTINE) === 0
    ? flagged.drop(notLoaded) // nothing to remove: no copy
    : yield flagged.lazy().filter(pl.col(QUARANTINE).not()).drop(notLoaded);
  const quarantined = yield* quarantinedRows(failing, failingPlans, helpers, count(QUARANTINE));
  return { valid, quarantined, results, blocked: results.filter((r) => r.action === "block" && !r.passed && r.severity === "error") };
}

/** The failing rows to quarantine, each with its reasons: none (and no query) when no row is to be quarantined. */
function* quarantinedRows(failing: pl.DataFrame, failingPlans: RowPlan[], helpers: string[], quarantinedCount: number): Steps<pl.DataFrame> {
  if (quarantinedCount === 0) return failing.head(0).drop(helpers).hstack(pl.DataFrame([pl.Series(REASON_COLUMN, [], pl.Utf8)]));
  // Reasons only from checks that failed somewhere (fewer expressions to build).
  const reasons = failingPlans.filter(quarantines).map(reasonOf);
  return yield failing
    .lazy()
    .filter(pl.col(QUARANTINE))
    .withColumns((reasons.length ? pl.concatString(reasons, REASON_SEPARATOR, true) : pl.lit(null).cast(pl.Utf8)).alias(REASON_COLUMN))
    .drop(helpers);
}

/** Schema errors that make a suite unable to run on this frame at all. */
function checkFrame(frame: pl.DataFrame, suite: Suite): void {
  const columns = frame.columns;
  const schemaError = (message: string) =>
    new SchemaError(`validating ${suite.table}: ${message}`, { context: { table: suite.table, stage: "validate" } });
  if (columns.includes(REASON_COLUMN)) throw schemaError(`the frame already has a column named ${REASON_COLUMN}`);
  if (columns.some((c) => c.startsWith(HELPER))) throw schemaError(`columns starting with ${HELPER} are reserved`);
  for (const c of suite.key) if (!columns.includes(c)) throw schemaError(`the frame has no key column ${c}`);
  for (const check of suite.checks) {
    // A missing column is a dtype check's failure, and the field a presence check looks for may be gone.
    if (check.kind === "dtype" || check.kind === "presence") continue;
    const missing = check.columns.find((c) => !columns.includes(c));
    if (missing) throw schemaError(`check "${check.name}" reads column ${missing}, which the frame does not have`);
  }
}

/** Compiles every check against the frame's schema: row plans (foreign keys as joins), table plans, skips. */
function compileSuite(frame: pl.DataFrame, suite: Suite, context: ValidationContext, options: ValidateOptions): Compiled {
  const schema = options.schema ?? schemaOf(frame);
  const plans: RowPlan[] = [];
  const tables: TablePlan[] = [];
  const skipped = new Map<CheckSpec, CheckReport>();
  // A record that failed to decode has null where the bad value was: that column's not_null check
  // does not fail for it (the decode reason already names the field), while other null fields of
  // the record still fail theirs, so every broken field is named once.
  if (frame.columns.includes(ERROR_COLUMN)) {
    plans.push({
      check: null, name: DECODE_CHECK, severity: "error", onFail: "quarantine", description: "the record decoded into the table's columns and types",
      limits: limitsOf({ severity: "error", onFail: "quarantine", allowance: suite.decodeAllowance }),
      columns: [ERROR_COLUMN], fail: exprOnce("decode-fail", () => pl.col(ERROR_COLUMN).isNotNull()), flag: `${HELPER}f0`, valueColumns: [ERROR_COLUMN],
    });
  }
  const inPartition = partitionFilter(schema, context);
  const scope = { table: suite.table, schema, context, inPartition, helper: HELPER };
  suite.checks.forEach((check, i) => {
    if (TABLE_LEVEL_KINDS.has(check.kind)) {
      tables.push(planTableCheck(check, i, scope));
      return;
    }
    const base = { check, name: check.name, severity: check.severity, onFail: check.onFail, limits: limitsOf(check), description: check.description, columns: check.columns, flag: `${HELPER}f${i + 1}`, valueColumns: check.columns };
    const fk = check.kind === "foreign_key" ? planForeignKey(check, i, schema, context, suite.table, HELPER) : { kind: "values" as const };
    if (fk.kind === "skipped") skipped.set(check, skippedReport(base, suite.table, frame.height, fk.detail));
    else if (fk.kind === "join") plans.push({ ...base, fail: fk.fail.fillNull(false), join: fk.join });
    else plans.push({ ...base, fail: rowCheckFail(check, frame.columns, schema, context, suite.table, options.rowChecks) });
  });
  return { plans, tables, skipped, inPartition };
}

/**
 * Compiled row-check expressions of checks whose parameters are plain values, by the dtypes of the
 * columns they read: building Polars expressions costs ~1 ms of JS per node in nodejs-polars, which
 * a small partition (an incremental rerun) would otherwise pay on every run. Expressions are
 * immutable, so one can serve every frame of the same schema.
 */
const compiledRowChecks = new WeakMap<CheckSpec, Map<string, pl.Expr>>();

/** The check's per-row failure flag (null counts as a pass), compiled once per column schema when it can be. */
function rowCheckFail(check: CheckSpec, columns: string[], schema: pl.DataFrame["schema"], context: ValidationContext, table: string, cache?: RowCheckCache): pl.Expr {
  const compile = () => notDecodeNulled(check, columns, compileRowCheck(check, schema, context, table).fillNull(false));
  const store = contextFree(check) ? compiledRowChecks : cache;
  if (!store) return compile();
  const signature = [columns.includes(ERROR_COLUMN), ...check.columns.map((c) => `${c}:${String(schema[c])}`)].join("|");
  let bySchema = store.get(check);
  if (!bySchema) store.set(check, (bySchema = new Map()));
  let fail = bySchema.get(signature);
  if (!fail) bySchema.set(signature, (fail = compile()));
  return fail;
}

/** True when a check's expression depends on nothing but its own declaration and the column types. */
function contextFree(check: CheckSpec): boolean {
  return check.kind !== "foreign_key" && check.kind !== "custom" && !Object.values(check).some((v) => typeof v === "function");
}

/**
 * A not_null check passes a row whose decode error is about its column: `_error` starts with the
 * issue's dotted field and ": " (extract's formatDecodeIssue), the column being the field's leaf key.
 */
function notDecodeNulled(check: CheckSpec, columns: string[], fail: pl.Expr): pl.Expr {
  if (check.kind !== "not_null" || !columns.includes(ERROR_COLUMN)) return fail;
  const pattern = `^(?:[^:\\s]+\\.)?${check.column.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}: `;
  return fail.and(pl.col(ERROR_COLUMN).str.contains(pattern).fillNull(false).not());
}

/**
 * A failing plan's reason expression (its name, or the decode error), by flag and name: a chunked
 * partition validates chunk after chunk with the same plans, and each expression node costs ~1 ms of JS.
 */
function reasonOf(p: RowPlan): pl.Expr {
  return exprOnce(`reason|${p.flag}\u0000${p.check ? p.name : ""}`, () => pl.when(pl.col(p.flag)).then(p.check ? pl.lit(p.name) : pl.col(ERROR_COLUMN)).otherwise(pl.lit(null)));
}

function quarantines(p: RowPlan): boolean {
  return p.severity === "error" && p.onFail === "quarantine";
}

/** The one pass over the input (joins, a boolean per check, the quarantine flag), then the select of sums. */
function* runPass(frame: pl.DataFrame, compiled: Compiled, table: string): Steps<Pass> {
  const { plans, tables, inPartition } = compiled;
  // pl.col([...]) selects several columns in one expression node: nodejs-polars allocates a heavy
  // JS object per node (~0.8 ms of CPU here), so multi-column nodes keep the overhead flat.
  const anyOf = (list: RowPlan[], name: string) => {
    const flags = list.map((p) => p.flag);
    return exprOnce(`any|${name}|${flags.join(",")}`, () => (flags.length ? pl.anyHorizontal(pl.col(flags)) : pl.lit(false)).alias(name));
  };
  let query = frame.lazy();
  for (const { join } of plans) {
    if (join) query = query.join(join.right, { leftOn: join.leftOn, rightOn: join.rightOn, how: "left", maintainOrder: "left", coalesce: true });
  }
  query = query
    .withColumns(...plans.map((p) => aliasOnce(p.fail, p.flag)))
    .withColumns(anyOf(plans.filter(quarantines), QUARANTINE), anyOf(plans, ANY_FAILED));
  let flagged: pl.DataFrame;
  try {
    flagged = yield query;
  } catch (error) {
    throw pinpoint(error, frame, plans.map((p) => ({ name: p.name, columns: p.columns, exprs: [p.fail], join: p.join })), table);
  }
  const markers = plans.flatMap((p) => (p.join ? [p.join.marker] : []));
  const counted = [...plans.map((p) => p.flag), QUARANTINE];
  const sums = [exprOnce(`sum|${counted.join(",")}`, () => pl.col(counted).sum()), ...(inPartition ? [inPartition.sum().alias(PARTITION_ROWS)] : []), ...tables.flatMap((t) => t.exprs)];
  let scalars: Record<string, unknown>;
  try {
    scalars = (yield flagged.lazy().select(...sums)).toRecords()[0] ?? {};
  } catch (error) {
    throw pinpoint(error, frame, tables.map((t) => ({ name: t.check.name, columns: t.check.columns, exprs: t.exprs })), table);
  }
  return { flagged, helpers: [...counted, ANY_FAILED, ...markers], scalarAt: (name) => scalars[name] ?? null };
}

/** Re-runs each check alone on the empty frame to name the one Polars rejected (e.g. a type mismatch). */
function pinpoint(error: unknown, frame: pl.DataFrame, parts: Array<{ name: string; columns: string[]; exprs: pl.Expr[]; join?: RowPlan["join"] }>, table: string): Error {
  const empty = frame.head(0).lazy();
  for (const part of parts) {
    try {
      const input = part.join ? empty.join(part.join.right.limit(0), { leftOn: part.join.leftOn, rightOn: part.join.rightOn, how: "left" }) : empty;
      input.select(...part.exprs.map((e, i) => e.alias(`x${i}`))).collectSync();
    } catch (inner) {
      return new ConfigError(
        `validation suite "${table}": check "${part.name}" cannot run on this frame (columns ${part.columns.map((c) => `${c}: ${frame.schema[c] ? dtypeName(frame.schema[c]) : "?"}`).join(", ")}): ${firstLine(inner)}`,
        { cause: inner, context: { table, stage: "validate" } },
      );
    }
  }
  return error instanceof Error ? error : new Error(String(error));
}
