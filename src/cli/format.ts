/** Text output of the CLI: aligned tables, CSV, JSON, run summaries and preview cells. */
import type { PartitionOutcome } from "../pipeline/index.ts";

export interface Rows {
  columns: string[];
  rows: unknown[][];
}

/** Renders rows as an aligned text table, RFC 4180 CSV, or a JSON array of objects. */
export function formatRows(result: Rows, format: "table" | "csv" | "json"): string {
  if (format === "json") {
    return JSON.stringify(result.rows.map((r) => Object.fromEntries(result.columns.map((c, i) => [c, r[i] ?? null]))), null, 2);
  }
  if (format === "csv") {
    const cell = (v: unknown) => {
      const s = v === null || v === undefined ? "" : typeof v === "object" ? JSON.stringify(v) : String(v);
      return /[",\n\r]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
    };
    return [result.columns.map(cell).join(","), ...result.rows.map((r) => r.map(cell).join(","))].join("\n");
  }
  return textTable(result.columns, result.rows.map((r) => r.map(display)));
}

function display(v: unknown): string {
  if (v === null || v === undefined) return "NULL";
  if (typeof v === "object") return JSON.stringify(v);
  return String(v);
}

/** An aligned table with a header rule; numbers right-aligned. */
export function textTable(columns: string[], rows: string[][]): string {
  const widths = columns.map((c, i) => Math.max(c.length, ...rows.map((r) => Math.min(60, (r[i] ?? "").length))));
  const clip = (s: string, w: number) => (s.length > w ? s.slice(0, w - 1) + "…" : s);
  const numeric = columns.map((_, i) => rows.length > 0 && rows.every((r) => /^-?[\d.,]+(s|%)?$/.test(r[i] ?? "") || r[i] === "NULL"));
  const line = (cells: string[]) =>
    cells.map((c, i) => (numeric[i] ? clip(c, widths[i] ?? 0).padStart(widths[i] ?? 0) : clip(c, widths[i] ?? 0).padEnd(widths[i] ?? 0))).join("  ").trimEnd();
  return [line(columns), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(line), `(${rows.length} row${rows.length === 1 ? "" : "s"})`].join("\n");
}

/** The summary of partition runs: status, rows, quarantined rows, failed checks, duration, error. */
export function formatOutcomes(outcomes: PartitionOutcome[]): string {
  const rows = outcomes.map((o) => [
    o.job,
    o.dt,
    o.status,
    String(o.rowsIn),
    String(o.rowsLoaded),
    String(o.rowsQuarantined),
    String(o.failedChecks),
    `${(o.durationMs / 1000).toFixed(1)}s`,
    o.error ?? "",
  ]);
  const table = textTable(["job", "dt", "status", "rows_in", "rows_loaded", "quarantined", "failed_checks", "duration", "error"], rows);
  const failed = outcomes.filter((o) => o.status === "failed" || o.status === "cancelled");
  const counts = ["succeeded", "skipped", "failed", "cancelled"].map((s) => `${outcomes.filter((o) => o.status === s).length} ${s}`).join(", ");
  const tail = failed.length > 0 ? `\nrerun the failed ones with: sluice backfill ${failed[0]?.job} --from ${failed[0]?.dt} --to ${failed.at(-1)?.dt} --retry-failed` : "";
  const checkLines = outcomes.flatMap((o) => checkSummary(o));
  return `${table}\n${counts}${checkLines.length > 0 ? `\nchecks that did not pass (details: sluice.checks, or the run report):\n${checkLines.join("\n")}` : ""}${tail}`;
}

/** One line per table of a partition: the failing error checks, then the warnings, with counts. */
function checkSummary(o: PartitionOutcome): string[] {
  const byTable = new Map<string, PartitionOutcome["checks"]>();
  for (const c of o.checks.filter((c) => !c.passed)) byTable.set(c.table, [...(byTable.get(c.table) ?? []), c]);
  return [...byTable].map(([table, checks]) => {
    const describe = (c: (typeof checks)[number]) => (c.failingRows > 0 ? `${c.check} (${c.failingRows})` : c.columns.length > 0 ? `${c.check} (${c.columns.join(", ")})` : c.check);
    const errors = checks.filter((c) => c.severity === "error").map(describe);
    const warnings = checks.filter((c) => c.severity === "warn").map(describe);
    const parts = [errors.length > 0 ? `${errors.join(", ")}` : "", warnings.length > 0 ? `warnings: ${warnings.join(", ")}` : ""].filter(Boolean);
    return `  ${o.dt} ${table}: ${parts.join("; ")}`;
  });
}

/** Prints each step of a run as a notebook cell: name, timing, row count, schema and first rows. */
export function printPreview(outcome: PartitionOutcome, write: (s: string) => void): void {
  for (const step of outcome.steps) {
    write(`\n── [${step.kind}] ${step.name} · ${step.rows} rows · ${step.ms.toFixed(0)} ms\n`);
    if (step.schema.length > 0) write(`schema: ${step.schema.map(([n, t]) => `${n}: ${t}`).join(", ")}\n`);
    if (step.head.length > 0) {
      const columns = Object.keys(step.head[0] ?? {});
      write(textTable(columns, step.head.map((r) => columns.map((c) => display(r[c])))) + "\n");
    }
    const results = step.details["results"];
    if (Array.isArray(results)) {
      for (const r of results as Array<{ check: string; passed: boolean; failingRows: number; severity: string }>) {
        write(`  ${r.passed ? "✓" : "✗"} ${r.check}${r.passed ? "" : ` — ${r.failingRows} failing (${r.severity})`}\n`);
      }
    }
  }
  write("\npreview: nothing was loaded\n");
}

/** 0 when every requested partition succeeded (or was skipped), 1 otherwise. */
export function exitCodeOf(outcomes: PartitionOutcome[]): number {
  return outcomes.every((o) => o.status === "succeeded" || o.status === "skipped") ? 0 : 1;
}
