/** Backfill: many partitions of a job with bounded parallelism; one failure never stops the others. */
import type { JobDefinition } from "./job.ts";
import { notRun, type PartitionOutcome } from "./outcome.ts";
import { runPartition, type RunSettings } from "./run-partition.ts";
import { readPartitionStatus, withWarehouse } from "../load/warehouse.ts";
import { existsSync } from "node:fs";
import { warehousePath } from "../load/warehouse.ts";

export interface BackfillOptions {
  concurrency: number;
  /** Rerun partitions that already succeeded. */
  force: boolean;
  /** Run only partitions whose last run did not succeed (failed, cancelled, abandoned). */
  retryFailed: boolean;
  /** Called as partitions start and finish (progress bars, log lines). */
  onProgress?: (event: BackfillProgress) => void;
}

export interface BackfillProgress {
  kind: "start" | "finish";
  dt: string;
  index: number;
  total: number;
  done: number;
  outcome?: PartitionOutcome;
}

/** Runs `days` of `job`; returns one outcome per requested day, in date order. */
export async function runBackfill(job: JobDefinition, days: readonly string[], options: BackfillOptions, settings: RunSettings): Promise<PartitionOutcome[]> {
  const last = await lastStatuses(job, settings);
  const outcomes = new Map<string, PartitionOutcome>();
  const todo: string[] = [];
  for (const dt of days) {
    const status = last.get(dt);
    const skip = options.retryFailed ? status === undefined || status === "succeeded" : !options.force && status === "succeeded";
    if (skip) outcomes.set(dt, notRun(job.name, dt, "skipped"));
    else todo.push(dt);
  }
  let next = 0;
  let done = 0;
  const worker = async (): Promise<void> => {
    // No new partition starts once the run is cancelled; in-flight ones see the same signal.
    while (next < todo.length && !settings.signal.aborted) {
      const index = next++;
      const dt = todo[index] as string;
      options.onProgress?.({ kind: "start", dt, index, total: todo.length, done });
      const outcome = await runPartition(job, dt, settings);
      outcomes.set(dt, outcome);
      done++;
      options.onProgress?.({ kind: "finish", dt, index, total: todo.length, done, outcome });
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(options.concurrency, todo.length)) }, worker));
  for (const dt of todo) {
    if (!outcomes.has(dt)) outcomes.set(dt, notRun(job.name, dt, "cancelled", "not started: the backfill was cancelled"));
  }
  return days.map((dt) => outcomes.get(dt) as PartitionOutcome);
}

/** The last run's status of each partition of the job, by day (empty before the first run). */
export async function lastStatuses(job: JobDefinition, settings: Pick<RunSettings, "dataDir" | "signal" | "onWait">): Promise<Map<string, string>> {
  if (!existsSync(warehousePath(settings.dataDir))) return new Map();
  const rows = await withWarehouse(settings.dataDir, "read", (conn) => readPartitionStatus(conn, job.name), settings.onWait ? { signal: settings.signal, onWait: settings.onWait } : { signal: settings.signal });
  return new Map(rows.map((r) => [r.dt, r.status]));
}
