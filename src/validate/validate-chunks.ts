/**
 * Validation of a partition that passes in chunks (a streamed extraction, the groups of a chunked
 * frame): the results validate() gives for the whole partition at once, in bounded memory.
 *
 * - Row checks are row-local: validate() runs them on each chunk. Failing rows are summed and
 *   graded against the check's limits on the partition's totals; samples are the partition's first
 *   failures (by landed page and row when the rows carry them, else in chunk order).
 * - `unique` compares rows, so it runs on key groups that each hold every row of their key values
 *   (all rows, quarantined ones included, as validate() sees them): see keyColumns and keyGroup.
 * - Table-level checks are judged once, on the partition's totals: row counts, the schema, the
 *   newest value (freshness), and aggregates merged from per-chunk partials (count, sum, mean, min,
 *   max, null_rate).
 *
 * Limits, all loud: an error-severity `unique` check that quarantines is refused (its failing rows
 * are known only once every chunk has passed), and so is an aggregate that cannot be merged from
 * chunks (median, std, quantile, distinct_count); a `custom` check sees one chunk at a time, so it
 * must be row-local.
 */
import pl from "nodejs-polars";
import { ConfigError } from "../core/errors.ts";
import { schemaOf } from "../core/frame-schema.ts";
import { DECODE_CHECK, TABLE_LEVEL_KINDS, type AggregateCheck, type CheckSpec, type FieldPresence, type Suite, type UniqueCheck, type ValidationContext } from "./check-types.ts";
import { compileRowCheck, ParamResolver } from "./row-checks.ts";
import { partitionFilter, planTableCheck, tableScalarName } from "./table-checks.ts";
import { grade, limitsOf } from "./thresholds.ts";
import type { CheckReport, FailingSample } from "./types.ts";
import { ERROR_COLUMN, PAGE_COLUMN, ROW_COLUMN, validate, validateAsync, type RowCheckCache, type ValidationOutcome } from "./validate.ts";

/** A column a key frame may carry: the row's position in the partition, to order samples of rows that have no landed page. */
export const SEQ_COLUMN = "__sluice_seq";
const SAMPLE_SIZE = 5;
const HELPER = "__sluice_c_";
/** Aggregates whose partition value follows from per-chunk partials. */
const MERGEABLE = new Set<AggregateCheck["agg"]>(["count", "sum", "mean", "min", "max", "null_rate"]);

type UniqueSpec = CheckSpec & UniqueCheck;

interface Slot {
  first: CheckReport;
  failing: number;
  rows: number;
  samples: Array<{ order: number[]; sample: FailingSample }>;
}

/** Per-chunk partials of the table-level checks, merged as chunks arrive. */
interface Partials {
  partitionRows: number;
  newest: Map<number, unknown>;
  fresh: Map<number, boolean>;
  aggregates: Map<number, { len: number; n: number; sum: number; min: number | null; max: number | null; nulls: number }>;
}

export class ChunkedValidation {
  /** The unique checks: each needs its key groups (keyColumns, keyGroup). */
  readonly uniqueChecks: readonly UniqueSpec[];
  private readonly rowSuite: Suite;
  private readonly slots = new Map<string, Slot>();
  private readonly partials: Partials = { partitionRows: 0, newest: new Map(), fresh: new Map(), aggregates: new Map() };
  private schema: Record<string, pl.DataType> = {};
  private wholeOutcome: { results: CheckReport[]; blocked: CheckReport[] } | null = null;
  private rows = 0;
  private chunks = 0;
  private partialExprs: { signature: string; exprs: pl.Expr[] } | null = null;
  /** Row checks compiled for this context (every chunk shares it). */
  private readonly rowChecks: RowCheckCache = new Map();
  private decodes = false;

  private context: ValidationContext;

  constructor(
    private readonly suite: Suite,
    context: ValidationContext,
  ) {
    this.context = withReferencesRead(context);
    const refused = suite.checks.find((c) => (c.kind === "unique" && c.severity === "error" && c.onFail === "quarantine") || (c.kind === "aggregate" && !MERGEABLE.has(c.agg)));
    if (refused) {
      throw new ConfigError(`validation suite "${suite.table}": check "${refused.name}" (${refused.kind === "unique" ? "unique, quarantine" : `aggregate ${(refused as AggregateCheck).agg}`}) cannot run on a partition validated in chunks`, {
        context: { table: suite.table, stage: "validate" },
        hint: refused.kind === "unique" ? "make it block (onFail: \"block\") or a warning, or validate the partition as one frame (ctx.extract instead of ctx.stream)" : "use count, sum, mean, min, max or null_rate, or validate the partition as one frame (ctx.extract instead of ctx.stream)",
      });
    }
    this.uniqueChecks = suite.checks.filter((c): c is UniqueSpec => c.kind === "unique");
    this.rowSuite = { ...suite, checks: suite.checks.filter((c) => c.kind !== "unique" && !TABLE_LEVEL_KINDS.has(c.kind)) };
  }

