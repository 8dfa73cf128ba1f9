/** `sluice status --queue`: the partition tasks in Redis by state, and who consumes the queues. */
import { Queue } from "bullmq";
import { decode, type Wire } from "./codec.ts";
import { LOADER_NAME, PARTITION_QUEUE, WAREHOUSE_QUEUE, connectionFor, pingRedis, type PartitionTask } from "./connection.ts";
import type { PartitionOutcome } from "../pipeline/index.ts";
import type { TaskProgress } from "./worker.ts";

/** Task states as `sluice status --queue` names them (BullMQ's: waiting+prioritized, active, delayed, failed, completed). */
export const QUEUE_STATES = ["waiting", "active", "delayed", "failed", "completed"] as const;
export type QueueState = (typeof QUEUE_STATES)[number];

/** One partition task. */
export interface QueuedPartition {
  state: QueueState;
  job: string;
  dt: string;
  backfill: string;
  /** Attempts that ended (failed) so far. */
  attemptsMade: number;
  /** The worker that took it last (host:pid). */
  worker: string | null;
  /** Rows loaded (completed tasks). */
  rowsLoaded: number | null;
  /** Last error: the failed reason, or the last failed attempt's error of a task still retrying. */
  error: string | null;
  enqueuedAt: string;
  finishedAt: string | null;
}

export interface QueueStatus {
  counts: Record<QueueState, number>;
  /** Tasks by state, then job and day; at most the `limit` newest per state. */
  partitions: QueuedPartition[];
  /** Connected workers and loaders, as "host:pid". */
  workers: string[];
  loaders: string[];
  /** Warehouse operations waiting for the loader. */
  warehouseBacklog: number;
}

/** Counts and partitions per state of the partition queue (optionally of one job). */
export async function queueStatus(queueUrl: string, options: { job?: string; limit?: number } = {}): Promise<QueueStatus> {
  await pingRedis(queueUrl);
  const limit = options.limit ?? 1000;
  const connection = connectionFor(queueUrl);
  const queue = new Queue(PARTITION_QUEUE, { connection, skipMetasUpdate: true });
  const warehouse = new Queue(WAREHOUSE_QUEUE, { connection, skipMetasUpdate: true });
  try {
    const raw = await queue.getJobCounts("waiting", "prioritized", "active", "delayed", "failed", "completed");
    const counts: Record<QueueState, number> = {
      waiting: (raw["waiting"] ?? 0) + (raw["prioritized"] ?? 0),
      active: raw["active"] ?? 0,
      delayed: raw["delayed"] ?? 0,
      failed: raw["failed"] ?? 0,
      completed: raw["completed"] ?? 0,
    };
    // By task id, the last read wins: the states are read one after another, so a task that moves on
    // between two reads (active, then delayed for its retry) is seen in both, and the later is current.
    const byTask = new Map<string, QueuedPartition>();
    for (const state of QUEUE_STATES) {
      const types = state === "waiting" ? (["waiting", "prioritized"] as const) : ([state] as const);
      for (const job of await queue.getJobs([...types], 0, limit - 1)) {
        if (!job?.id) continue;
        const data = job.data as Partial<PartitionTask>;
        if (options.job !== undefined && data.job !== options.job) continue;
        const progress = job.progress as Partial<TaskProgress> | number | undefined;
        const lastAttempt = progress && typeof progress === "object" && progress.outcome ? (decode(progress.outcome) as PartitionOutcome) : undefined;
        const result = state === "completed" && job.returnvalue ? (decode(job.returnvalue as Wire) as PartitionOutcome) : undefined;
        byTask.set(job.id, {
          state,
          job: data.job ?? job.name,
          dt: data.dt ?? "",
          backfill: data.backfillId ?? "",
          attemptsMade: job.attemptsMade,
          worker: job.processedBy ? job.processedBy.replace(/^sluice-worker@/, "") : null,
          rowsLoaded: result ? result.rowsLoaded : null,
          error: state === "completed" ? null : (job.failedReason || lastAttempt?.error) ?? null,
          enqueuedAt: new Date(job.timestamp).toISOString(),
          finishedAt: job.finishedOn ? new Date(job.finishedOn).toISOString() : null,
        });
      }
    }
    const partitions = [...byTask.values()];
    const order = (p: QueuedPartition): number => QUEUE_STATES.indexOf(p.state);
    partitions.sort((a, b) => order(a) - order(b) || a.job.localeCompare(b.job) || a.dt.localeCompare(b.dt) || a.enqueuedAt.localeCompare(b.enqueuedAt));
    const names = (await queue.getWorkers()).map((w) => w["rawname"] ?? "");
    const loaderNames = (await warehouse.getWorkers()).map((w) => w["rawname"] ?? "");
    const after = (n: string, marker: string): string | undefined => (n.includes(marker) ? n.slice(n.indexOf(marker) + marker.length) : undefined);
    const backlog = await warehouse.getWaitingCount();
    return {
      counts,
      partitions,
      workers: names.map((n) => after(n, ":w:sluice-worker@")).filter((n): n is string => n !== undefined),
      loaders: loaderNames.map((n) => after(n, `:w:${LOADER_NAME}@`)).filter((n): n is string => n !== undefined),
      warehouseBacklog: backlog,
    };
  } finally {
    await Promise.allSettled([queue.close(), warehouse.close()]);
  }
}
