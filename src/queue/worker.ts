/**
 * `sluice worker`: takes partition tasks from the queue and runs them exactly as `sluice run` does
 * (extract, transform, validate, Parquet), except that warehouse operations go to the loader.
 *
 * BullMQ owns retries and crash recovery: a failed run throws so BullMQ retries it with backoff
 * (or fails it at once when retrying cannot help), and a worker that dies mid-task stops renewing
 * its claim, so another worker's stall check puts the task back in the queue.
 *
 * Every worker also consumes the schedule queue (fired catch-ups, see scheduled-catch-up.ts), and
 * its sources' rate limits are shared with every other worker through Redis.
 */
import { UnrecoverableError, WaitingError, Worker, type Job } from "bullmq";
import { SluiceError, formatError, worthRetrying } from "../core/errors.ts";
import type { Logger } from "../core/log.ts";
import type { Redactor } from "../extract/index.ts";
import { SharedRateLimits } from "../extract/shared-rate-limit.ts";
import type { JobLookup } from "../pipeline/job-catalog.ts";
import type { JobDefinition } from "../pipeline/job.ts";
import { runPartition, type PartitionOutcome } from "../pipeline/index.ts";
import { encode, type Wire } from "./codec.ts";
import { PARTITION_QUEUE, closeWhileRedisAnswers, closeWithin, connectionFor, pingRedis, processLabel, resolveTuning, type PartitionTask, type QueueTuning } from "./connection.ts";
import { redact } from "./queue-url.ts";
import { CatchUpConsumer } from "./scheduled-catch-up.ts";
import { WarehouseClient } from "./warehouse-client.ts";

export interface WorkerOptions {
  queueUrl: string;
  /** Partitions this process runs at once. */
  concurrency: number;
  /** The shared data dir (lake, locks, raw landing); the same content every worker and the loader see. */
  dataDir: string;
  /** Source API base URL; default: the built-in demo API, started in this process. */
  apiUrl?: string;
  /** Where the worker finds the job a task names (the CLI passes its job catalog). */
  jobs: JobLookup;
  log: Logger;
  /** Stops taking tasks; running partitions are cancelled and go back to the queue. */
  signal: AbortSignal;
  env?: Record<string, string | undefined>;
  tuning?: Partial<QueueTuning>;
  /** Called once the worker consumes the queue. */
  onReady?: (info: { apiUrl: string; name: string }) => void;
  /** Called after every attempt of a task (any status). */
  onTask?: (outcome: PartitionOutcome, attempt: number) => void;
  /** Collects every secret the sources use (the CLI's logger scrubs them). */
  redactor?: Redactor;
  /** Called with the outcomes of a scheduled catch-up's partitions once all finished (metrics, reports, alert). */
  onCatchUpFinished?: (job: JobDefinition, outcomes: PartitionOutcome[]) => Promise<void>;
}

/** What a task's progress holds once an attempt failed: the outcome the backfill shows. */
export interface TaskProgress {
  attempt: number;
  worker: string;
  outcome: Wire;
}

/** Runs a worker until the signal aborts; resolves with the number of tasks it finished. */
export async function runWorker(options: WorkerOptions): Promise<{ processed: number }> {
  if (!Number.isInteger(options.concurrency) || options.concurrency < 1) throw new SluiceError(`worker concurrency must be a whole number >= 1, got ${options.concurrency}`);
  const tuning = resolveTuning(options.tuning);
  await pingRedis(options.queueUrl);
  const log = options.log.child({ component: "worker", worker: processLabel() });
  const source = await sourceApi(options.apiUrl, log);
  const warehouse = new WarehouseClient(options.queueUrl, options.dataDir, tuning, log);
  const limits = new SharedRateLimits(options.queueUrl);
  const tasks = new TaskRunner(options, source.url, warehouse, limits, log);
  const worker = new Worker(PARTITION_QUEUE, (job, token, signal) => tasks.run(job, token, signal), {
    connection: connectionFor(options.queueUrl),
    concurrency: options.concurrency,
    name: `sluice-worker@${processLabel()}`,
    lockDuration: tuning.lockDurationMs,
    stalledInterval: tuning.stalledIntervalMs,
    maxStalledCount: tuning.maxStalledCount,
    autorun: false,
  });
  worker.on("error", (e) => log.warn({ err: e.message }, "partition queue connection error"));
  const fires = { queueUrl: options.queueUrl, jobs: options.jobs, warehouse, tuning, log, signal: options.signal };
  const schedules = new CatchUpConsumer(options.onCatchUpFinished ? { ...fires, onFinished: options.onCatchUpFinished } : fires);
  try {
    await Promise.all([warehouse.ready(), limits.ready()]);
    const running = worker.run();
    running.catch(() => undefined);
    await Promise.all([worker.waitUntilReady(), schedules.start()]);
    log.info({ queue: redact(options.queueUrl), concurrency: options.concurrency, data_dir: options.dataDir }, "worker started");
    options.onReady?.({ apiUrl: source.url, name: processLabel() });
    await new Promise<void>((resolve) => {
      if (options.signal.aborted) resolve();
      options.signal.addEventListener("abort", () => resolve(), { once: true });
    });
    log.info("worker stopping: running partitions are cancelled and go back to the queue");
  } finally {
    await shutdown({ worker, schedules, warehouse, limits }, options.queueUrl, log);
    await source.close();
  }
  log.info({ processed: tasks.processed }, "worker stopped");
  return { processed: tasks.processed };
}

