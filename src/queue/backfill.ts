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
import { PARTITION_QUEUE, closeWithin, connectionFor, partitionTaskOptions, pingRedis, resolveTuning, taskId, type PartitionTask, type QueueTuning } from "./connection.ts";
import { redact } from "./queue-url.ts";
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
  fullRefresh?: boolean;
  allowShrink?: boolean;
  keepRaw: boolean;
}

/**
 * The days a queued command runs: given, or chosen from the last status of each partition (a
 * catch-up plans from them; they are read through the loader, the only process with the warehouse).
 */
export type DaySelection = readonly string[] | ((last: ReadonlyMap<string, string>) => readonly string[]);

/** Enqueues the days of `job` for workers and waits for them; one outcome per requested day, in date order. */
export async function enqueueBackfill(job: JobDefinition, selection: DaySelection, options: QueueBackfillOptions, settings: QueueBackfillSettings): Promise<PartitionOutcome[]> {
  const tuning = resolveTuning(options.tuning);
  const log = settings.log.child({ component: "backfill", queue: redact(options.queueUrl) });
  const note = (m: string): void => {
    log.info(m);
    options.onNote?.(m);
  };
  await pingRedis(options.queueUrl);
  const loader = new BackfillLoader(options.queueUrl, settings.dataDir, tuning, log, note);
  await loader.startUnlessConnected();

  const warehouse = new WarehouseClient(options.queueUrl, settings.dataDir, tuning, log);
  const queue = new Queue(PARTITION_QUEUE, { connection: connectionFor(options.queueUrl) });
  let events: QueueEvents | undefined;
  queue.on("error", (e) => log.warn({ err: e.message }, "partition queue connection error"));
  try {
    await warehouse.ready();
    const last = new Map((await warehouse.partitionStatus(job.name, settings.signal)).map((r) => [r.dt, r.status]));
    const days = typeof selection === "function" ? selection(last) : selection;
    const outcomes = new Map<string, PartitionOutcome>();
    const todo: string[] = [];
    for (const dt of days) {
      // A day that never ran has not succeeded: it runs, with or without --retry-failed.
      const skip = last.get(dt) === "succeeded" && (options.retryFailed || !options.force);
      if (skip) outcomes.set(dt, blank(job.name, dt, "skipped", null));
      else todo.push(dt);
    }
    if (todo.length > 0) {
      const tasks = new BackfillTasks({ job: job.name, todo, outcomes, queueUrl: options.queueUrl, queue, tuning, note, ...(options.onProgress ? { onProgress: options.onProgress } : {}) });
      events = await tasks.listen(log);
      await tasks.enqueue(settings, log);
      await tasks.done({ signal: settings.signal, reconcileMs: options.reconcileMs ?? 5_000, log, loader });
    }
    return days.map((dt) => outcomes.get(dt) as PartitionOutcome);
  } finally {
    await closeWithin(Promise.allSettled([events?.close(), queue.close(), warehouse.close()]), 10_000);
    await loader.close();
  }
}

/** The loader a backfill relies on: one already connected, else its own (also when the other one stops). */
class BackfillLoader {
  private handle: LoaderHandle | undefined;

  constructor(
    private readonly queueUrl: string,
    private readonly dataDir: string,
    private readonly tuning: QueueTuning,
    private readonly log: Logger,
    private readonly note: (message: string) => void,
  ) {}

  /** Uses the loader already connected, or starts one in this process. */
  async startUnlessConnected(): Promise<void> {
    const others = await connectedLoaders(this.queueUrl);
    if (others.length > 0) this.note(`using the loader already connected at ${others.join(", ")} for the warehouse`);
    else this.handle = await this.start();
  }

  /**
   * A loader of another process that we relied on may stop before our tasks are done (another
   * backfill's, finished): then this process becomes the loader.
   */
  async ensure(): Promise<void> {
    if (this.handle || (await connectedLoaders(this.queueUrl)).length > 0) return;
    this.note("no loader is connected any more: this process takes over the warehouse loads");
    this.handle = await this.start();
  }

  async close(): Promise<void> {
    await this.handle?.close();
  }

  private start(): Promise<LoaderHandle> {
    return startLoader({ queueUrl: this.queueUrl, dataDir: this.dataDir, log: this.log, signal: new AbortController().signal, tuning: this.tuning });
  }
}

