/** What a job is: a name, the tables it writes, and a notebook-style `run` over a JobContext. */
import type pl from "nodejs-polars";
import type { PartitionWindow } from "../core/dates.ts";
import type { Logger } from "../core/log.ts";
import type { SourceSpec } from "../extract/types.ts";
import type { TableSpec } from "../load/types.ts";
import type { Suite } from "../validate/index.ts";
import type { ChartsHook } from "./job-charts.ts";

export type { ChartsHook, ChartsInput, LakeFiles, ReportChart } from "./job-charts.ts";

/** Frames for one table, keyed by partition dt (for unpartitioned tables: the run's dt). */
export interface TableOutput {
  table: TableSpec;
  partitions: Map<string, pl.DataFrame>;
}

/** Options for ctx.validate. */
export interface ValidateOptions {
  /** Values of referenced warehouse columns for foreign-key checks, read before validation. */
  foreignKeys?: Array<{ table: string; column: string }>;
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
  /** Stage 1: pulls every page of the source for this partition into a frame (with _page/_row/_error). */
  extract(source: SourceSpec): Promise<pl.DataFrame>;
  /** Stage 3: runs a suite in one pass; failing rows go to quarantine, blocking checks fail the run. */
  validate(table: string, frame: pl.DataFrame, suite: Suite, options?: ValidateOptions): Promise<pl.DataFrame>;
  /** Stage 2 helper: times a transform and records its output for the run report. */
  transform<T extends pl.DataFrame | Record<string, pl.DataFrame>>(name: string, fn: () => T | Promise<T>): Promise<T>;
  /** Reads partitions of a table already in the lake (for transforms that span days). */
  readLake(table: string, dts: readonly string[]): Promise<pl.DataFrame | null>;
  /** Partitions of a table that exist in the lake. */
  lakePartitions(table: string): Promise<string[]>;
  /** Runs `fn` holding the job's write lock: transforms that read neighbouring partitions go here. */
  exclusive<T>(fn: () => Promise<T>): Promise<T>;
  /** Stage 4: writes the lake partitions atomically, then loads them into the warehouse in one transaction. */
  materialize(outputs: TableOutput[]): Promise<void>;
}

/** A job definition: what `sluice run <name>` runs. */
export interface JobDefinition {
  name: string;
  description: string;
  /** Tables the job writes; created in the warehouse before the first load. */
  tables: TableSpec[];
  /** The number of records the run counts as rows_in / rows_loaded is reported by the context. */
  run(ctx: JobContext): Promise<void>;
  /** The job's own charts in the run report of a partition that succeeded, computed from the lake. */
  charts?: ChartsHook;
}

/** Declares a job; a typed identity that keeps job files short. */
export function defineJob(job: JobDefinition): JobDefinition {
  return job;
}
