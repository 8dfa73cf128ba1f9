/**
 * `sluice schedule <job> --cron "15 2 * * *" [--lookback N]`: a BullMQ job scheduler (BullMQ's own
 * repeatable jobs, not a timer of ours) that puts a catch-up task on the schedule queue at each
 * fire; whoever consumes that queue plans the catch-up (planCatchUp) and turns it into partition
 * tasks for the workers with enqueueCatchUp. One scheduler per job (registering again replaces
 * it), and partition task ids per job, day and fire day, so two fires or two schedulers of one day
 * never run the same partition twice.
 */
import { Queue, getNextMillis } from "bullmq";
import { formatDay, parseDay } from "../core/dates.ts";
import { UsageError } from "../core/errors.ts";
import { PARTITION_QUEUE, connectionFor, partitionTaskOptions, taskId, type PartitionTask, type QueueTuning } from "./connection.ts";

/** Catch-up tasks put there by the job schedulers; partition tasks go to PARTITION_QUEUE. */
export const SCHEDULE_QUEUE = "sluice-schedules";
const SCHEDULER_PREFIX = "catch-up.";

/** What a scheduler enqueues at each fire. */
export interface CatchUpTask {
  kind: "catch-up";
  job: string;
  lookback: number;
  /** The job's first day when it declares no start (`--from`). */
  from?: string;
}

export interface ScheduleSpec {
  job: string;
  /** Cron pattern: 5 fields (minute first), or 6 with seconds first. */
  cron: string;
  /** IANA time zone of the pattern; default UTC. */
  tz?: string;
  /** Days before today the catch-up reruns for late data. */
  lookback: number;
  /** The job's first day when it declares no start; days before it are never run. */
  from?: string;
}

/** A registered schedule, as `sluice schedule --list` shows it. */
export interface ScheduleInfo {
  id: string;
  job: string;
  cron: string;
  tz: string | null;
  lookback: number;
  /** The first day given with --from; null: the job's declared start, or its history. */
  from: string | null;
  /** When it fires next; null if BullMQ has no next time. */
  next: Date | null;
}

/** A partition task ready for Queue.addBulk. */
export interface PartitionJob {
  name: string;
  data: PartitionTask;
  opts: ReturnType<typeof partitionTaskOptions>;
}

/** The BullMQ job scheduler id of a job's catch-up schedule: one per job. */
export function schedulerId(job: string): string {
  return `${SCHEDULER_PREFIX}${job}`;
}

/** Checks a schedule before anything reaches Redis; throws a UsageError quoting the bad value. */
export function validateSchedule(spec: ScheduleSpec): void {
  if (!Number.isInteger(spec.lookback) || spec.lookback < 0) {
    throw new UsageError(`--lookback "${spec.lookback}" must be a whole number of days, 0 or more`, { hint: `e.g. sluice schedule ${spec.job} --cron "15 2 * * *" --lookback 2` });
  }
  if (spec.from !== undefined) parseDay(spec.from, "from");
  if (spec.tz !== undefined) {
    try {
      new Intl.DateTimeFormat("en", { timeZone: spec.tz });
    } catch {
      throw new UsageError(`--tz "${spec.tz}" is not a time zone`, { hint: "use an IANA name such as UTC or Europe/Paris" });
    }
  }
  let next: number | undefined;
  try {
    next = getNextMillis(Date.now(), { pattern: spec.cron, ...(spec.tz === undefined ? {} : { tz: spec.tz }) });
  } catch (error) {
    throw new UsageError(`--cron "${spec.cron}" is not a cron pattern: ${error instanceof Error ? error.message : String(error)}`, {
      hint: 'five fields, minute hour day month weekday, e.g. --cron "15 2 * * *" (a sixth field in front counts seconds)',
    });
  }
  if (next === undefined) throw new UsageError(`--cron "${spec.cron}" never fires`);
}

/** The job schedulers of the catch-ups, on one Redis. */
export class Schedules {
  private readonly queue: Queue<CatchUpTask>;

  constructor(queueUrl: string) {
    this.queue = new Queue<CatchUpTask>(SCHEDULE_QUEUE, { connection: connectionFor(queueUrl) });
    this.queue.on("error", () => undefined); // reconnects by itself; callers ping Redis first
  }

