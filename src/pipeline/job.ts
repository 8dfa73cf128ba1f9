/** What a job is: a name, the tables it writes, what it reads around its partition, and a notebook-style `run`. */
import type pl from "nodejs-polars";
import { z } from "zod";
import type { PartitionWindow } from "../core/dates.ts";
import { ConfigError } from "../core/errors.ts";
import type { Logger } from "../core/log.ts";
import type { SourceSpec } from "../extract/types.ts";
import type { TableSpec } from "../load/types.ts";
import type { Suite } from "../validate/index.ts";
import type { ChunkedFrame, LakeWindowFiles } from "./chunked-frame.ts";
import type { SourceStream, StreamOptions } from "./chunked-stages.ts";
import { defineTable } from "./define-table.ts";
import type { ChartsHook } from "./job-charts.ts";

export type { ChartsHook, ChartsInput, LakeFiles, ReportChart } from "./job-charts.ts";
export type { StepOutput } from "./step-record.ts";
import type { StepOutput } from "./step-record.ts";

/** Frames for one table: split by its `dt` column into the partitions `dts` (default: the run's day). */
export interface TableOutput {
  table: TableSpec;
  /** The rows: one frame, or a chunked frame (a day processed group by group). */
  frame: pl.DataFrame | ChunkedFrame;
  /** Partitions to replace; a partition with no rows in `frame` is replaced by an empty one. Unpartitioned tables: ignored. */
  dts?: readonly string[];
}

/**
 * Lake partitions of another (or the same) table a job reads around its own, like Dagster's
 * TimeWindowPartitionMapping: days `from`..`to` relative to the run's day (the day itself excluded).
 */
export interface LakeWindow {
  from: number;
  to: number;
}

/** What ctx.extract hands to ctx.validate: the frame, and where its raw records landed (for quarantine). */
export interface Extracted {
  readonly source: string;
  /** Declared columns, then _page, _row, _error. */
  readonly frame: pl.DataFrame;
}

/** What a job's `run` gets: the partition, and one method per pipeline stage. */
export interface JobContext {
  readonly job: string;
  readonly dt: string;
  readonly window: PartitionWindow;
  readonly runId: string;
  readonly dataDir: string;
  readonly signal: AbortSignal;
  readonly log: Logger;
  /**
   * Stage 1: pulls every page of the source for this partition (landed first, resumable); a child
   * source takes its parents' records and makes one listing per parent.
   */
  extract(source: SourceSpec, options?: { parents?: Extracted | pl.DataFrame }): Promise<Extracted>;
  /**
   * Stage 1, streamed: the same extraction, but its pages flow on to ctx.validate in chunks as they
   * land, so a day of any size passes in bounded memory (a day larger than the memory budget is
   * kept on disk, in groups). Nothing happens until ctx.validate consumes it (once).
   */
  stream(source: SourceSpec, options?: StreamOptions): SourceStream;
  /** Stage 2: runs the suite of its table in one pass; failing rows go to quarantine with their raw record, blocking checks fail the run. */
  validate(input: Extracted | pl.DataFrame, suite: Suite): Promise<pl.DataFrame>;
  /** Stage 2 of a stream (each chunk as it lands) or of a chunked frame (group by group): the same results as one pass over the whole partition. */
  validate(input: SourceStream | ChunkedFrame, suite: Suite): Promise<ChunkedFrame>;
  /** Stage 3: runs one named transform step, timing it and recording its output for the report. */
  step<T extends StepOutput>(name: string, fn: () => T | Promise<T>): Promise<T>;
  /** The lake partitions of `table` in the job's declared window around its day (its own day excluded); holds the job's lock until the load. */
  readWindow(table: string): Promise<pl.DataFrame | null>;
  /** The same window, read group by group alongside a chunked frame (ChunkedFrame.groupMap's `with`). */
  readWindow(table: string, options: { chunked: true }): Promise<LakeWindowFiles>;
  /** Partitions of a table that exist in the lake. */
  lakePartitions(table: string): Promise<string[]>;
  /** Stage 4: writes the lake partitions atomically, then loads them into the warehouse in one transaction. */
  materialize(table: TableSpec, frame: pl.DataFrame): Promise<void>;
  materialize(outputs: TableOutput[]): Promise<void>;
}

/** A job definition: what `sluice run <name>` runs. */
export interface JobDefinition {
  name: string;
  description: string;
  /** Tables the job writes; created in the warehouse before the first load. The first is its main table (rows_loaded). */
  tables: TableSpec[];
  /** Lake windows the job reads by table name (ctx.readWindow); the engine takes the job's lock for them. */
  reads?: Record<string, LakeWindow>;
  /** The first partition there is (catch-up starts here when nothing ran yet). */
  start?: string;
  run(ctx: JobContext): Promise<void>;
  /** The job's own charts in the run report of a partition that succeeded, computed from the lake. */
  charts?: ChartsHook;
}

const JOB = z.strictObject({
  name: z.string().regex(/^[a-z][a-z0-9_-]*$/, "lowercase letters, digits, _ and -, starting with a letter"),
  description: z.string().min(1, "say in a sentence what the job loads"),
  tables: z.array(z.looseObject({ name: z.string() })).min(1, "a job writes at least one table"),
  reads: z.record(z.string(), z.strictObject({ from: z.number().int().max(0), to: z.number().int().min(0) })).optional(),
  start: z.iso.date().optional(),
  run: z.custom<JobDefinition["run"]>((v) => typeof v === "function", { message: "expected a function run(ctx)" }),
  charts: z.custom<ChartsHook>((v) => typeof v === "function", { message: "expected a function charts({ dt, lake })" }).optional(),
});

/** Checks a job declaration (and its tables) and returns it; ConfigError naming the job and the problem. */
export function defineJob<J extends JobDefinition>(job: J): J {
  const name = typeof job?.name === "string" ? job.name : "?";
  const parsed = JOB.safeParse(job);
  if (!parsed.success) {
    const message = parsed.error.issues.map((i) => (i.path.length ? `${i.path.join(".")}: ${i.message}` : i.message)).join("; ");
    throw new ConfigError(`job "${name}": ${message}`, { context: { job: name } });
  }
  for (const table of job.tables) defineTable(table);
  const names = job.tables.map((t) => t.name);
  const dup = names.find((n, i) => names.indexOf(n) !== i);
  if (dup !== undefined) throw new ConfigError(`job "${name}": table "${dup}" is listed twice`, { context: { job: name } });
  return job;
}
