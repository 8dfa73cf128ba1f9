/**
 * `sluice backfill --queue`: the partitions go to workers as BullMQ tasks instead of running here.
 * This process skips what already succeeded, enqueues the rest, runs the loader while it waits
 * (unless one is already connected), and turns queue events into the same progress callbacks and
 * outcomes as a local backfill, so the CLI's bar, summary and exit codes work unchanged.
 */
import { randomBytes } from "node:crypto";
import { Queue, QueueEvents, type Job } from "bullmq";
import { Redis } from "ioredis";
import type { Logger } from "../core/log.ts";
import type { BackfillProgress } from "../pipeline/backfill.ts";
import type { JobDefinition } from "../pipeline/job.ts";
import type { PartitionOutcome } from "../pipeline/index.ts";
import { decode, type Wire } from "./codec.ts";
import { PARTITION_QUEUE, closeWithin, connectionFor, pingRedis, redact, resolveTuning, taskId, type PartitionTask, type QueueTuning } from "./connection.ts";
import { connectedLoaders, startLoader, type LoaderHandle } from "./loader.ts";
import { WarehouseClient } from "./warehouse-client.ts";
import type { TaskProgress } from "./worker.ts";

export interface QueueBackfillOptions {
  queueUrl: string;
  /** Rerun partitions that already succeeded. */
  force: boolean;
  /** Run only partitions whose last run did not succeed (failed, cancelled, abandoned). */
  retryFailed: boolean;
  /** Called as partitions start and finish, like runBackfill's. */
  onProgress?: (event: BackfillProgress) => void;
  /** One-line notes worth showing: retries, stalled workers, no worker connected, cancellation. */
  onNote?: (message: string) => void;
  tuning?: Partial<QueueTuning>;
  /** How often task states are re-read from Redis besides the events stream; default 5 s. */
  reconcileMs?: number;
}

export interface QueueBackfillSettings {
  /** This machine's data dir: the warehouse the in-process loader writes. */
  dataDir: string;
  /** Aborting removes the tasks no worker has started; started ones finish (the loader keeps serving them). */
  signal: AbortSignal;
  log: Logger;
  refetch: boolean;
  keepRaw: boolean;
  env?: Record<string, string | undefined>;
}

