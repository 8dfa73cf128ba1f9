/**
 * The shapes of checks, suites and the validation context. Semantics every check shares:
 * - `severity` "error" (default) acts on failures; "warn" only reports them (passed=false) and
 *   never removes rows nor blocks the partition.
 * - `onFail` "quarantine" (default for row checks) moves the failing rows out of the load with the
 *   check's name as the reason; "block" stops the whole partition (nothing of it is loaded).
 *   Table-level checks (TABLE_LEVEL_KINDS) have no rows to move: they default to, and only accept,
 *   "block".
 * - Limits of a quarantine check (see Thresholds): up to `warn` failing rows the check passes
 *   quietly; up to the block limit (`thresholds.block`, or `allowance`, default
 *   {@link DEFAULT_ALLOWANCE} = 5% of the rows) failing rows are quarantined and the rest loads;
 *   above it the check blocks the partition: a source that suddenly breaks 30% of its records is an
 *   incident to look at, not noise to quietly drop.
 * - Nulls, as in pandera: value checks (compare, between, is_in, not_in, matches, str_length,
 *   column_compare, foreign_key) treat a null as passing, so "is it present" and "is it valid" are
 *   separate checks and a null is reported once, by not_null. `unique` follows SQL: a row with a
 *   null in any of its columns is never a duplicate. A custom expression that yields null passes.
 * - Table-level measurements (volume, aggregate) cover the rows of the run's partition: when the
 *   frame has a Date column `dt` (a transform's output spanning several days), the rows whose dt is
 *   the run's day; otherwise every row, as the source delivered them (before quarantine).
 */
import type pl from "nodejs-polars";
import type { PartitionWindow } from "../core/dates.ts";
import type { FailureAction, HistoryPoint, Severity } from "./types.ts";

/** Largest fraction of rows a quarantine check may fail before it blocks the partition. */
export const DEFAULT_ALLOWANCE = 0.05;

/** Name of the built-in check that reports records the extract stage could not decode. */
export const DECODE_CHECK = "decodes";

/** How often each field of the records was sent, from the extract stage. */
export interface FieldPresence {
  /** Records extracted. */
  records: number;
  /** Column name -> records in which the field's key was present (its value may have been null). */
  present: Record<string, number>;
}

/** What a check's parameters may depend on: the partition being validated and reference data. */
export interface ValidationContext {
  window: PartitionWindow;
  /**
   * Reference values for single-column foreign_key checks, keyed `${table}.${column}` (e.g.
   * "users.user_id"). Used when `references` has no entry for the table. Missing both makes an
   * error-severity foreign_key check throw a ConfigError, and a warn-severity one report itself
   * as skipped.
   */
  foreignKeys?: Record<string, pl.Series | readonly unknown[]>;
  /**
   * Reference tables of foreign_key checks by table name: their rows (the lake's partitions,
   * scanned lazily), or null when the table does not exist (the check is then skipped, saying so).
   */
  references?: Record<string, pl.LazyDataFrame | pl.DataFrame | null>;
  /** Earlier observed values of the suite's anomaly checks (volume, aggregate), by check name. */
  history?: Record<string, readonly HistoryPoint[]>;
  /** Per-field presence counts of the extracted records (presence checks); absent: those are skipped. */
  presence?: FieldPresence;
  /** The clock for freshness relative to now; default: when validate runs. */
  now?: Date;
}

/** A literal a check compares against. Dates compare against Datetime and Date columns. */
export type Scalar = string | number | bigint | boolean | Date;
/** A parameter: a plain value, or a function of the validation context (e.g. the window). */
export type Param<T> = T | ((context: ValidationContext) => T);
export type CompareOp = "eq" | "ne" | "gt" | "ge" | "lt" | "le";
/** Which ends of a `between` range are inclusive. */
export type Closed = "both" | "left" | "right" | "neither";

/**
 * A limit on failing rows: a number below 1 is a fraction of the partition's rows (0.001), a whole
 * number from 1 up is a count of rows (500); `{ rows }` and `{ fraction }` say it explicitly.
 * "Above the limit" is strictly more: exactly at the limit is within it.
 */
export type Limit = number | { rows: number } | { fraction: number };

