/**
 * Catch-up schedules on a real redis-server: a per-second BullMQ job scheduler fires catch-up
 * tasks, is listed, replaced by registering again, and stopped by removing it; fired catch-ups
 * become partition tasks with ids per fire day, job and partition, so no day is enqueued twice.
 */
import assert from "node:assert/strict";
import { test, type TestContext } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { Worker, type Job } from "bullmq";
import { UsageError } from "../src/core/errors.ts";
import { DEFAULT_TUNING, PARTITION_QUEUE, connectionFor } from "../src/queue/connection.ts";
import {
  SCHEDULE_QUEUE,
  Schedules,
  catchUpPartitionJobs,
  catchUpTaskId,
  enqueueCatchUp,
  fireDay,
  partitionQueue,
  schedulerId,
  validateSchedule,
  type CatchUpTask,
} from "../src/queue/schedule.ts";
import { redisForFile, redisUnavailable } from "./fixtures/redis.ts";

const skip = redisUnavailable();
const EVERY_SECOND = "* * * * * *";
const url = redisForFile(skip);

function schedules(t: TestContext): Schedules {
  const s = new Schedules(url());
  t.after(() => s.close());
  return s;
}

interface Fire {
  task: CatchUpTask;
  today: string;
}

/** A consumer of the schedule queue that records each fired task (and optionally handles it). */
function consumer(t: TestContext, handle: (job: Job<CatchUpTask>) => Promise<void> = async () => undefined): Fire[] {
  const fires: Fire[] = [];
  const worker = new Worker<CatchUpTask>(
    SCHEDULE_QUEUE,
    async (job) => {
      fires.push({ task: job.data, today: fireDay(job) });
      await handle(job);
    },
    { connection: connectionFor(url()) },
  );
  t.after(() => worker.close());
  return fires;
}

async function until(what: string, check: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(50);
  }
}

test("a per-second schedule is listed, fires catch-up tasks at least twice, and removing it stops the fires", { skip }, async (t) => {
  const s = schedules(t);
  const info = await s.register({ job: "events", cron: EVERY_SECOND, lookback: 2 });
  assert.equal(info.id, schedulerId("events"));
  assert.deepEqual({ ...info, next: null }, { id: "catch-up.events", job: "events", cron: EVERY_SECOND, tz: null, lookback: 2, next: null });
  assert.ok(info.next instanceof Date && info.next.getTime() > Date.now() - 2_000);

  const fires = consumer(t);
  await until("two fires", () => fires.length >= 2, 10_000);
  for (const fire of fires) assert.deepEqual(fire.task, { kind: "catch-up", job: "events", lookback: 2 });

  assert.equal(await s.remove("events"), true);
  assert.deepEqual(await s.list(), []);
  assert.equal(await s.remove("events"), false, "nothing left to remove");
  await sleep(300); // a fire already being processed when it was removed may still land
  const afterRemoval = fires.length;
  await sleep(2_500);
  assert.equal(fires.length, afterRemoval, "no fire after the schedule was removed");
});

test("registering a job's schedule again, from any process, replaces it instead of adding one", { skip }, async (t) => {
  const first = schedules(t);
  const second = schedules(t);
  await first.register({ job: "users", cron: "15 2 * * *", lookback: 1 });
  await second.register({ job: "users", cron: "30 3 * * *", tz: "Europe/Paris", lookback: 3 });
  await first.register({ job: "events", cron: "0 4 * * *", lookback: 0 });
  const listed = await first.list();
  assert.deepEqual(listed.map((l) => [l.job, l.cron, l.tz, l.lookback]).sort(), [["events", "0 4 * * *", null, 0], ["users", "30 3 * * *", "Europe/Paris", 3]]);
  const users = listed.find((l) => l.job === "users");
  // 03:30 in Paris is 02:30 UTC in winter, 01:30 in summer.
  assert.ok(users?.next && [1, 2].includes(users.next.getUTCHours()) && users.next.getUTCMinutes() === 30, String(users?.next?.toISOString()));
  await first.remove("users");
  await first.remove("events");
});