/** Enqueues the days of `job` for workers and waits for them; one outcome per requested day, in date order. */
export async function enqueueBackfill(job: JobDefinition, days: readonly string[], options: QueueBackfillOptions, settings: QueueBackfillSettings): Promise<PartitionOutcome[]> {
  const tuning = resolveTuning(settings.env, options.tuning);
  const log = settings.log.child({ component: "backfill", queue: redact(options.queueUrl) });
  const note = (m: string): void => {
    log.info(m);
    options.onNote?.(m);
  };
  await pingRedis(options.queueUrl);

  let loader: LoaderHandle | undefined;
  const others = await connectedLoaders(options.queueUrl);
  if (others.length > 0) note(`using the loader already connected at ${others.join(", ")} for the warehouse`);
  else loader = await startLoader({ queueUrl: options.queueUrl, dataDir: settings.dataDir, log, signal: new AbortController().signal, tuning, ...(settings.env ? { env: settings.env } : {}) });

  const connection = connectionFor(options.queueUrl);
  const warehouse = new WarehouseClient(options.queueUrl, settings.dataDir, tuning, log);
  const queue = new Queue(PARTITION_QUEUE, { connection });
  let events: QueueEvents | undefined;
  queue.on("error", (e) => log.warn({ err: e.message }, "partition queue connection error"));
  try {
    await warehouse.ready();
    const last = new Map((await warehouse.partitionStatus(job.name, settings.signal)).map((r) => [r.dt, r.status]));
    const outcomes = new Map<string, PartitionOutcome>();
    const todo: string[] = [];
    for (const dt of days) {
      const status = last.get(dt);
      const skip = options.retryFailed ? status === undefined || status === "succeeded" : !options.force && status === "succeeded";
      if (skip) outcomes.set(dt, blank(job.name, dt, "skipped", null));
      else todo.push(dt);
    }
    if (todo.length === 0) return days.map((dt) => outcomes.get(dt) as PartitionOutcome);

    const backfillId = `bf-${Date.now().toString(36)}-${randomBytes(3).toString("hex")}`;
    const ids = new Map(todo.map((dt, index) => [taskId(backfillId, job.name, dt), { dt, index }]));
    const started = new Set<string>();
    const finished = new Set<string>();
    let done = 0;
    let allDone: () => void = () => undefined;
    const complete = new Promise<void>((resolve) => (allDone = resolve));

    const start = (id: string): void => {
      const task = ids.get(id);
      if (!task || started.has(id)) return;
      started.add(id);
      options.onProgress?.({ kind: "start", dt: task.dt, index: task.index, total: todo.length, done });
    };
    const finish = (id: string, outcome: PartitionOutcome): void => {
      const task = ids.get(id);
      if (!task || finished.has(id)) return;
      start(id);
      finished.add(id);
      outcomes.set(task.dt, outcome);
      done++;
      options.onProgress?.({ kind: "finish", dt: task.dt, index: task.index, total: todo.length, done, outcome });
      if (done === todo.length) allDone();
    };
    const failedOutcome = (dt: string, bullJob: Job | undefined, reason: string): PartitionOutcome => {
      // The worker's own failure carries the run's outcome; BullMQ's (stalled too often) does not,
      // and then an earlier attempt's outcome would tell the wrong story.
      const progress = bullJob?.progress as Partial<TaskProgress> | undefined;
      const last = progress && typeof progress === "object" && progress.outcome ? (decode(progress.outcome) as PartitionOutcome) : undefined;
      return last && last.error === reason ? last : blank(job.name, dt, "failed", reason);
    };
    /** Reads a task's state from Redis and reports it if finished (also covers events we missed). */
    const reconcile = async (id: string): Promise<void> => {
      const task = ids.get(id);
      if (!task || finished.has(id)) return;
      const bullJob = await queue.getJob(id);
      if (!bullJob) return finish(id, blank(job.name, task.dt, "cancelled", "the task was removed from the queue before it finished"));
      if (bullJob.finishedOn && bullJob.failedReason) return finish(id, failedOutcome(task.dt, bullJob, bullJob.failedReason));
      if (bullJob.finishedOn) return finish(id, decode(bullJob.returnvalue as Wire) as PartitionOutcome);
      if (bullJob.processedOn) start(id);
    };

    // Listen from the stream's current end, taken before adding, so no event of ours is missed.
    events = new QueueEvents(PARTITION_QUEUE, { connection, lastEventId: await lastEventId(options.queueUrl, queue.keys["events"] ?? "") });
    events.on("error", (e) => log.warn({ err: e.message }, "queue events connection error"));
    events.on("active", ({ jobId }) => start(jobId));
    events.on("completed", ({ jobId, returnvalue }) => {
      const task = ids.get(jobId);
      if (task) finish(jobId, decode(returnvalue as Wire) as PartitionOutcome);
    });
    events.on("failed", ({ jobId, failedReason }) => {
      const task = ids.get(jobId);
      if (!task) return;
      void queue.getJob(jobId).then(
        (bullJob) => finish(jobId, failedOutcome(task.dt, bullJob, failedReason)),
        () => finish(jobId, blank(job.name, task.dt, "failed", failedReason)),
      );
    });
    events.on("delayed", ({ jobId, delay }) => {
      const task = ids.get(jobId);
      if (!task) return;
      void queue.getJob(jobId).then((bullJob) => {
        const progress = bullJob?.progress as Partial<TaskProgress> | undefined;
        const error = progress?.outcome ? (decode(progress.outcome) as PartitionOutcome).error : null;
        const wait = Math.max(0, Math.round((delay - Date.now()) / 1000));
        note(`${job.name} ${task.dt}: attempt ${bullJob?.attemptsMade ?? "?"} of ${tuning.attempts} failed, retrying in ${wait}s${error ? `: ${firstLine(error)}` : ""}`);
      }, () => undefined);
    });
    events.on("stalled", ({ jobId }) => {
      const task = ids.get(jobId);
      if (task) note(`${job.name} ${task.dt}: its worker stopped answering (killed?); the task is back in the queue for another worker`);
    });
    await events.waitUntilReady();

    const tasks = todo.map((dt) => {
      const data: PartitionTask = { job: job.name, dt, refetch: settings.refetch, keepRaw: settings.keepRaw, backfillId };
      return {
        name: job.name,
        data,
        opts: {
          jobId: taskId(backfillId, job.name, dt),
          attempts: tuning.attempts,
          backoff: { type: "exponential", delay: tuning.backoffMs },
          // Done tasks stay a week for `sluice status --queue`; failed ones stay (dead letters).
          removeOnComplete: { age: 7 * 24 * 3600, count: 100_000 },
          removeOnFail: false,
        },
      };
    });
    await queue.addBulk(tasks);
    log.info({ backfill: backfillId, tasks: tasks.length }, "partitions enqueued");
    if ((await queue.getWorkers()).length === 0) {
      note(`no worker is connected to ${redact(options.queueUrl)} yet: the partitions wait until one starts (sluice worker --queue ...)`);
    }

    const cancel = async (): Promise<void> => {
      let removed = 0;
      for (const [id, task] of ids) {
        if (finished.has(id)) continue;
        // 1 when it was still waiting or delayed; an active task is left to finish on its worker.
        if ((await queue.remove(id).catch(() => 0)) === 1) {
          removed++;
          finish(id, blank(job.name, task.dt, "cancelled", "not started: the backfill was cancelled"));
        }
      }
      const running = todo.length - done;
      note(`cancelled: ${removed} queued partition(s) withdrawn${running > 0 ? `; waiting for the ${running} running on workers to finish (the loader keeps serving them)` : ""}`);
    };
    const onAbort = (): void => void cancel().catch((e: unknown) => log.warn({ err: String(e) }, "could not withdraw queued partitions"));
    settings.signal.addEventListener("abort", onAbort, { once: true });
    if (settings.signal.aborted) onAbort();
    // A loader of another process that we relied on may stop before our tasks are done (another
    // backfill's, finished): then this process becomes the loader.
    const ensureLoader = async (): Promise<void> => {
      if (loader || (await connectedLoaders(options.queueUrl)).length > 0) return;
      note("no loader is connected any more: this process takes over the warehouse loads");
      loader = await startLoader({ queueUrl: options.queueUrl, dataDir: settings.dataDir, log, signal: new AbortController().signal, tuning, ...(settings.env ? { env: settings.env } : {}) });
    };
    let checking: Promise<void> = Promise.resolve();
    const reconcileMs = options.reconcileMs ?? 5_000;
    const timer = setInterval(() => {
      for (const id of ids.keys()) if (!finished.has(id)) void reconcile(id).catch(() => undefined);
      checking = checking.then(ensureLoader).catch((e: unknown) => log.warn({ err: String(e) }, "could not start a loader"));
    }, reconcileMs);
    try {
      await complete;
    } finally {
      clearInterval(timer);
      settings.signal.removeEventListener("abort", onAbort);
      await checking; // a loader being started is closed below with the rest
    }
    return days.map((dt) => outcomes.get(dt) as PartitionOutcome);
  } finally {
    await closeWithin(Promise.allSettled([events?.close(), queue.close(), warehouse.close()]), 10_000);
    await loader?.close();
  }
}

/** The id of the newest entry of a stream ("0-0" when empty): where a QueueEvents should start reading. */
async function lastEventId(queueUrl: string, key: string): Promise<string> {
  const client = new Redis(queueUrl, { maxRetriesPerRequest: 3 });
  try {
    const newest = await client.xrevrange(key, "+", "-", "COUNT", 1);
    return newest[0]?.[0] ?? "0-0";
  } finally {
    client.disconnect();
  }
}

function blank(job: string, dt: string, status: PartitionOutcome["status"], error: string | null): PartitionOutcome {
  return { job, dt, runId: "", status, rowsIn: 0, rowsLoaded: 0, rowsQuarantined: 0, failedChecks: 0, checks: [], steps: [], durationMs: 0, error };
}

function firstLine(s: string): string {
  const line = s.split("\n")[0] ?? s;
  return line.length > 200 ? `${line.slice(0, 199)}…` : line;
}
