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
}