  /** The extraction's presence counts, known once it ended (presence checks are judged in finish). */
  withPresence(presence: FieldPresence): void {
    this.context = { ...this.context, presence };
    // what was built for the old context
    this.partialExprs = null;
    this.rowChecks.clear();
  }

  /**
   * The whole partition in one frame after all (it came as a single chunk): the suite runs on it at
   * once, exactly as validate() does, and nothing else may be added.
   */
  whole(frame: pl.DataFrame): { valid: pl.DataFrame; quarantined: pl.DataFrame } {
    if (this.chunks > 0) throw new Error("whole() after chunk(): the partition is already being validated in chunks");
    const outcome = validate(frame, this.suite, this.context);
    this.wholeOutcome = { results: outcome.results, blocked: outcome.blocked };
    this.chunks = 1;
    return { valid: outcome.valid, quarantined: outcome.quarantined };
  }

  /** Runs the row checks on one chunk: its rows that load and its quarantined rows (with _reason), as validate() gives them. */
  chunk(frame: pl.DataFrame): { valid: pl.DataFrame; quarantined: pl.DataFrame } {
    const schema = this.chunkSchema(frame);
    return this.take(frame, schema, validate(frame, this.rowSuite, this.context, { rowChecks: this.rowChecks, schema }));
  }

  /** chunk(), its queries collected off the main thread (validateAsync): for chunks validated while a listing goes on. */
  async chunkAsync(frame: pl.DataFrame): Promise<{ valid: pl.DataFrame; quarantined: pl.DataFrame }> {
    const schema = this.chunkSchema(frame);
    return this.take(frame, schema, await validateAsync(frame, this.rowSuite, this.context, { rowChecks: this.rowChecks, schema }));
  }

  private chunkSchema(frame: pl.DataFrame): Record<string, pl.DataType> {
    if (this.wholeOutcome) throw new Error("chunk() after whole(): the partition was validated at once");
    return schemaOf(frame);
  }

  /** Adds a chunk's outcome to the partition's results. */
  private take(frame: pl.DataFrame, schema: Record<string, pl.DataType>, outcome: ValidationOutcome): { valid: pl.DataFrame; quarantined: pl.DataFrame } {
    if (this.chunks === 0) this.schema = schema;
    this.decodes ||= frame.columns.includes(ERROR_COLUMN);
    const seq = this.chunks++;
    this.rows += frame.height;
    for (const report of outcome.results) this.add(report, seq);
    this.measureTables(frame, schema);
    return { valid: outcome.valid, quarantined: outcome.quarantined };
  }

  /** What a unique check's key groups hold of every row: its columns, the suite's key, and the landed page and row when the rows have them. */
  keyColumns(check: UniqueSpec, columns: readonly string[]): string[] {
    const wanted = [...check.columns, ...this.suite.key, ...[PAGE_COLUMN, ROW_COLUMN, SEQ_COLUMN].filter((c) => columns.includes(c))];
    return [...new Set(wanted)];
  }

  /**
   * Runs a unique check on a key group: every row (of the partition) whose key values hash or fall
   * there. With `order` (the group is not in partition order), only the failing rows are sorted by
   * it, so that the samples are the group's first failures: every row of a duplicated key is in
   * the group, so they fail alike, and sorting a few rows instead of the group saves most of the pass.
   * `rows`: the rows the group stands for, when `frame` holds only its failing ones. Returns the
   * failing rows when it filtered them (with `order`), else null.
   */
  keyGroup(check: UniqueSpec, frame: pl.DataFrame, group: number, order: readonly string[] = [], rows = frame.height): pl.DataFrame | null {
    const key = frame.columns.includes(SEQ_COLUMN) ? [...this.suite.key, SEQ_COLUMN] : this.suite.key;
    const failing = order.length === 0 ? null : frame.lazy().filter(compileRowCheck(check, schemaOf(frame), this.context, this.suite.table)).sort([...order]).collectSync();
    const outcome = validate(failing ?? frame, { ...this.suite, key, checks: [check] }, this.context);
    // graded on every row of the group, as a pass over the whole group would be
    for (const report of outcome.results) this.add({ ...report, rows }, group);
    // the rows whose key repeats, when filtered here (a group in order is judged whole)
    return failing;
  }

