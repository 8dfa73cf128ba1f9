/**
 * The consumer of the schedule queue, run by every `sluice worker`: a fired catch-up reads the
 * partitions' last statuses through the loader, plans the days (planCatchUp), enqueues them as
 * partition tasks whose ids are per fire day, job and partition (enqueueCatchUp: a second fire or a
 * second scheduler of the same day adds nothing), waits for the tasks it added, and hands their
 * outcomes to the worker's observer (metrics, reports, the alert webhook).
 *
 * The days a fire enqueued are kept in its BullMQ job's progress: when its worker dies or stops,
 * BullMQ hands the fire to another worker, which waits for the same tasks instead of planning anew.
 */
import { UnrecoverableError, WaitingError, Worker, type Job, type Queue } from "bullmq";
import { UsageError, formatError } from "../core/errors.ts";
import type { Logger } from "../core/log.ts";
import { planCatchUp } from "../pipeline/catch-up.ts";
import type { JobLookup } from "../pipeline/job-catalog.ts";
import type { JobDefinition } from "../pipeline/job.ts";
import type { PartitionOutcome } from "../pipeline/index.ts";
import { BackfillTasks } from "./backfill.ts";
import { closeWithin, connectionFor, processLabel, type PartitionTask, type QueueTuning } from "./connection.ts";
import { SCHEDULE_QUEUE, catchUpTaskId, enqueueCatchUp, fireDay, partitionQueue, type CatchUpTask } from "./schedule.ts";
import type { WarehouseClient } from "./warehouse-client.ts";

/** Fired catch-ups one worker follows at once (waiting is cheap; the partitions run on the partition queue). */
const FIRES_AT_ONCE = 8;

export interface CatchUpConsumerOptions {
  queueUrl: string;
  jobs: JobLookup;
  /** Partition statuses are read through the loader, like a queued backfill's. */
  warehouse: WarehouseClient;
  tuning: QueueTuning;
  log: Logger;
  /** Stops following fires; the fire in progress goes back to the queue for another worker. */
  signal: AbortSignal;
  /** Called with the outcomes of the partitions a fire enqueued, once all finished (metrics, reports, alert). */
  onFinished?: (job: JobDefinition, outcomes: PartitionOutcome[]) => Promise<void>;
  /** How often task states are re-read besides the events stream; default 5 s. */
  reconcileMs?: number;
}

/** What a fire keeps in its BullMQ job once it enqueued its tasks. */
interface FireProgress {
  today: string;
  days: string[];
}

/** What a fire's BullMQ job returns (kept in Redis a while, for debugging). */
export interface FireResult {
  today: string;
  planned: string[];
  enqueued: string[];
  statuses: Partial<Record<PartitionOutcome["status"], number>>;
}

/** Consumes the schedule queue until closed. */
export class CatchUpConsumer {
  private readonly worker: Worker<CatchUpTask, FireResult>;
  private readonly partitions: Queue<PartitionTask>;
  private readonly log: Logger;

  constructor(private readonly options: CatchUpConsumerOptions) {
    this.log = options.log.child({ component: "schedules" });
    this.partitions = partitionQueue(options.queueUrl);
    this.partitions.on("error", (e) => this.log.warn({ err: e.message }, "partition queue connection error"));
    this.worker = new Worker<CatchUpTask, FireResult>(SCHEDULE_QUEUE, (job, token) => this.fire(job, token), {
      connection: connectionFor(options.queueUrl),
      concurrency: FIRES_AT_ONCE,
      name: `sluice-schedules@${processLabel()}`,
      lockDuration: options.tuning.lockDurationMs,
      stalledInterval: options.tuning.stalledIntervalMs,
      maxStalledCount: Math.max(1, options.tuning.maxStalledCount),
      autorun: false,
    });
    this.worker.on("error", (e) => this.log.warn({ err: e.message }, "schedule queue connection error"));
    this.worker.on("failed", (job, e) => this.log.error({ job: job?.data.job, err: e.message }, "a scheduled catch-up failed"));
  }

  /** Starts consuming; resolves once connected. */
  async start(): Promise<void> {
    void this.worker.run().catch((e: unknown) => this.log.error({ err: formatError(e) }, "the schedule consumer stopped"));
    await this.worker.waitUntilReady();
  }

  /** Stops (the fire in progress goes back to the queue); `force` when Redis is gone and nothing can be handed back. */
  async close(force = false): Promise<boolean> {
    return closeWithin(Promise.all([this.worker.close(force), this.partitions.close()]), force ? 1_000 : 30_000);
  }

