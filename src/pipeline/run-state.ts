/** Everything one partition run accumulates for bookkeeping, the summary and the report. */
import type pl from "nodejs-polars";
import type { SourceMark } from "../load/source-state.ts";
import type { QuarantineRow, RunRecord } from "../load/types.ts";
import type { CheckResult } from "../validate/types.ts";
import { jsonRows } from "./frames.ts";
import type { PartitionOutcome, PartitionStatus, StepRecord } from "./outcome.ts";
import { schemaOf } from "../core/frame-schema.ts";

const HEAD_ROWS = 5;

export class RunState {
  rowsIn = 0;
  /** True once the load transaction committed: from then on the run has succeeded. */
  committed = false;
  rowsLoaded = 0;
  readonly quarantine: QuarantineRow[] = [];
  readonly checks: Array<CheckResult & { dt: string }> = [];
  readonly steps: StepRecord[] = [];
  /** Marks of incremental sources this run reached; written with its load. */
  readonly marks: SourceMark[] = [];

  constructor(
    readonly job: string,
    readonly dt: string,
    readonly runId: string,
    readonly started: number,
  ) {}

  /** The run's row for sluice.runs; a run that did not commit loaded nothing. */
  runRecord(status: RunRecord["status"], error: string | null): RunRecord {
    return {
      runId: this.runId,
      job: this.job,
      dt: this.dt,
      status,
      startedAt: new Date(this.started),
      finishedAt: status === "running" ? null : new Date(),
      rowsIn: this.rowsIn,
      rowsLoaded: status === "succeeded" ? this.rowsLoaded : 0,
      rowsQuarantined: this.quarantine.length,
      error,
    };
  }

  outcome(status: PartitionStatus, error: string | null): PartitionOutcome {
    return {
      job: this.job,
      dt: this.dt,
      runId: this.runId,
      status,
      rowsIn: this.rowsIn,
      rowsLoaded: status === "succeeded" ? this.rowsLoaded : 0,
      rowsQuarantined: this.quarantine.length,
      failedChecks: this.checks.filter((c) => !c.passed).length,
      checks: this.checks,
      steps: this.steps,
      durationMs: Date.now() - this.started,
      error,
    };
  }

  /** Records a step with its output's schema and first rows. */
  record(step: Omit<StepRecord, "schema" | "head" | "rows">, frame: pl.DataFrame | null): StepRecord {
    const full: StepRecord = {
      ...step,
      rows: frame?.height ?? 0,
      schema: frame ? Object.entries(schemaOf(frame)).map(([name, dtype]) => [name, String(dtype)]) : [],
      head: frame ? jsonRows(frame.head(HEAD_ROWS)) : [],
    };
    this.steps.push(full);
    return full;
  }
}
