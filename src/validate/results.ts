/** Results of row checks (graded counts and samples), and the message of a blocked partition. */
import pl from "nodejs-polars";
import type { RowPlan } from "./row-checks.ts";
import { plain } from "./table-checks.ts";
import { grade } from "./thresholds.ts";
import type { CheckReport, CheckResult, FailingSample } from "./types.ts";

const SAMPLE_SIZE = 5;

/** The result of a row check from its failing-row count and samples. */
export function rowReport(p: RowPlan, table: string, failingRows: number, rows: number, sample: FailingSample[]): CheckReport {
  const g = grade(p.limits, failingRows, rows);
  const block = p.limits.block;
  return {
    check: p.name, kind: p.check?.kind ?? "decode", table, columns: p.columns, severity: p.severity,
    // The action that actually applies: a quarantine check over its block limit blocks.
    action: g.blocks ? "block" : p.onFail,
    passed: g.passed, failingRows, sample,
    description: p.description, rows,
    allowance: p.severity === "error" && p.onFail === "quarantine" && block !== null && "fraction" in block ? block.fraction : null,
    detail: g.detail, observed: null, lower: null, upper: null, skipped: false,
  };
}

/** A result for a check that could not run (passed, with the reason in detail). */
export function skippedReport(p: Pick<RowPlan, "check" | "name" | "severity" | "onFail" | "description" | "columns">, table: string, rows: number, detail: string): CheckReport {
  return {
    check: p.name, kind: p.check?.kind ?? "decode", table, columns: p.columns, severity: p.severity, action: p.onFail,
    passed: true, failingRows: 0, sample: [], description: p.description, rows, allowance: null, detail,
    observed: null, lower: null, upper: null, skipped: true,
  };
}

/** The first few failing rows of each check, with the suite's key (and the record's page/row when known). */
export function sampleRows(failing: pl.DataFrame, plans: RowPlan[], keyColumns: string[]): Map<RowPlan, FailingSample[]> {
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

/** A one-paragraph message naming each blocking check and a few failing values, for ValidationBlockedError. */
export function describeBlocked(blocked: CheckResult[]): string {
  if (blocked.length === 0) return "no check blocks the partition";
  const table = blocked[0]?.table ?? "?";
  const parts = blocked.map((r) => {
    const detail = typeof r.detail === "string" ? r.detail : `${r.failingRows} rows failed`;
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