  /** Disconnects at once (Redis gone). */
  disconnect(): void {
    void this.worker.disconnect().catch(() => undefined);
    void this.partitions.disconnect().catch(() => undefined);
  }

  /** One fire: plan and enqueue (or resume the fire's own tasks), wait for them, observe them. */
  private async fire(job: Job<CatchUpTask, FireResult>, token: string | undefined): Promise<FireResult> {
    const task = job.data;
    let def: JobDefinition;
    try {
      def = this.options.jobs.get(task.job);
    } catch (error) {
      throw new UnrecoverableError(formatError(error));
    }
    const resumed = fireProgress(job.progress);
    const { today, days, planned } = resumed ? { ...resumed, planned: resumed.days } : await this.plan(job, def);
    const outcomes = await this.follow(def, today, days);
    if (this.options.signal.aborted && token) {
      // This worker is stopping: the fire goes back to the queue, and whoever takes it waits for the same tasks.
      await job.moveToWait(token);
      throw new WaitingError();
    }
    if (outcomes.length > 0) await this.options.onFinished?.(def, outcomes).catch((e: unknown) => this.log.warn({ job: def.name, err: formatError(e) }, "could not observe a scheduled catch-up"));
    const statuses: FireResult["statuses"] = {};
    for (const o of outcomes) statuses[o.status] = (statuses[o.status] ?? 0) + 1;
    this.log[days.length > 0 ? "info" : "debug"]({ job: def.name, today, planned: planned.length, enqueued: days.length, ...statuses }, "scheduled catch-up finished");
    return { today, planned, enqueued: days, statuses };
  }

  /** Plans the fire's days from the partitions' last statuses and enqueues them; remembers the ones it added. */
  private async plan(job: Job<CatchUpTask, FireResult>, def: JobDefinition): Promise<FireProgress & { planned: string[] }> {
    const task = job.data;
    const today = fireDay(job);
    const statuses = await this.options.warehouse.partitionStatus(def.name, this.options.signal);
    const start = task.from ?? def.start;
    let planned: string[];
    try {
      const plan = planCatchUp({ job: def.name, statuses, today, lookback: task.lookback, ...(start === undefined ? {} : { start }) });
      if (plan.gaps.length > 0) this.log.warn({ job: def.name, gaps: plan.gaps.length, first: plan.gaps[0], last: plan.gaps.at(-1) }, "days before the last success never ran; a catch-up leaves them to a backfill");
      planned = plan.days.map((d) => d.dt);
    } catch (error) {
      // No history and no start: retrying cannot help until someone declares one.
      throw error instanceof UsageError ? new UnrecoverableError(formatError(error)) : error;
    }
    const result = await enqueueCatchUp(this.partitions, task, planned, today, this.options.tuning);
    const added = new Set(result.added);
    const days = planned.filter((dt) => added.has(catchUpTaskId(today, def.name, dt)));
    // A fire with nothing to do is the usual case of a second fire on one day: not worth an info line.
    const level = days.length > 0 ? "info" : "debug";
    this.log[level]({ job: def.name, today, planned: planned.length, added: days.length, already_queued: result.existing.length }, "scheduled catch-up enqueued");
    const progress: FireProgress = { today, days };
    await job.updateProgress(progress as unknown as object);
    return { today, days, planned };
  }

  /** Waits for the fire's tasks (all of them, or until this worker stops); their outcomes in date order. */
  private async follow(def: JobDefinition, today: string, days: readonly string[]): Promise<PartitionOutcome[]> {
    if (days.length === 0) return [];
    const outcomes = new Map<string, PartitionOutcome>();
    const note = (message: string): void => this.log.info({ job: def.name }, message);
    const tasks = new BackfillTasks({ job: def.name, todo: days, outcomes, queueUrl: this.options.queueUrl, queue: this.partitions, tuning: this.options.tuning, backfillId: `cu-${today}`, note });
    const events = await tasks.listen(this.log);
    try {
      await tasks.done({ signal: this.options.signal, reconcileMs: this.options.reconcileMs ?? 5_000, log: this.log, leaveOnAbort: true });
    } finally {
      await closeWithin(events.close(), 5_000);
    }
    return days.flatMap((dt) => outcomes.get(dt) ?? []);
  }
}

/** The progress of a fire that already enqueued its tasks (another worker took it over), else undefined. */
function fireProgress(progress: unknown): FireProgress | undefined {
  if (typeof progress !== "object" || progress === null) return undefined;
  const p = progress as Partial<FireProgress>;
  return typeof p.today === "string" && Array.isArray(p.days) && p.days.every((d) => typeof d === "string") ? { today: p.today, days: p.days } : undefined;
}