  /** Registers (or replaces) the job's schedule; returns it as listed. */
  async register(spec: ScheduleSpec): Promise<ScheduleInfo> {
    validateSchedule(spec);
    const task: CatchUpTask = { kind: "catch-up", job: spec.job, lookback: spec.lookback, ...(spec.from === undefined ? {} : { from: spec.from }) };
    await this.queue.upsertJobScheduler(
      schedulerId(spec.job),
      { pattern: spec.cron, ...(spec.tz === undefined ? {} : { tz: spec.tz }) },
      // A fire is planned and enqueued in a moment; keep a few for `--list` and debugging.
      { name: "catch-up", data: task, opts: { attempts: 3, backoff: { type: "exponential", delay: 5_000 }, removeOnComplete: { count: 100 }, removeOnFail: { count: 100 } } },
    );
    const info = (await this.list()).find((s) => s.job === spec.job);
    if (!info) throw new Error(`the schedule of ${spec.job} was registered but is not listed`);
    return info;
  }

  /** Every catch-up schedule, soonest first. */
  async list(): Promise<ScheduleInfo[]> {
    const schedulers = await this.queue.getJobSchedulers(0, -1, true);
    const out: ScheduleInfo[] = [];
    for (const s of schedulers) {
      const id = s.id ?? s.key;
      const data = s.template?.data;
      if (!id.startsWith(SCHEDULER_PREFIX) || !data || data.kind !== "catch-up") continue;
      out.push({ id, job: data.job, cron: s.pattern ?? "", tz: s.tz ?? null, lookback: data.lookback, from: data.from ?? null, next: s.next === undefined ? null : new Date(s.next) });
    }
    return out;
  }

  /** Removes the job's schedule; false when it had none. */
  remove(job: string): Promise<boolean> {
    return this.queue.removeJobScheduler(schedulerId(job));
  }

  async close(): Promise<void> {
    await this.queue.close();
  }
}

/** The UTC day a fired catch-up counts as today: the day it was due (not when a worker got to it). */
export function fireDay(fired: { timestamp: number; delay: number }): string {
  return formatDay(new Date(fired.timestamp + fired.delay));
}

/** The id of a scheduled partition task: per fire day, job and partition, so a day's fires share it. */
export function catchUpTaskId(today: string, job: string, dt: string): string {
  return taskId(`cu-${today}`, job, dt);
}

/** The partition tasks of one fired catch-up whose planned days are `days`. */
export function catchUpPartitionJobs(task: CatchUpTask, days: readonly string[], today: string, tuning: QueueTuning): PartitionJob[] {
  return days.map((dt) => ({
    name: task.job,
    data: { job: task.job, dt, refetch: false, keepRaw: false, backfillId: `cu-${today}` },
    // Kept a week like a backfill's: while a task is kept, BullMQ ignores another with its id.
    opts: partitionTaskOptions(catchUpTaskId(today, task.job, dt), tuning),
  }));
}

/** What enqueueCatchUp did: ids it added, and ids another fire (or scheduler) had already added. */
export interface CatchUpEnqueued {
  added: string[];
  existing: string[];
}

/** Adds the partition tasks of a fired catch-up to the partition queue; tasks whose id exists are left alone (BullMQ ignores them). */
export async function enqueueCatchUp(partitions: Queue<PartitionTask>, task: CatchUpTask, days: readonly string[], today: string, tuning: QueueTuning): Promise<CatchUpEnqueued> {
  const jobs = catchUpPartitionJobs(task, days, today, tuning);
  // Only for the report: addBulk itself is what makes duplicates harmless, even in a race.
  const before = await Promise.all(jobs.map((j) => partitions.getJob(j.opts.jobId)));
  await partitions.addBulk(jobs);
  const result: CatchUpEnqueued = { added: [], existing: [] };
  jobs.forEach((j, i) => (before[i] ? result.existing : result.added).push(j.opts.jobId));
  return result;
}

/** The partition queue that enqueueCatchUp writes to, for a queue URL. */
export function partitionQueue(queueUrl: string): Queue<PartitionTask> {
  return new Queue<PartitionTask>(PARTITION_QUEUE, { connection: connectionFor(queueUrl) });
}
