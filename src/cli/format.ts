/** Text output of the CLI: aligned tables, CSV, JSON, run summaries and preview cells; all of it terminal-safe. */
import { clipToWidth, displayWidth, padToWidth, terminalSafe } from "../core/terminal-text.ts";
import type { PartitionOutcome } from "../pipeline/index.ts";
import { displayCell, isNumericDtype, polarsDtype } from "./cell-display.ts";
import { renderFrame, type FrameLayout } from "./frame-table.ts";
import { csvLine, jsonRowText, uniqueNames } from "./row-encoding.ts";

export interface Rows {
  columns: string[];
  rows: unknown[][];
}

/**
 * Renders rows as an aligned text table, RFC 4180 CSV, or a JSON array of objects. `terminal`:
 * stdout is a terminal, so CSV shows control characters escaped (piped CSV keeps the data as is).
 */
export function formatRows(result: Rows, format: "table" | "csv" | "json", options: { terminal?: boolean } = {}): string {
  if (format === "json") {
    const names = uniqueNames(result.columns);
    return result.rows.length === 0 ? "[]" : `[\n${result.rows.map((r) => `  ${jsonRowText(names, r)}`).join(",\n")}\n]`;
  }
  if (format === "csv") {
    const text = [csvLine(result.columns), ...result.rows.map(csvLine)].join("\n");
    return options.terminal ? terminalSafe(text, { newlines: true }) : text;
  }
  return textTable(result.columns, result.rows.map((r) => r.map(display)));
}

function display(v: unknown): string {
  if (v === null || v === undefined) return "NULL";
  if (typeof v === "object") return JSON.stringify(v);
  return String(v);
}

/** An aligned table with a header rule; numbers right-aligned; cells escaped and cut at 60 columns except the last. */
export function textTable(columns: string[], rows: string[][]): string {
  const safeColumns = columns.map((c) => terminalSafe(c));
  const safeRows = rows.map((r) => r.map((c) => terminalSafe(c)));
  const last = columns.length - 1;
  const cap = (i: number): number => (i === last ? Infinity : 60);
  const widths = safeColumns.map((c, i) => Math.max(displayWidth(c), ...safeRows.map((r) => Math.min(cap(i), displayWidth(r[i] ?? "")))));
  const numeric = columns.map((_, i) => rows.length > 0 && rows.every((r) => /^-?[\d.,]+(s|%)?$/.test(r[i] ?? "") || r[i] === "NULL"));
  const cell = (c: string, i: number): string => padToWidth(clipToWidth(c, widths[i] ?? 0), widths[i] ?? 0, numeric[i] ? "right" : "left");
  const line = (cells: string[]): string => cells.map(cell).join("  ").trimEnd();
  return [line(safeColumns), widths.map((w) => "-".repeat(w)).join("  "), ...safeRows.map(line), `(${rows.length} row${rows.length === 1 ? "" : "s"})`].join("\n");
}

/**
 * The error of a partition as its summary cell: the first line, URLs without their query string,
 * without the (job=… partition=…) context the row already shows. The full error is in sluice.runs.
 */
export function errorCell(error: string | null): string {
  if (!error) return "";
  const first = error.split("\n")[0] ?? "";
  return first.replace(/\b(https?:\/\/[^\s?#]+)\?[^\s#]*?(?=[:),]?(?:\s|$))/g, "$1?…").replace(/\s\((?:[a-z_]+=[^\s()]*\s?)+\)$/, "");
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
    errorCell(o.error),
  ]);
  const table = textTable(["job", "dt", "status", "rows_in", "rows_loaded", "quarantined", "failed_checks", "duration", "error"], rows);
  const failed = outcomes.filter((o) => o.status === "failed" || o.status === "cancelled");
  const counts = ["succeeded", "skipped", "failed", "cancelled"].map((s) => `${outcomes.filter((o) => o.status === s).length} ${s}`).join(", ");
  const tail = failed.length > 0 ? `\nrerun the failed ones with: sluice backfill ${failed[0]?.job} --from ${failed[0]?.dt} --to ${failed.at(-1)?.dt} --retry-failed` : "";
  const checkLines = outcomes.flatMap((o) => checkSummary(o)).map((l) => terminalSafe(l));
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

/** Prints each step of a run as a notebook cell: name, timing, then its first rows as a frame fitted to `layout`, and check results. */
export function printPreview(outcome: PartitionOutcome, write: (s: string) => void, layout: FrameLayout): void {
  for (const step of outcome.steps) {
    write(`\n── [${step.kind}] ${terminalSafe(step.name)} · ${step.rows} rows · ${step.ms.toFixed(0)} ms\n`);
    if (step.schema.length > 0) {
      const columns = step.schema.map(([name]) => name);
      const dtypes = step.schema.map(([, dtype]) => polarsDtype(dtype));
      const head = step.head.map((r) => columns.map((c, i) => displayCell(r[c], dtypes[i] ?? "")));
      write(`${renderFrame({ columns, dtypes, head, tail: [], height: step.rows, rightAligned: dtypes.map(isNumericDtype) }, layout)}\n`);
    }
    const results = step.details["results"];
    if (Array.isArray(results)) {
      for (const r of results as Array<{ check: string; passed: boolean; failingRows: number; severity: string }>) {
        write(`  ${r.passed ? "✓" : "✗"} ${terminalSafe(r.check)}${r.passed ? "" : ` — ${r.failingRows} failing (${terminalSafe(r.severity)})`}\n`);
      }
    }
  }
  write("\npreview: nothing was loaded\n");
}

/** 0 when every requested partition succeeded (or was skipped), 1 otherwise. */
export function exitCodeOf(outcomes: PartitionOutcome[]): number {
  return outcomes.every((o) => o.status === "succeeded" || o.status === "skipped") ? 0 : 1;
}