/**
 * Lets the running partitions (already cancelled) hand their tasks back, bounded; but when Redis
 * cannot be reached nothing can be handed back, so it disconnects at once instead of waiting for a
 * Redis that is gone: one SIGTERM stops a worker within seconds. Its tasks come back through
 * BullMQ's stall check once Redis is back.
 */
async function shutdown(parts: { worker: Worker; schedules: CatchUpConsumer; warehouse: WarehouseClient; limits: SharedRateLimits }, queueUrl: string, log: Logger): Promise<void> {
  const { worker, schedules, warehouse, limits } = parts;
  const graceful = Promise.all([worker.close(), schedules.close()]);
  if (await closeWhileRedisAnswers(graceful, queueUrl, 30_000)) {
    await closeWithin(warehouse.close(), 5_000);
  } else {
    log.warn("Redis does not answer: stopping without waiting for it; the running partitions' tasks come back to the queue through BullMQ's stall check once it is back");
    void worker.disconnect().catch(() => undefined);
    schedules.disconnect();
    warehouse.disconnect();
  }
  limits.disconnect();
}

/** The source API: the given URL, or the built-in demo API started in this process. */
async function sourceApi(apiUrl: string | undefined, log: Logger): Promise<{ url: string; close: () => Promise<void> }> {
  if (apiUrl !== undefined) return { url: apiUrl, close: async () => undefined };
  const { startDemoApi } = await import("../demo-api/index.ts");
  const demo = await startDemoApi({});
  log.warn({ api_url: demo.url }, "no API URL given: using the built-in demo API");
  return { url: demo.url, close: () => demo.close() };
}

/** Runs one attempt of a partition task as BullMQ's processor, and counts the attempts it finished. */
class TaskRunner {
  processed = 0;

  constructor(
    private readonly options: WorkerOptions,
    private readonly apiUrl: string,
    private readonly warehouse: WarehouseClient,
    private readonly limits: SharedRateLimits,
    private readonly log: Logger,
  ) {}

  /** Resolves with the outcome of a succeeded run; throws so that BullMQ retries, fails or hands back the task. */
  async run(job: Job, token?: string, jobSignal?: AbortSignal): Promise<Wire> {
    const { options, log } = this;
    const task = job.data as PartitionTask;
    const attempt = job.attemptsMade + 1;
    let def;
    try {
      def = options.jobs.get(task.job);
    } catch (error) {
      throw new UnrecoverableError(formatError(error));
    }
    const signal = jobSignal ? AbortSignal.any([options.signal, jobSignal]) : options.signal;
    log.info({ job: task.job, dt: task.dt, attempt, task: job.id }, "task started");
    const env = options.env ?? {};
    const outcome = await runPartition(def, task.dt, {
      dataDir: options.dataDir,
      signal,
      log,
      // the worker's API URL (given, or its demo API) is what SLUICE_API_URL means for the demo jobs' sources
      env: options.apiUrl === undefined ? env : { ...env, SLUICE_API_URL: options.apiUrl },
      demoApi: async () => this.apiUrl,
      refetch: task.refetch,
      fullRefresh: task.fullRefresh === true,
      allowShrink: task.allowShrink === true,
      keepRaw: task.keepRaw,
      preview: false,
      warehouse: this.warehouse.gateway(signal),
      // Every worker of a source shares its rate limit through Redis (local runs keep one bucket per process).
      limiterFor: this.limits.limiterFor,
      ...(options.redactor ? { redactor: options.redactor } : {}),
    });
    this.processed++;
    options.onTask?.(outcome, attempt);
    const wire = outcomeToWire(outcome);
    if (outcome.status === "succeeded") return wire;
    if (outcome.status === "cancelled" && options.signal.aborted && token) {
      // This worker is shutting down: the task goes back to the queue without using up an attempt.
      await job.moveToWait(token);
      throw new WaitingError();
    }
    const progress: TaskProgress = { attempt, worker: processLabel(), outcome: wire };
    await job.updateProgress(progress as unknown as object);
    const message = outcome.error ?? `partition ${outcome.status}`;
    throw worthRetrying(outcome.cause) ? new Error(message) : new UnrecoverableError(message);
  }
}

/** The outcome as JSON (without the error object, whose class the message and status already tell). */
export function outcomeToWire(outcome: PartitionOutcome): Wire {
  const { cause: _cause, ...rest } = outcome;
  return encode(rest);
}