  /** The partition's results in validate()'s order ("decodes" first when the rows came from a source), and the blocking ones. */
  finish(): { results: CheckReport[]; blocked: CheckReport[] } {
    if (this.wholeOutcome) return this.wholeOutcome;
    const results: CheckReport[] = [];
    if (this.decodes) results.push(this.combined(DECODE_CHECK, null));
    this.suite.checks.forEach((check, i) => results.push(TABLE_LEVEL_KINDS.has(check.kind) ? this.tableLevel(check, i) : this.combined(check.name, check)));
    return { results, blocked: results.filter((r) => r.action === "block" && !r.passed && r.severity === "error") };
  }

  private add(report: CheckReport, seq: number): void {
    let slot = this.slots.get(report.check);
    if (!slot) this.slots.set(report.check, (slot = { first: report, failing: 0, rows: 0, samples: [] }));
    slot.failing += report.failingRows;
    slot.rows += report.rows;
    report.sample.forEach((sample, i) => slot.samples.push({ order: sampleOrder(sample, seq, i), sample: withoutSeq(sample) }));
  }

  /** One row check's report over every chunk: graded on the totals, as validate() grades the whole partition. */
  private combined(name: string, check: CheckSpec | null): CheckReport {
    const slot = this.slots.get(name);
    if (!slot) throw new Error(`no chunk reported check "${name}"`);
    const { first, failing, rows } = slot;
    if (first.skipped) return { ...first, rows };
    const limits = limitsOf(check ?? { severity: "error", onFail: "quarantine", allowance: this.suite.decodeAllowance });
    const g = grade(limits, failing, rows);
    const sample = slot.samples.sort((a, b) => compareOrder(a.order, b.order)).slice(0, SAMPLE_SIZE).map((s) => s.sample);
    return { ...first, action: g.blocks ? "block" : (check?.onFail ?? "quarantine"), passed: g.passed, failingRows: failing, rows, sample, detail: g.detail };
  }

  /** A table-level check judged on the merged partials, through the same plan validate() uses. */
  private tableLevel(check: CheckSpec, i: number): CheckReport {
    const scope = { table: this.suite.table, schema: this.schema, context: this.context, inPartition: partitionFilter(this.schema, this.context), helper: HELPER };
    const plan = planTableCheck(check, i, scope);
    const scalars = new Map<string, unknown>([
      [tableScalarName("newest", i, HELPER), this.partials.newest.get(i) ?? null],
      [tableScalarName("fresh", i, HELPER), this.partials.fresh.get(i) ?? false],
      [tableScalarName("aggregate", i, HELPER), check.kind === "aggregate" ? this.mergedAggregate(check, i) : null],
    ]);
    const partitionRows = scope.inPartition === null ? this.rows : this.partials.partitionRows;
    return plan.report((name) => scalars.get(name) ?? null, partitionRows);
  }

  private mergedAggregate(check: CheckSpec & AggregateCheck, i: number): number | null {
    const a = this.partials.aggregates.get(i);
    if (!a) return null;
    switch (check.agg) {
      case "count": return a.len;
      case "sum": return a.sum;
      case "mean": return a.n > 0 ? a.sum / a.n : null;
      case "min": return a.min;
      case "max": return a.max;
      case "null_rate": return a.len > 0 ? a.nulls / a.len : null;
      default: return null;
    }
  }

  /** The expressions of a chunk's partials, built once per schema (each Polars expression node costs ~1 ms of JS). */
  private tableExprs(schema: Record<string, pl.DataType>): pl.Expr[] {
    const signature = Object.entries(schema).map(([c, t]) => `${c}:${String(t)}`).join("|");
    if (this.partialExprs?.signature === signature) return this.partialExprs.exprs;
    const inPartition = partitionFilter(schema, this.context);
    const exprs: pl.Expr[] = inPartition ? [inPartition.sum().alias(`${HELPER}rows`)] : [];
    const scope = { table: this.suite.table, schema, context: this.context, inPartition, helper: HELPER };
    this.suite.checks.forEach((check, i) => {
      if (check.kind === "freshness") exprs.push(...planTableCheck(check, i, scope).exprs);
      if (check.kind === "aggregate") exprs.push(...aggregatePartials(check, i, scope.inPartition, new ParamResolver(check, this.context, this.suite.table)));
    });
    this.partialExprs = { signature, exprs };
    return exprs;
  }