/** What BackfillTasks follows. */
export interface TasksSpec {
  job: string;
  /** The days whose tasks are followed (and enqueued by `enqueue`). */
  todo: readonly string[];
  /** Filled in as tasks finish (the skipped days may already be in). */
  outcomes: Map<string, PartitionOutcome>;
  queueUrl: string;
  queue: Queue;
  tuning: QueueTuning;
  /** The first part of the task ids; default: a new backfill id. */
  backfillId?: string;
  onProgress?: (event: BackfillProgress) => void;
  note: (message: string) => void;
}

/** The tasks of one backfill (or scheduled catch-up): enqueued, followed through queue events (and polling), finished into outcomes. */
export class BackfillTasks {
  private readonly backfillId: string;
  private readonly job: string;
  private readonly todo: readonly string[];
  private readonly outcomes: Map<string, PartitionOutcome>;
  private readonly queueUrl: string;
  private readonly queue: Queue;
  private readonly tuning: QueueTuning;
  private readonly onProgress: ((event: BackfillProgress) => void) | undefined;
  private readonly note: (message: string) => void;
  private readonly ids: Map<string, { dt: string; index: number }>;
  private readonly started = new Set<string>();
  private readonly finished = new Set<string>();
  private count = 0;
  private allDone: () => void = () => undefined;
  private readonly complete = new Promise<void>((resolve) => (this.allDone = resolve));

  constructor(spec: TasksSpec) {
    ({ job: this.job, todo: this.todo, outcomes: this.outcomes, queueUrl: this.queueUrl, queue: this.queue, tuning: this.tuning, note: this.note } = spec);
    this.onProgress = spec.onProgress;
    this.backfillId = spec.backfillId ?? `bf-${Date.now().toString(36)}-${randomBytes(3).toString("hex")}`;
    this.ids = new Map(this.todo.map((dt, index) => [taskId(this.backfillId, this.job, dt), { dt, index }]));
    if (this.todo.length === 0) this.allDone();
  }

  /** Subscribes to the queue's events from the stream's current end, taken before adding, so no event of ours is missed. */
  async listen(log: Logger): Promise<QueueEvents> {
    const events = new QueueEvents(PARTITION_QUEUE, { connection: connectionFor(this.queueUrl), lastEventId: await lastEventId(this.queueUrl, this.queue.keys["events"] ?? "") });
    events.on("error", (e) => log.warn({ err: e.message }, "queue events connection error"));
    events.on("active", ({ jobId }) => this.start(jobId));
    events.on("completed", ({ jobId, returnvalue }) => {
      if (this.ids.has(jobId)) this.finish(jobId, decode(returnvalue as Wire) as PartitionOutcome);
    });
    events.on("failed", ({ jobId, failedReason }) => {
      const task = this.ids.get(jobId);
      if (!task) return;
      void this.queue.getJob(jobId).then(
        (bullJob) => this.finish(jobId, this.failedOutcome(task.dt, bullJob, failedReason)),
        () => this.finish(jobId, blank(this.job, task.dt, "failed", failedReason)),
      );
    });
    events.on("delayed", ({ jobId, delay }) => this.retrying(jobId, delay));
    events.on("stalled", ({ jobId }) => {
      const task = this.ids.get(jobId);
      if (task) this.note(`${this.job} ${task.dt}: its worker stopped answering (killed?); the task is back in the queue for another worker`);
    });
    await events.waitUntilReady();
    return events;
  }

  /** Adds one task per day to the partition queue. */
  async enqueue(settings: Pick<QueueBackfillSettings, "refetch" | "keepRaw" | "fullRefresh" | "allowShrink">, log: Logger): Promise<void> {
    const tasks = this.todo.map((dt) => {
      const data: PartitionTask = { job: this.job, dt, refetch: settings.refetch, keepRaw: settings.keepRaw, ...(settings.fullRefresh ? { fullRefresh: true } : {}), ...(settings.allowShrink ? { allowShrink: true } : {}), backfillId: this.backfillId };
      return { name: this.job, data, opts: partitionTaskOptions(taskId(this.backfillId, this.job, dt), this.tuning) };
    });
    await this.queue.addBulk(tasks);
    log.info({ backfill: this.backfillId, tasks: tasks.length }, "partitions enqueued");
    if ((await this.queue.getWorkers()).length === 0) {
      this.note(`no worker is connected to ${redact(this.queueUrl)} yet: the partitions wait until one starts (sluice worker --queue ...)`);
    }
  }

