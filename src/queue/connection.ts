/**
 * Scale-out plumbing shared by the worker, the loader and the backfill producer: queue names,
 * Redis connections, and the BullMQ settings (attempts, backoff, stall detection) in one place.
 * The URL check itself is in queue-url.ts, which every command line loads without ioredis.
 */
import { hostname } from "node:os";
import type { ConnectionOptions } from "bullmq";
import { Redis } from "ioredis";
import { ServiceUnavailableError, UsageError } from "../core/errors.ts";
import { parseQueueUrl, redact } from "./queue-url.ts";

/** Partition tasks {job, dt, refetch, keepRaw}: consumed by `sluice worker`. */
export const PARTITION_QUEUE = "sluice-partitions";
/** Warehouse operations (startRun, commit, fail, checkHistory, partitionStatus, readMarks): consumed by the one loader. */
export const WAREHOUSE_QUEUE = "sluice-warehouse";
/** BullMQ worker name of the loader; `Queue.getWorkers()` finds it in Redis' client list. */
export const LOADER_NAME = "sluice-loader";

/** One partition to run: what a worker needs besides its own data dir and API URL. */
export interface PartitionTask {
  job: string;
  dt: string;
  refetch: boolean;
  keepRaw: boolean;
  /** Incremental sources start over; unpartitioned tables are replaced. */
  fullRefresh?: boolean;
  /** Load even when a partition shrinks by more than its table allows (--allow-shrink). */
  allowShrink?: boolean;
  /** The backfill that enqueued it (part of the BullMQ job id). */
  backfillId: string;
}

/**
 * Timings of retries and crash detection. Production defaults favour not mistaking a busy worker
 * for a dead one (Polars transforms block the event loop, and with it BullMQ's lock renewal);
 * tests shorten them so a killed worker's task comes back within seconds.
 */
export interface QueueTuning {
  /** Attempts per partition task before it goes to the failed set (dead letters). */
  attempts: number;
  /** First retry delay; each further retry doubles it (BullMQ exponential backoff). */
  backoffMs: number;
  /** How long a worker's claim on a task lasts without renewal (renewed every half of it). */
  lockDurationMs: number;
  /** How often workers look for tasks whose claim expired (their worker died) and re-queue them. */
  stalledIntervalMs: number;
  /** How many times a task may be re-queued after its worker died before it counts as failed. */
  maxStalledCount: number;
  /** How long a worker waits for the loader to take up a warehouse operation before giving up. */
  loaderWaitMs: number;
}

/** The defaults of every process; the CLI's configuration (SLUICE_QUEUE_TUNING, for tests) overrides fields. */
export const DEFAULT_TUNING: QueueTuning = {
  attempts: 3,
  backoffMs: 5_000,
  lockDurationMs: 60_000,
  stalledIntervalMs: 30_000,
  maxStalledCount: 1,
  loaderWaitMs: 10 * 60_000,
};

/** Tuning from the defaults and overrides (configured at the edge, or a test's); throws UsageError on a bad value. */
export function resolveTuning(overrides: Partial<QueueTuning> = {}): QueueTuning {
  const tuning = { ...DEFAULT_TUNING, ...overrides };
  for (const [key, value] of Object.entries(tuning)) {
    if (typeof value !== "number" || !Number.isFinite(value) || value < (key === "maxStalledCount" ? 0 : 1)) {
      throw new UsageError(`queue tuning ${key} must be a positive number, got ${JSON.stringify(value)}`);
    }
  }
  return tuning;
}

/** BullMQ connection options for a queue URL (each Queue/Worker/QueueEvents makes its own connections). */
export function connectionFor(url: string): ConnectionOptions {
  // BullMQ's connections reconnect forever (a Redis restart must not kill long-running workers);
  // reachability is checked once up front with pingRedis so a wrong URL fails fast instead.
  return { url: parseQueueUrl(url) };
}

/** Fails with a SluiceError naming the URL when Redis does not answer PING within timeoutMs. */
export async function pingRedis(url: string, timeoutMs = 5_000): Promise<void> {
  const client = new Redis(parseQueueUrl(url), { lazyConnect: true, maxRetriesPerRequest: 0, connectTimeout: timeoutMs, retryStrategy: () => null });
  client.on("error", () => undefined); // reported through the rejected promise below
  try {
    await client.connect();
    await client.ping();
  } catch (error) {
    throw new ServiceUnavailableError(`cannot reach the queue at ${redact(url)}: ${error instanceof Error ? error.message : String(error)}`, {
      cause: error,
      context: { stage: "queue" },
      hint: "start Redis (redis-server) or fix --queue / SLUICE_QUEUE_URL",
    });
  } finally {
    client.disconnect();
  }
}

/** This process as the other processes see it: host and pid. */
export function processLabel(): string {
  return `${hostname()}:${process.pid}`;
}

/** The BullMQ job id of a partition task: one per backfill, job and day (duplicates are ignored by BullMQ). */
export function taskId(backfillId: string, job: string, dt: string): string {
  // BullMQ refuses ':' in custom ids.
  return `${backfillId}.${job}.${dt}`;
}

/** Waits for `closing` at most `ms` (a close that needs Redis hangs while Redis is gone); false on timeout. */
export async function closeWithin(closing: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  try {
    return await Promise.race([closing.then(() => true, () => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Waits for `closing` at most `ms`, and only while Redis answers PING (asked every second): a
 * graceful close that needs a Redis which is gone would otherwise hang until the bound. False when
 * it gave up; the caller then disconnects without waiting.
 */
export async function closeWhileRedisAnswers(closing: Promise<unknown>, url: string, ms: number): Promise<boolean> {
  const settled = closing.then(() => true, () => true);
  const deadline = Date.now() + ms;
  for (;;) {
    const answers = await pingRedis(url, 1_000).then(() => true, () => false);
    if (!answers) return false;
    const left = deadline - Date.now();
    if (left <= 0) return false;
    if (await closeWithin(settled, Math.min(1_000, left))) return true;
  }
}

/** BullMQ options of a partition task: the queue's attempts and backoff, kept a week when done (for `sluice status --queue`, and so a second add of the same id is ignored), kept when failed (dead letters). */
export function partitionTaskOptions(jobId: string, tuning: QueueTuning): {
  jobId: string;
  attempts: number;
  backoff: { type: "exponential"; delay: number };
  removeOnComplete: { age: number; count: number };
  removeOnFail: false;
} {
  return {
    jobId,
    attempts: tuning.attempts,
    backoff: { type: "exponential", delay: tuning.backoffMs },
    removeOnComplete: { age: 7 * 24 * 3600, count: 100_000 },
    removeOnFail: false,
  };
}