/**
 * Graded limits of a quarantine check (as in "warn above X, quarantine up to Y, block above Y"):
 * - `warn`: up to this the check passes (its failing rows still go to quarantine); above, it fails
 *   and is reported. Default 0: any failing row fails the check.
 * - `block` (or its other name `quarantine`, the same boundary seen from below): up to this, the
 *   failing rows are quarantined and the rest loads; above, the partition blocks. Default: the
 *   check's `allowance` (a fraction). A warn-severity check never blocks, so takes only `warn`.
 */
export interface Thresholds {
  warn?: Limit;
  quarantine?: Limit;
  block?: Limit;
}

/** Fields every check declares (input form: defaults not yet filled). */
export interface CheckCommonInput {
  /** Unique within the suite; it is the quarantine reason, so name the field and the rule. */
  name: string;
  severity?: Severity;
  onFail?: FailureAction;
  /** The block limit as a fraction of rows (quarantine checks), when thresholds gives none. */
  allowance?: number;
  /** Graded limits (quarantine checks); see Thresholds. */
  thresholds?: Thresholds;
  /** For humans reading run summaries; defaults to a sentence derived from the check. */
  description?: string;
  /**
   * Derived from the check's fields; may be given (it must then match), so that a defined check
   * can be spread into a new suite: `{ ...check, allowance: 0.2 }`. A foreign_key check may give
   * its (compound) key here instead of `column`.
   */
  columns?: string[];
}

/** Fields every check carries once its suite is defined. */
export interface CheckCommon {
  name: string;
  severity: Severity;
  onFail: FailureAction;
  /** Fraction of rows allowed to fail (quarantine checks) unless thresholds gives a block limit; 0 for block checks. */
  allowance: number;
  thresholds?: Thresholds;
  description: string;
  /** Every column the check reads, in a stable order (for reports and samples). */
  columns: string[];
}

/**
 * When a table-level value is out of line with the same table's previous loaded partitions (by
 * date, whatever order they ran in; each partition's value from its last successful run).
 */
export interface AnomalyRule {
  /** How many previous partitions to compare with; default 14. */
  history?: number;
  /** With fewer previous partitions the check is skipped (passed, and saying so); default 7. */
  minHistory?: number;
  /** "percent" (default): within maxChange of the history's median; "zscore": within maxZ standard deviations of its mean. */
  method?: "percent" | "zscore";
  /** Largest change from the median as a fraction (0.3 = 30%); default 0.3. */
  maxChange?: number;
  /** Largest distance from the mean in standard deviations; default 3. */
  maxZ?: number;
  /** "weekly": compare only with the same weekday (the history then reaches `history` weeks back). */
  seasonality?: "none" | "weekly";
  /** Which side of the band fails: both (default), only a drop, or only a rise. */
  direction?: "both" | "drop" | "rise";
}

export interface NotNullCheck { kind: "not_null"; column: string }
/** A row fails when the combination of its values in `columns` occurs more than once. */
export interface UniqueCheck { kind: "unique"; columns: string[] }
export interface CompareCheck { kind: "compare"; column: string; op: CompareOp; value: Param<Scalar> }
/** At least one bound; `closed` defaults to "both" (inclusive). */
export interface BetweenCheck { kind: "between"; column: string; min?: Param<Scalar>; max?: Param<Scalar>; closed: Closed }
export interface IsInCheck { kind: "is_in"; column: string; values: Param<readonly Scalar[]> }
export interface NotInCheck { kind: "not_in"; column: string; values: Param<readonly Scalar[]> }
/** `pattern` is a Rust regex (Polars' syntax: no look-around); unanchored unless you anchor it. */
export interface MatchesCheck { kind: "matches"; column: string; pattern: string }
/** Length in characters (not bytes), inclusive bounds. */
export interface StrLengthCheck { kind: "str_length"; column: string; min?: number; max?: number }
/** Table-level: the column exists and its Polars dtype equals `dtype` (time unit and zone included). */
export interface DtypeCheck { kind: "dtype"; column: string; dtype: pl.DataType }
/** Row-level comparison of two columns: `left op right`, e.g. session_end ge session_start. */
export interface ColumnCompareCheck { kind: "column_compare"; left: string; op: CompareOp; right: string }
/**
 * The row's key (`column`, or a compound key in `columns`) exists in another table:
 * `references: "users.user_id"`, or `{ table, columns }` for a compound key (same order).
 * Runs as an anti-join against the reference table (context.references); nulls pass.
 */
