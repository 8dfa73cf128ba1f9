/**
 * Validation of a partition that passes in chunks (a streamed extraction, the groups of a chunked
 * frame): the results validate() gives for the whole partition at once, in bounded memory.
 *
 * - Row checks are row-local: validate() runs them on each chunk. Failing rows are summed and
 *   judged against allowances on the partition's totals; samples are the partition's first
 *   failures (by landed page and row when the rows carry them, else in chunk order).
 * - `unique` compares rows, so it runs on key groups that each hold every row of their key values
 *   (all rows, quarantined ones included, as validate() sees them): see keyColumns and keyGroup.
 * - Table-level checks (dtype, row_count, freshness) are judged on the partition's totals.
 *
 * Two limits, both loud: an error-severity `unique` check that quarantines is refused (its failing
 * rows are known only once every chunk has passed); a `custom` check sees one chunk at a time, so
 * it must be row-local (a window over a column would see the chunk, not the partition).
 */
import pl from "nodejs-polars";
import { ConfigError } from "../core/errors.ts";
import { DECODE_CHECK, TABLE_LEVEL_KINDS, type CheckSpec, type Suite, type UniqueCheck, type ValidationContext } from "./suite.ts";
import type { FailingSample, FailureAction } from "./types.ts";
import { ERROR_COLUMN, PAGE_COLUMN, ROW_COLUMN, tableReport, validate, type CheckReport } from "./validate.ts";

/** A column a key frame may carry: the row's position in the partition, to order samples of rows that have no landed page. */
export const SEQ_COLUMN = "__sluice_seq";
const SAMPLE_SIZE = 5;

type UniqueSpec = CheckSpec & UniqueCheck;

interface Slot {
  first: CheckReport;
  onFail: FailureAction;
  failing: number;
  rows: number;
  samples: Array<{ order: number[]; sample: FailingSample }>;
}

export class ChunkedValidation {
  /** The unique checks: each needs its key groups (keyColumns, keyGroup). */
  readonly uniqueChecks: readonly UniqueSpec[];
  private readonly rowSuite: Suite;
  private readonly slots = new Map<string, Slot>();
  private readonly freshness = new Map<CheckSpec, { newest: unknown; fresh: boolean }>();
  private schema: Record<string, pl.DataType> = {};
  private wholeOutcome: { results: CheckReport[]; blocked: CheckReport[] } | null = null;
  private rows = 0;
  private chunks = 0;
  private decodes = false;

  constructor(
    private readonly suite: Suite,
    private readonly context: ValidationContext,
  ) {
    const refused = suite.checks.find((c) => c.kind === "unique" && c.severity === "error" && c.onFail === "quarantine");
    if (refused) {
      throw new ConfigError(`validation suite "${suite.table}": check "${refused.name}" (unique, quarantine) cannot run on a partition validated in chunks`, {
        context: { table: suite.table, stage: "validate" },
        hint: "make it block (onFail: \"block\") or a warning, or validate the partition as one frame (ctx.extract instead of ctx.stream)",
      });
    }
    this.uniqueChecks = suite.checks.filter((c): c is UniqueSpec => c.kind === "unique");
    this.rowSuite = { ...suite, checks: suite.checks.filter((c) => c.kind !== "unique" && !TABLE_LEVEL_KINDS.has(c.kind)) };
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
    if (this.wholeOutcome) throw new Error("chunk() after whole(): the partition was validated at once");
    const outcome = validate(frame, this.rowSuite, this.context);
    if (this.chunks === 0) this.schema = frame.schema;
    this.decodes ||= frame.columns.includes(ERROR_COLUMN);
    const seq = this.chunks++;
    this.rows += frame.height;
    for (const report of outcome.results) this.add(report, seq);
    this.measureFreshness(frame);
    return { valid: outcome.valid, quarantined: outcome.quarantined };
  }

  /** What a unique check's key groups hold of every row: its columns, the suite's key, and the landed page and row when the rows have them. */
  keyColumns(check: UniqueSpec, columns: readonly string[]): string[] {
    const wanted = [...check.columns, ...this.suite.key, ...[PAGE_COLUMN, ROW_COLUMN, SEQ_COLUMN].filter((c) => columns.includes(c))];
    return [...new Set(wanted)];
  }

