/** The types every stage passes around about a partition run: its steps and its outcome. */
import type { CheckResult } from "../validate/types.ts";

/** How a partition run ended. */
export type PartitionStatus = "succeeded" | "failed" | "cancelled" | "skipped";

/** A step of the run, as shown in the summary, the report and --preview. */
export interface StepRecord {
  name: string;
  kind: "extract" | "transform" | "validate" | "load";
  ms: number;
  rows: number;
  /** Column name -> dtype of the step's output. */
  schema: Array<[string, string]>;
  /** The first rows of the step's output, JSON-friendly. */
  head: Array<Record<string, unknown>>;
  /** Step-specific facts (pages, retries, drift, check results...). */
  details: Record<string, unknown>;
}

/** The outcome of one partition run. */
export interface PartitionOutcome {
  job: string;
  dt: string;
  runId: string;
  status: PartitionStatus;
  rowsIn: number;
  rowsLoaded: number;
  rowsQuarantined: number;
  failedChecks: number;
  checks: Array<CheckResult & { dt: string }>;
  steps: StepRecord[];
  durationMs: number;
  error: string | null;
  /** The error object, for exit codes and retry decisions; absent on success. */
  cause?: unknown;
}

/** The outcome of a partition that was not run (already loaded, or not started). */
export function notRun(job: string, dt: string, status: "skipped" | "cancelled" | "failed", error: string | null = null): PartitionOutcome {
  return { job, dt, runId: "", status, rowsIn: 0, rowsLoaded: 0, rowsQuarantined: 0, failedChecks: 0, checks: [], steps: [], durationMs: 0, error };
}
