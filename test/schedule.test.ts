/**
 * Catch-up schedules on a real redis-server: a per-second BullMQ job scheduler fires catch-up
 * tasks, is listed, replaced by registering again, and stopped by removing it; fired catch-ups
 * become partition tasks with ids per fire day, job and partition, so no day is enqueued twice;
 * `sluice worker` processes consume the fires, and the days land in sluice.runs once each.
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { test, type TestContext } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { Queue, Worker, type Job } from "bullmq";
import { addDays, formatDay } from "../src/core/dates.ts";
import { UsageError } from "../src/core/errors.ts";
import { silentLogger } from "../src/core/log.ts";
import { startDemoApi } from "../src/demo-api/index.ts";
import { query, withWarehouse } from "../src/load/warehouse.ts";
import { DEFAULT_TUNING, PARTITION_QUEUE, connectionFor } from "../src/queue/connection.ts";
import { startLoader } from "../src/queue/loader.ts";
import { main } from "../src/cli/main.ts";
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
import { FAST_TUNING, cleanups, spawnWorker } from "./fixtures/queue-processes.ts";
import { redisForFile, redisUnavailable, startRedis } from "./fixtures/redis.ts";
import { tempDataDir } from "./support/dirs.ts";
import { EVENTS_PER_DAY_ANY_DATE } from "./support/events.ts";

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
  assert.deepEqual({ ...info, next: null }, { id: "catch-up.events", job: "events", cron: EVERY_SECOND, tz: null, lookback: 2, from: null, next: null });
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

/** `sluice <args>` in this process (the command line as scripts see it, without a process start per call). */
async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = { stdout: "", stderr: "" };
  const code = await main(args, {}, { stdout: (x) => void (out.stdout += x), stderr: (x) => void (out.stderr += x) });
  return { code, ...out };
}