  /** Runs a unique check on a key group: every row (of the partition) whose key values hash or fall there. */
  keyGroup(check: UniqueSpec, frame: pl.DataFrame, group: number): void {
    const key = frame.columns.includes(SEQ_COLUMN) ? [...this.suite.key, SEQ_COLUMN] : this.suite.key;
    const outcome = validate(frame, { ...this.suite, key, checks: [check] }, this.context);
    for (const report of outcome.results) this.add(report, group);
  }

  /** The partition's results in validate()'s order ("decodes" first when the rows came from a source), and the blocking ones. */
  finish(): { results: CheckReport[]; blocked: CheckReport[] } {
    if (this.wholeOutcome) return this.wholeOutcome;
    const results: CheckReport[] = [];
    if (this.decodes) results.push(this.combined(DECODE_CHECK, "quarantine"));
    for (const check of this.suite.checks) results.push(TABLE_LEVEL_KINDS.has(check.kind) ? this.tableLevel(check) : this.combined(check.name, check.onFail));
    return { results, blocked: results.filter((r) => r.action === "block" && !r.passed && r.severity === "error") };
  }

  private add(report: CheckReport, seq: number): void {
    let slot = this.slots.get(report.check);
    if (!slot) {
      const onFail = this.suite.checks.find((c) => c.name === report.check)?.onFail ?? "quarantine";
      this.slots.set(report.check, (slot = { first: report, onFail, failing: 0, rows: 0, samples: [] }));
    }
    slot.failing += report.failingRows;
    slot.rows += report.rows;
    report.sample.forEach((sample, i) => slot.samples.push({ order: sampleOrder(sample, seq, i), sample: withoutSeq(sample) }));
  }

  /** One check's report over every chunk: the same fields and wording validate() gives for the whole partition. */
  private combined(name: string, onFail: FailureAction): CheckReport {
    const slot = this.slots.get(name);
    if (!slot) throw new Error(`no chunk reported check "${name}"`);
    const { first, failing, rows } = slot;
    const quarantines = first.severity === "error" && onFail === "quarantine";
    const allowance = first.allowance ?? 0;
    // failing / rows, not allowance * rows: 0.29 * 100 is 28.999999999999996 in binary floating point.
    const overAllowance = quarantines && rows > 0 && failing / rows > allowance;
    const blocks = first.severity === "error" && failing > 0 && (onFail === "block" || overAllowance);
    const sample = slot.samples.sort((a, b) => compareOrder(a.order, b.order)).slice(0, SAMPLE_SIZE).map((s) => s.sample);
    const detail = failing === 0
      ? first.detail // null, or why the check was skipped
      : overAllowance
        ? `${failing} of ${rows} rows (${percent(failing / rows)}) failed, more than the allowance of ${percent(allowance)}`
        : `${failing} of ${rows} rows failed`;
    return { ...first, action: blocks ? "block" : onFail, passed: failing === 0, failingRows: failing, rows, sample, detail };
  }

  private tableLevel(check: CheckSpec): CheckReport {
    const fresh = this.freshness.get(check);
    const scalarAt = (name: string): unknown => (name === "newest" ? (fresh?.newest ?? null) : (fresh?.fresh ?? false));
    return tableReport(check, this.suite.table, this.schema, this.rows, this.context, fresh ? { newest: "newest", fresh: "fresh" } : undefined, scalarAt);
  }

  /** The newest value of each freshness check's column, over every row (quarantined ones included, as validate() sees them). */
  private measureFreshness(frame: pl.DataFrame): void {
    for (const check of this.suite.checks) {
      if (check.kind !== "freshness") continue;
      const dtype = frame.schema[check.column];
      const threshold = pl.lit(new Date(this.context.window.end.getTime() - check.maxAgeHours * 3_600_000));
      const max = pl.col(check.column).max();
      const row = frame.lazy().select(max.alias("n"), max.gtEq(dtype ? threshold.cast(dtype) : threshold).fillNull(false).alias("f")).collectSync().toRecords()[0] ?? {};
      const seen = this.freshness.get(check);
      const newest = row["n"] ?? null;
      this.freshness.set(check, {
        newest: seen === undefined || (newest !== null && (seen.newest === null || Number(newest) > Number(seen.newest))) ? newest : seen.newest,
        fresh: (seen?.fresh ?? false) || row["f"] === true,
      });
    }
  }
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

function percent(fraction: number): string {
  return `${(fraction * 100).toFixed(fraction < 0.01 && fraction > 0 ? 2 : 1)}%`;
}