export interface ForeignKeyCheck { kind: "foreign_key"; column?: string; references: string | { table: string; columns: string[] } }
/** Table-level: the partition's row count is within [min, max]. */
export interface RowCountCheck { kind: "row_count"; min?: number; max?: number }
/**
 * Table-level: the newest value of `column` is at most `maxAgeHours` behind the partition's end
 * (default), or behind now (`relativeTo: "now"`, for incremental and snapshot tables' updated_at).
 */
export interface FreshnessCheck { kind: "freshness"; column: string; maxAgeHours: number; relativeTo?: "partition_end" | "now" }
/** `expr` returns a boolean expression that is true for passing rows; `columns` feed samples. */
export interface CustomCheck { kind: "custom"; columns: string[]; expr: (context: ValidationContext) => pl.Expr }
/** Table-level: the partition's row count against the previous partitions' (`anomaly`), and a floor (`minRows`). */
export interface VolumeCheck { kind: "volume"; anomaly?: AnomalyRule; minRows?: number }
/** The one-number measures an aggregate check takes. */
export type AggregateFunction = "count" | "sum" | "mean" | "median" | "min" | "max" | "std" | "quantile" | "null_rate" | "distinct_count";
/**
 * Table-level: one number over the partition (`agg` of `column`, over the rows where `where` holds),
 * within bounds (`min`/`max`, inclusive) and/or in line with its history (`anomaly`). It never
 * quarantines rows: it warns or blocks.
 */
export interface AggregateCheck {
  kind: "aggregate";
  agg: AggregateFunction;
  /** Needed by every agg but "count". */
  column?: string;
  /** For agg "quantile": 0..1. */
  quantile?: number;
  /** Only rows where this is true, e.g. `pl.col("event_type").eq(pl.lit("purchase"))`. */
  where?: Param<pl.Expr>;
  min?: number;
  max?: number;
  anomaly?: AnomalyRule;
}
/**
 * Table-level schema contract: the field behind `column` was sent (its key present, even with a
 * null value) in all but at most `maxAbsent` (a fraction, default 0) of the extracted records.
 * A renamed field is caught even without a not_null check; explicit nulls do not count as absent.
 */
export interface PresenceCheck { kind: "presence"; column: string; maxAbsent?: number }

type CheckBody =
  | NotNullCheck | UniqueCheck | CompareCheck | BetweenCheck | IsInCheck | NotInCheck | MatchesCheck
  | StrLengthCheck | DtypeCheck | ColumnCompareCheck | ForeignKeyCheck | RowCountCheck | FreshnessCheck
  | CustomCheck | VolumeCheck | AggregateCheck | PresenceCheck;

/** A check as stored in a defined suite (defaults filled). */
export type CheckSpec = CheckCommon & CheckBody;
export type CheckKind = CheckSpec["kind"];

type BodyInput =
  | Exclude<CheckBody, BetweenCheck | CustomCheck>
  | (Omit<BetweenCheck, "closed"> & { closed?: Closed })
  | (Omit<CustomCheck, "columns"> & { columns?: string[] });

/** A check as written in a suite definition. */
export type CheckInput = CheckCommonInput & BodyInput;

/** A suite as written: the table, its row key (for samples) and its checks. */
export interface SuiteInput {
  /** The table the suite validates: its declaration (the key then comes from it), or its name. */
  table: string | { name: string; key: string[] };
  /** The row key shown with samples; default: the declared table's key. */
  key?: string[];
  checks: CheckInput[];
  /** Allowance of the built-in "decodes" check (records the extract stage could not decode). */
  decodeAllowance?: number;
}

/** A defined suite: every check validated and its defaults filled. */
export interface Suite {
  table: string;
  key: string[];
  checks: CheckSpec[];
  decodeAllowance: number;
}

/** Checks judged on the table as a whole; they cannot quarantine rows. */
export const TABLE_LEVEL_KINDS: ReadonlySet<CheckKind> = new Set<CheckKind>(["dtype", "row_count", "freshness", "volume", "aggregate", "presence"]);

/** Checks whose value is compared with the table's history (anomaly gauges and history charts). */
export const ANOMALY_KINDS: ReadonlySet<string> = new Set(["volume", "aggregate"]);