test("fired catch-ups become partition tasks per fire day, job and day: a second fire adds none", { skip }, async (t) => {
  const s = schedules(t);
  const partitions = partitionQueue(url());
  t.after(() => partitions.close());
  await partitions.obliterate({ force: true });
  const days = ["2026-11-18", "2026-11-19"];
  const results: Array<{ added: string[]; existing: string[] }> = [];
  const fires = consumer(t, async (job) => {
    results.push(await enqueueCatchUp(partitions, job.data, days, fireDay(job), DEFAULT_TUNING));
  });
  await s.register({ job: "events", cron: EVERY_SECOND, lookback: 1 });
  await until("three handled fires", () => results.length >= 3, 10_000);
  await s.remove("events");

  const fireDays = new Set(fires.map((f) => f.today));
  const waiting = await partitions.getJobs(["waiting", "prioritized", "delayed", "active", "completed"]);
  assert.equal(waiting.length, days.length * fireDays.size, `one task per day and fire day, got ${waiting.map((j) => j.id).join(", ")}`);
  const today = fires[0]?.today ?? "";
  assert.deepEqual(results[0], { added: days.map((dt) => catchUpTaskId(today, "events", dt)), existing: [] });
  // Later fires of the same day find both tasks already there (unless the test ran over midnight).
  if (fireDays.size === 1) for (const r of results.slice(1)) assert.deepEqual(r, { added: [], existing: days.map((dt) => catchUpTaskId(today, "events", dt)) });
  const task = await partitions.getJob(catchUpTaskId(today, "events", "2026-11-19"));
  assert.deepEqual(task?.data, { job: "events", dt: "2026-11-19", refetch: false, keepRaw: false, backfillId: `cu-${today}` });
  assert.equal(task?.queueName, PARTITION_QUEUE);
});

test("two catch-ups of the same fire day enqueue each partition once; the next day's enqueue them again", { skip }, async (t) => {
  const partitions = partitionQueue(url());
  t.after(() => partitions.close());
  await partitions.obliterate({ force: true });
  const task: CatchUpTask = { kind: "catch-up", job: "users", lookback: 0 };
  const one = await enqueueCatchUp(partitions, task, ["2026-11-10", "2026-11-11"], "2026-11-12", DEFAULT_TUNING);
  const two = await enqueueCatchUp(partitions, task, ["2026-11-11"], "2026-11-12", DEFAULT_TUNING);
  const nextDay = await enqueueCatchUp(partitions, task, ["2026-11-11", "2026-11-12"], "2026-11-13", DEFAULT_TUNING);
  assert.deepEqual(one, { added: ["cu-2026-11-12.users.2026-11-10", "cu-2026-11-12.users.2026-11-11"], existing: [] });
  assert.deepEqual(two, { added: [], existing: ["cu-2026-11-12.users.2026-11-11"] });
  assert.deepEqual(nextDay, { added: ["cu-2026-11-13.users.2026-11-11", "cu-2026-11-13.users.2026-11-12"], existing: [] });
  assert.equal(await partitions.count(), 4);
});

test("partition tasks carry the queue's attempts and backoff, and are kept a week for deduplication", () => {
  const [job] = catchUpPartitionJobs({ kind: "catch-up", job: "events", lookback: 2 }, ["2026-11-19"], "2026-11-20", { ...DEFAULT_TUNING, attempts: 5, backoffMs: 1_000 });
  assert.deepEqual(job, {
    name: "events",
    data: { job: "events", dt: "2026-11-19", refetch: false, keepRaw: false, backfillId: "cu-2026-11-20" },
    opts: { jobId: "cu-2026-11-20.events.2026-11-19", attempts: 5, backoff: { type: "exponential", delay: 1_000 }, removeOnComplete: { age: 604_800, count: 100_000 }, removeOnFail: false },
  });
  assert.equal(fireDay({ timestamp: Date.parse("2026-11-19T23:59:59Z"), delay: 2_000 }), "2026-11-20", "the day it was due, not the day it was created");
});

test("a bad cron, time zone or lookback is a usage error quoting it, and registers nothing", { skip }, async (t) => {
  assert.throws(() => validateSchedule({ job: "events", cron: "every night", lookback: 1 }), (e: unknown) => e instanceof UsageError && /--cron "every night" is not a cron pattern/.test(e.message));
  assert.throws(() => validateSchedule({ job: "events", cron: "15 2 * * *", tz: "Mars/Olympus", lookback: 1 }), /--tz "Mars\/Olympus" is not a time zone/);
  assert.throws(() => validateSchedule({ job: "events", cron: "15 2 * * *", lookback: -1 }), /--lookback "-1" must be a whole number/);
  assert.doesNotThrow(() => validateSchedule({ job: "events", cron: "15 2 * * *", tz: "UTC", lookback: 0 }));
  const s = schedules(t);
  await assert.rejects(s.register({ job: "events", cron: "61 * * * *", lookback: 1 }), UsageError);
  assert.deepEqual(await s.list(), []);
});
