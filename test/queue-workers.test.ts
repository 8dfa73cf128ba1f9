/**
 * Scale-out with real worker processes: a real redis-server, `sluice worker` processes consuming
 * BullMQ tasks, and the backfill's in-process loader as the one warehouse writer. The tables must
 * come out exactly as a local backfill's, also when a worker is SIGKILLed in the middle of a
 * partition. (test/queue.test.ts has the status, loader, SIGTERM and codec tests.)
 */
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { dayRange } from "../src/core/dates.ts";
import type { DemoApi } from "../src/demo-api/index.ts";
import type { PartitionOutcome } from "../src/pipeline/index.ts";
import type { QueueBackfillOptions } from "../src/queue/backfill.ts";
import { queueStatus } from "../src/queue/status.ts";
import {
  FAST_TUNING,
  cleanups,
  demoApiFor,
  eventsSnapshot,
  localEventsReference,
  queuedEvents,
  redisFor,
  spawnWorker,
  waitForStatus,
  type Defer,
  type EventsSnapshot,
} from "./fixtures/queue-processes.ts";
import { redisUnavailable, type RedisServer } from "./fixtures/redis.ts";
import { tempDataDir } from "./support/dirs.ts";

const DAYS = dayRange("2026-11-10", "2026-11-13");
const EVENTS_PER_DAY = 2000;
const skip = redisUnavailable();

const redis = (defer: Defer): Promise<RedisServer> => redisFor(defer);
const demoApi = (defer: Defer): Promise<DemoApi> => demoApiFor(defer, EVENTS_PER_DAY);

function queued(queueUrl: string, dataDir: string, signal: AbortSignal, extra: Partial<QueueBackfillOptions> = {}): Promise<PartitionOutcome[]> {
  return queuedEvents(queueUrl, dataDir, DAYS, { tuning: FAST_TUNING, ...extra }, signal);
}

const snapshot = eventsSnapshot;

let reference: ReturnType<typeof localReference> | undefined;

/** The reference, computed once for the file: every test's demo API serves the same seeded days. */
function sharedReference(t: TestContext, apiUrl: string): ReturnType<typeof localReference> {
  return (reference ??= localReference(t, apiUrl));
}

/** The reference: the same days run by a local backfill into a data dir of its own. */
function localReference(t: TestContext, apiUrl: string): Promise<EventsSnapshot> {
  return localEventsReference(t, apiUrl, DAYS, EVENTS_PER_DAY);
}

test("a backfill queued across three worker processes gives exactly the tables of a local backfill", { skip, timeout: 120_000 }, async (t) => {
  const defer = cleanups(t);
  const [server, api] = await Promise.all([redis(defer), demoApi(defer)]);
  const shared = await tempDataDir(t);
  for (let i = 0; i < 3; i++) spawnWorker(defer, server.url, shared, api.url);
  const expected = await sharedReference(t, api.url);
  await waitForStatus(server.url, (s) => s.workers.length === 3, "three connected workers");

  const progress: string[] = [];
  const outcomes = await queued(server.url, shared, new AbortController().signal, { onProgress: (p) => progress.push(`${p.kind} ${p.dt} ${p.done}/${p.total}`) });
  assert.deepEqual(outcomes.map((o) => [o.dt, o.status]), DAYS.map((dt) => [dt, "succeeded"]), "one outcome per day, in date order");
  assert.ok(outcomes.every((o) => o.rowsLoaded > 0 && o.steps.length > 0 && o.checks.length > 0), "outcomes carry rows, steps and checks as a local run's do");
  assert.equal(progress.filter((p) => p.startsWith("start")).length, DAYS.length, `a start per partition: ${progress.join(", ")}`);
  assert.equal(progress.filter((p) => p.startsWith("finish")).length, DAYS.length);
  assert.equal(progress.at(-1)?.endsWith(`${DAYS.length}/${DAYS.length}`), true);

  const actual = await snapshot(shared);
  assert.deepEqual(actual.tables, expected.tables, "events, sessions and quarantine equal the local backfill's");
  assert.deepEqual(actual.runs, expected.runs, "one succeeded run per day");

  const status = await queueStatus(server.url);
  assert.deepEqual(status.counts, { waiting: 0, active: 0, delayed: 0, failed: 0, completed: DAYS.length });
  assert.deepEqual(status.partitions.map((p) => p.dt).sort(), DAYS);
  assert.ok(new Set(status.partitions.map((p) => p.worker)).size >= 2, `the partitions were spread over workers: ${status.partitions.map((p) => p.worker).join(", ")}`);
  assert.deepEqual(status.loaders, [], "the backfill's loader stopped with it");

  // A second queued backfill skips what succeeded, like a local one, and enqueues nothing.
  const again = await queued(server.url, shared, new AbortController().signal);
  assert.deepEqual(again.map((o) => o.status), DAYS.map(() => "skipped"));
  assert.equal((await queueStatus(server.url)).counts.completed, DAYS.length);
});

for (const point of ["transform", "lake.written"]) {
test(`a worker SIGKILLed mid-partition (at ${point}) loses nothing and duplicates nothing: another worker reruns its task`, { skip, timeout: 120_000 }, async (t) => {
  const defer = cleanups(t);
  const [server, api] = await Promise.all([redis(defer), demoApi(defer)]);
  const shared = await tempDataDir(t);
  // The doomed worker connects first so that it surely takes a task; it kills itself at the failpoint:
  // in its first transform (holding the partition lock), or with the lake written but not loaded
  // (holding the job lock too).
  const doomed = spawnWorker(defer, server.url, shared, api.url, { SLUICE_FAILPOINT: point });
  const expected = await sharedReference(t, api.url);
  await waitForStatus(server.url, (s) => s.workers.length === 1, "the doomed worker");
  const notes: string[] = [];
  const backfill = queued(server.url, shared, new AbortController().signal, { onNote: (m) => notes.push(m) });
  const death = await doomed.exited;
  assert.equal(death.signal, "SIGKILL", `the worker killed itself mid-partition (exit ${death.code}): ${doomed.stderr()}`);
  spawnWorker(defer, server.url, shared, api.url);

  const outcomes = await backfill;
  assert.deepEqual(outcomes.map((o) => [o.dt, o.status]), DAYS.map((dt) => [dt, "succeeded"]));
  assert.ok(notes.some((n) => n.includes("stopped answering")), `the stalled task was noticed: ${notes.join(" | ")}`);

  const actual = await snapshot(shared);
  assert.deepEqual(actual.tables, expected.tables, "nothing lost, nothing duplicated: the tables equal the local backfill's");
  const succeeded = actual.runs.filter((r) => r[1] === "succeeded").map((r) => r[0]);
  assert.deepEqual(succeeded, DAYS, "exactly one succeeded run per day");
  assert.deepEqual(actual.runs.filter((r) => r[1] !== "succeeded").map((r) => r[1]), ["abandoned"], "the killed run is marked abandoned");

  const status = await queueStatus(server.url);
  assert.deepEqual(status.counts, { waiting: 0, active: 0, delayed: 0, failed: 0, completed: DAYS.length }, "every partition completed once");
  assert.deepEqual(status.partitions.map((p) => p.dt).sort(), DAYS);
});
}