  /** Adds one chunk's partials: its partition rows, each freshness check's newest value, each aggregate's sums. */
  private measureTables(frame: pl.DataFrame, schema: Record<string, pl.DataType>): void {
    const exprs = this.tableExprs(schema);
    if (exprs.length === 0) return;
    const row = frame.lazy().select(...exprs).collectSync().toRecords()[0] ?? {};
    const num = (name: string) => Number(row[name] ?? 0);
    const orNull = (v: unknown) => (v === null || v === undefined ? null : Number(v));
    this.partials.partitionRows += num(`${HELPER}rows`);
    this.suite.checks.forEach((check, i) => {
      if (check.kind === "freshness") {
        const newest = row[tableScalarName("newest", i, HELPER)] ?? null;
        const seen = this.partials.newest.get(i) ?? null;
        if (newest !== null && (seen === null || instant(newest) > instant(seen))) this.partials.newest.set(i, newest);
        this.partials.fresh.set(i, (this.partials.fresh.get(i) ?? false) || row[tableScalarName("fresh", i, HELPER)] === true);
      }
      if (check.kind === "aggregate") {
        const a = this.partials.aggregates.get(i) ?? { len: 0, n: 0, sum: 0, min: null, max: null, nulls: 0 };
        const [min, max] = [orNull(row[`${HELPER}min${i}`]), orNull(row[`${HELPER}max${i}`])];
        this.partials.aggregates.set(i, {
          len: a.len + num(`${HELPER}len${i}`), n: a.n + num(`${HELPER}n${i}`), sum: a.sum + num(`${HELPER}sum${i}`), nulls: a.nulls + num(`${HELPER}nulls${i}`),
          min: min === null ? a.min : a.min === null ? min : Math.min(a.min, min),
          max: max === null ? a.max : a.max === null ? max : Math.max(a.max, max),
        });
      }
    });
  }
}

/**
 * The context with its reference tables read once: every chunk joins against them, and a lazy scan
 * of the lake would be read again by each.
 */
function withReferencesRead(context: ValidationContext): ValidationContext {
  const refs = context.references;
  if (refs === undefined) return context;
  const read = Object.fromEntries(Object.entries(refs).map(([table, rows]) => [table, rows !== null && "collectSync" in rows ? rows.collectSync() : rows]));
  return { ...context, references: read };
}

/** A newest value as a number to compare: Dates by their time. */
function instant(value: unknown): number {
  return value instanceof Date ? value.getTime() : Number(value);
}

/** One chunk's partials of an aggregate check over the rows where its `where` (and the partition) holds. */
function aggregatePartials(check: CheckSpec & AggregateCheck, i: number, inPartition: pl.Expr | null, p: ParamResolver): pl.Expr[] {
  const given = check.where === undefined ? null : p.resolve(check.where, "where");
  const where = given === null ? inPartition : inPartition === null ? given : inPartition.and(given);
  const len = (where === null ? pl.len() : where.fillNull(false).sum()).cast(pl.Float64).alias(`${HELPER}len${i}`);
  if (check.agg === "count" || check.column === undefined) return [len];
  const col = where === null ? pl.col(check.column) : pl.col(check.column).filter(where.fillNull(false));
  return [
    len,
    col.count().cast(pl.Float64).alias(`${HELPER}n${i}`),
    col.sum().cast(pl.Float64).alias(`${HELPER}sum${i}`),
    col.isNull().sum().cast(pl.Float64).alias(`${HELPER}nulls${i}`),
    col.min().cast(pl.Float64).alias(`${HELPER}min${i}`),
    col.max().cast(pl.Float64).alias(`${HELPER}max${i}`),
  ];
}

/** Where a sample stands in the partition: its landed page and row, its position, or its chunk and rank. */
function sampleOrder(sample: FailingSample, seq: number, rank: number): number[] {
  const key = sample.key;
  if (typeof key[PAGE_COLUMN] === "number" && typeof key[ROW_COLUMN] === "number") return [key[PAGE_COLUMN], key[ROW_COLUMN]];
  if (typeof key[SEQ_COLUMN] === "number") return [key[SEQ_COLUMN]];
  return [seq, rank];
}

function withoutSeq(sample: FailingSample): FailingSample {
  if (!(SEQ_COLUMN in sample.key)) return sample;
  const { [SEQ_COLUMN]: _seq, ...key } = sample.key;
  return { ...sample, key };
}

function compareOrder(a: number[], b: number[]): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}
