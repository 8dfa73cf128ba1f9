/** Results of validation checks, as stored in sluice.checks and shown in run summaries. */

export type Severity = "error" | "warn";
export type FailureAction = "quarantine" | "block";

/** A failing value and the key of the row it came from. */
export interface FailingSample {
  key: Record<string, unknown>;
  value: unknown;
}

/** The result of one check over one table's partition. */
export interface CheckResult {
  check: string;
  table: string;
  columns: string[];
  severity: Severity;
  action: FailureAction;
  passed: boolean;
  failingRows: number;
  /** A few failing values with their row keys (at most 5). */
  sample: FailingSample[];
  /** The check's kind (not_null, volume, aggregate, ...); absent for results made outside a suite. */
  kind?: string;
  /**
   * What a table-level check measured: rows (volume, row_count), the aggregate's value, the share
   * of records without the field (presence), hours behind (freshness). Stored even when it passed,
   * so the next partitions have a history to compare with. Null for row checks.
   */
  observed?: number | null;
  /** The band `observed` had to be in (bounds, or the one the history gave); null: open on that side. */
  lower?: number | null;
  upper?: number | null;
  /**
   * True when the check could not judge the partition (too little history, no reference table, no
   * presence counts): `passed` stays true and `detail` says why. Stored as sluice.checks.skipped.
   */
  skipped?: boolean;
  /** Why it failed or was skipped, in words; null when there is nothing to add. */
  detail?: string | null;
}

/** One earlier partition's observed value of a check (its last successful run). */
export interface HistoryPoint {
  dt: string;
  value: number;
}

/** Which earlier observed values one anomaly check compares with. */
export interface HistorySeries {
  check: string;
  /** At most this many partitions, the latest ones before the partition being checked. */
  limit: number;
  /** Only partitions on this weekday (0 = Sunday .. 6 = Saturday, as DuckDB's dayofweek); null: any day. */
  weekday: number | null;
}

/** The history a suite's anomaly checks need: partitions of (job, table) before `before`, by date. */
export interface HistoryQuery {
  job: string;
  table: string;
  /** YYYY-MM-DD: only partitions strictly before this day. */
  before: string;
  series: HistorySeries[];
}

/** Observed values by check name, newest first. */
export type CheckHistory = Record<string, HistoryPoint[]>;

/** A CheckResult with what a human needs to understand it (a subtype: usable as CheckResult). */
export interface CheckReport extends CheckResult {
  kind: string;
  description: string;
  /** Rows in the partition the check looked at. */
  rows: number;
  /** Fraction of rows allowed to fail (quarantine checks of severity error with a fractional block limit), else null. */
  allowance: number | null;
  /** Why it failed, in words (table-level result, a limit exceeded), or why it was skipped; else null. */
  detail: string | null;
  observed: number | null;
  lower: number | null;
  upper: number | null;
  skipped: boolean;
  /** Anomaly checks: the earlier partitions' values the partition was compared with, oldest first. */
  history?: HistoryPoint[];
}