test("sluice schedule registers, lists and removes a job's schedule, and refuses what it cannot register", { skip }, async () => {
  const queue = ["--queue", url()];
  const added = await cli(["schedule", "events", "--cron", "15 2 * * *", "--tz", "Europe/Paris", "--lookback", "2", "--from", "2026-01-01", ...queue]);
  assert.equal(added.code, 0, added.stderr);
  assert.match(added.stdout, /scheduled events: "15 2 \* \* \*" \(Europe\/Paris\), lookback 2; next fire 20\d\d-/);
  assert.match(added.stderr, /no worker is connected yet/);

  const listed = await cli(["schedule", "--list", "--format", "json", ...queue]);
  assert.equal(listed.code, 0, listed.stderr);
  const [entry, ...others] = JSON.parse(listed.stdout) as Array<Record<string, unknown>>;
  assert.deepEqual(others, []);
  assert.deepEqual({ ...entry, next: null }, { job: "events", cron: "15 2 * * *", tz: "Europe/Paris", lookback: 2, from: "2026-01-01", next: null });
  assert.ok(typeof entry?.["next"] === "string" && Date.parse(entry["next"]) > Date.now());
  for (const [args, message] of [
    [["schedule", "events"], /schedule events: --cron is required/],
    [["schedule", "events", "--cron", "61 * * * *"], /--cron "61 \* \* \* \*" is not a cron pattern/],
    [["schedule", "events", "--cron", "15 2 * * *", "--from", "2026-02-30"], /--from "2026-02-30" is not a real calendar date/],
    [["schedule", "--list", "events"], /--list takes no job/],
    [["schedule", "nosuchjob", "--cron", "15 2 * * *"], /unknown job "nosuchjob"/],
    [["schedule", "events", "--cron", "15 2 * * *", "--queue", "http://127.0.0.1:1"], /must start with redis:\/\//],
  ] as Array<[string[], RegExp]>) {
    const result = await cli(args.includes("--queue") ? args : [...args, ...queue]);
    assert.equal(result.code, 2, `${args.join(" ")}: ${result.stderr}`);
    assert.match(result.stderr, message);
  }
  assert.equal((await cli(["schedule", "--list", ...queue])).stdout.match(/events/g)?.length, 1, "the refused ones registered nothing");

  const removed = await cli(["schedule", "--remove", "events", ...queue]);
  assert.equal(removed.code, 0, removed.stderr);
  assert.match(removed.stdout, /removed the schedule of events/);
  const again = await cli(["schedule", "--remove", "events", ...queue]);
  assert.equal(again.code, 2);
  assert.match(again.stderr, /events has no schedule/);
});

test("a per-second schedule fires catch-ups on a worker: each day runs once, lands in sluice.runs and gets its report and metrics; catch-up --queue reruns the lookback there", { skip, timeout: 120_000 }, async (t) => {
  const defer = cleanups(t);
  const server = await startRedis();
  defer(() => server.stop());
  const api = await startDemoApi({ eventsPerDay: EVENTS_PER_DAY_ANY_DATE, seed: 4 });
  defer(() => api.close());
  const dataDir = await tempDataDir(t);
  const loader = await startLoader({ queueUrl: server.url, dataDir, log: silentLogger(), signal: new AbortController().signal, tuning: FAST_TUNING });
  defer(() => loader.close());
  spawnWorker(defer, server.url, dataDir, api.url);
  const s = new Schedules(server.url);
  defer(() => s.close());
  const today = formatDay(new Date());
  const days = [addDays(today, -2), addDays(today, -1)];
  await s.register({ job: "events", cron: EVERY_SECOND, lookback: 0, from: days[0] as string });

  const metrics = path.join(dataDir, "metrics", "events.prom");
  const fires = new Queue(SCHEDULE_QUEUE, { connection: connectionFor(server.url) });
  defer(() => fires.close());
  // Done when both days are observed (the worker writes the metrics after the fire's partitions finished) and later fires found nothing to do.
  const deadline = Date.now() + 90_000;
  while (!existsSync(metrics) || (await fires.getCompletedCount()) < 3) {
    assert.ok(Date.now() < deadline, `timed out: metrics ${existsSync(metrics)}, fires done ${await fires.getCompletedCount()}, failed ${await fires.getFailedCount()}`);
    await sleep(200);
  }
  assert.equal(await s.remove("events"), true);
  if (formatDay(new Date()) !== today) return t.skip("the test ran over midnight UTC");

  const runs = await withWarehouse(dataDir, "read", (conn) => query(conn, "select strftime(dt, '%Y-%m-%d'), status from sluice.runs order by all"));
  assert.deepEqual(runs.rows, days.map((dt) => [dt, "succeeded"]), "each day ran once, however many fires");
  const partitions = partitionQueue(server.url);
  defer(() => partitions.close());
  const tasks = await partitions.getJobs(["completed"]);
  assert.deepEqual(tasks.map((j) => j.id).sort(), days.map((dt) => catchUpTaskId(today, "events", dt)));
  assert.match(await readFile(metrics, "utf8"), /pipeline_partitions_total\{job="events",outcome="succeeded"\} 2/);
  for (const dt of days) assert.ok(existsSync(path.join(dataDir, "reports", "events", `${dt}.html`)), `the report of ${dt}`);

  // `sluice catch-up --queue` plans from the statuses the loader reads, and runs the days on the same workers.
  const caught = await cli(["catch-up", "events", "--lookback", "1", "--queue", server.url, "--data-dir", dataDir, "--log-level", "warn"]);
  assert.equal(caught.code, 0, caught.stderr);
  assert.match(caught.stderr, new RegExp(`catch-up events: 1 partition\\(s\\) from ${days[1]} to ${days[1]}: 1 rerun for late data \\(lookback 1\\)`));
  assert.match(caught.stdout, new RegExp(`events\\s+${days[1]}\\s+succeeded`));
  const rerun = await withWarehouse(dataDir, "read", (conn) => query(conn, "select count(*) from sluice.runs where status = 'succeeded'"));
  assert.equal(Number(rerun.rows[0]?.[0]), 3);
});