  /**
   * Resolves once every task finished. On abort, a backfill withdraws the tasks no worker has
   * started (`leaveOnAbort`: stops waiting and leaves them queued). Re-reads task states every
   * reconcileMs, and makes sure a loader serves the workers (when given one).
   */
  async done(wait: { signal: AbortSignal; reconcileMs: number; log: Logger; loader?: Pick<BackfillLoader, "ensure">; leaveOnAbort?: boolean }): Promise<void> {
    const { signal, log, loader } = wait;
    const onAbort = (): void => {
      if (wait.leaveOnAbort) return this.allDone();
      void this.cancel().catch((e: unknown) => log.warn({ err: String(e) }, "could not withdraw queued partitions"));
    };
    signal.addEventListener("abort", onAbort, { once: true });
    if (signal.aborted) onAbort();
    let checking: Promise<void> = Promise.resolve();
    const reconcileAll = (): void => {
      for (const id of this.ids.keys()) if (!this.finished.has(id)) void this.reconcile(id).catch(() => undefined);
    };
    const timer = setInterval(() => {
      reconcileAll();
      if (loader) checking = checking.then(() => loader.ensure()).catch((e: unknown) => log.warn({ err: String(e) }, "could not start a loader"));
    }, wait.reconcileMs);
    reconcileAll(); // tasks that finished before we listened (a catch-up taken over from a dead worker)
    try {
      await this.complete;
    } finally {
      clearInterval(timer);
      signal.removeEventListener("abort", onAbort);
      await checking; // a loader being started is closed with the rest
    }
  }

  private start(id: string): void {
    const task = this.ids.get(id);
    if (!task || this.started.has(id)) return;
    this.started.add(id);
    this.onProgress?.({ kind: "start", dt: task.dt, index: task.index, total: this.todo.length, done: this.count });
  }

  private finish(id: string, outcome: PartitionOutcome): void {
    const task = this.ids.get(id);
    if (!task || this.finished.has(id)) return;
    this.start(id);
    this.finished.add(id);
    this.outcomes.set(task.dt, outcome);
    this.count++;
    this.onProgress?.({ kind: "finish", dt: task.dt, index: task.index, total: this.todo.length, done: this.count, outcome });
    if (this.count === this.todo.length) this.allDone();
  }

  /** The worker's own failure carries the run's outcome; BullMQ's (stalled too often) does not, and then an earlier attempt's outcome would tell the wrong story. */
  private failedOutcome(dt: string, bullJob: Job | undefined, reason: string): PartitionOutcome {
    const progress = bullJob?.progress as Partial<TaskProgress> | undefined;
    const last = progress && typeof progress === "object" && progress.outcome ? (decode(progress.outcome) as PartitionOutcome) : undefined;
    return last && last.error === reason ? last : blank(this.job, dt, "failed", reason);
  }

  /** Announces a failed attempt that BullMQ will retry after its backoff. */
  private retrying(id: string, delay: number): void {
    const task = this.ids.get(id);
    if (!task) return;
    void this.queue.getJob(id).then((bullJob) => {
      const progress = bullJob?.progress as Partial<TaskProgress> | undefined;
      const error = progress?.outcome ? (decode(progress.outcome) as PartitionOutcome).error : null;
      const wait = Math.max(0, Math.round((delay - Date.now()) / 1000));
      this.note(`${this.job} ${task.dt}: attempt ${bullJob?.attemptsMade ?? "?"} of ${this.tuning.attempts} failed, retrying in ${wait}s${error ? `: ${firstLine(error)}` : ""}`);
    }, () => undefined);
  }

  /** Reads a task's state from Redis and reports it if finished (also covers events we missed). */
  private async reconcile(id: string): Promise<void> {
    const task = this.ids.get(id);
    if (!task || this.finished.has(id)) return;
    const bullJob = await this.queue.getJob(id);
    if (!bullJob) return this.finish(id, blank(this.job, task.dt, "cancelled", "the task was removed from the queue before it finished"));
    if (bullJob.finishedOn && bullJob.failedReason) return this.finish(id, this.failedOutcome(task.dt, bullJob, bullJob.failedReason));
    if (bullJob.finishedOn) return this.finish(id, decode(bullJob.returnvalue as Wire) as PartitionOutcome);
    if (bullJob.processedOn) this.start(id);
  }

  /** Withdraws the tasks still waiting or delayed; an active task is left to finish on its worker. */
  private async cancel(): Promise<void> {
    let removed = 0;
    for (const [id, task] of this.ids) {
      if (this.finished.has(id)) continue;
      if ((await this.queue.remove(id).catch(() => 0)) === 1) {
        removed++;
        this.finish(id, blank(this.job, task.dt, "cancelled", "not started: the backfill was cancelled"));
      }
    }
    const running = this.todo.length - this.count;
    this.note(`cancelled: ${removed} queued partition(s) withdrawn${running > 0 ? `; waiting for the ${running} running on workers to finish (the loader keeps serving them)` : ""}`);
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
