/** Backfill: many partitions of a job with bounded parallelism; one failure never stops the others. */
import { randomUUID } from "node:crypto";
import { existsSync } from "node:fs";
import { formatError } from "../core/errors.ts";
import { copyRequests } from "../load/bookkeeping-copy.ts";
import { recordRequests, unfinishedRequests } from "../load/run-ledger.ts";
import { readPartitionStatus, warehousePath, withWarehouse } from "../load/warehouse.ts";
import type { JobDefinition } from "./job.ts";
import { notRun, type PartitionOutcome } from "./outcome.ts";
import { runPartition, type RunSettings } from "./run-partition.ts";

export interface BackfillOptions {
  concurrency: number;
  /** Rerun partitions that already succeeded. */
  force: boolean;
  /** Run only partitions whose last run did not succeed (failed, cancelled, abandoned, pending) or that never ran; wins over force. */
  retryFailed: boolean;
  /**
   * The range the user asked for, recorded in sluice.requests before anything runs, so a day that
   * never runs (Ctrl-C, a failure before its run was recorded) shows as pending. Absent: nothing new
   * was asked (a retry of requested days).
   */
  request?: { from: string; to: string };
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
  if (options.request) await recordRequest(job, options.request, settings);
  const outcomes = new Map<string, PartitionOutcome>();
  const todo: string[] = [];
  for (const dt of days) {
    // A day that never ran has not succeeded: it runs, with or without --retry-failed.
    const skip = last.get(dt) === "succeeded" && (options.retryFailed || !options.force);
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

/** The days of `job` a backfill asked for whose last run did not succeed (or that never ran), sorted. */
export async function unfinishedDays(job: JobDefinition, settings: Pick<RunSettings, "dataDir" | "signal" | "onWait">): Promise<string[]> {
  if (!existsSync(warehousePath(settings.dataDir))) return [];
  return withWarehouse(settings.dataDir, "read", (conn) => unfinishedRequests(conn, job.name), waitOf(settings));
}

/** The last run's status of each partition of the job, by day (empty before the first run). */
export async function lastStatuses(job: JobDefinition, settings: Pick<RunSettings, "dataDir" | "signal" | "onWait">): Promise<Map<string, string>> {
  if (!existsSync(warehousePath(settings.dataDir))) return new Map();
  const rows = await withWarehouse(settings.dataDir, "read", (conn) => readPartitionStatus(conn, job.name), waitOf(settings));
  return new Map(rows.map((r) => [r.dt, r.status]));
}

/** Records the requested range (and its copy in the lake); a failure to record is a warning, not the backfill's end. */
async function recordRequest(job: JobDefinition, range: { from: string; to: string }, settings: RunSettings): Promise<void> {
  const request = { job: job.name, ...range, requestId: `backfill-${randomUUID().slice(0, 8)}`, at: new Date() };
  try {
    await withWarehouse(
      settings.dataDir,
      "write",
      async (conn) => {
        await recordRequests(conn, request);
        await copyRequests(conn, settings.dataDir, job.name).catch((error: unknown) => settings.log.warn({ err: formatError(error) }, "could not copy the backfill's request to the lake"));
      },
      waitOf(settings),
    );
  } catch (error) {
    settings.log.warn({ err: formatError(error) }, "could not record the backfill's request; days it does not run will not show as pending");
  }
}

function waitOf(settings: Pick<RunSettings, "signal" | "onWait">): { signal: AbortSignal; onWait?: (m: string) => void } {
  return settings.onWait ? { signal: settings.signal, onWait: settings.onWait } : { signal: settings.signal };
}
