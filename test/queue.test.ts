/**
 * The queue around the workers: status of every partition state, BullMQ retries and dead letters,
 * standalone loaders, SIGTERM hand-back and cancelling, and values and errors crossing the queue.
 * (test/queue-workers.test.ts has the worker-process backfills and SIGKILLs.)
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { Queue } from "bullmq";
import { Redis } from "ioredis";
import { dayRange } from "../src/core/dates.ts";
import { LockError, SchemaError, TransientHttpError, UsageError, ValidationBlockedError } from "../src/core/errors.ts";
import { createLogger } from "../src/core/log.ts";
import type { DemoApi } from "../src/demo-api/index.ts";
import { acquireLock } from "../src/load/locks.ts";
import { query, withWarehouse } from "../src/load/warehouse.ts";
import type { PartitionOutcome } from "../src/pipeline/index.ts";
import { enqueueBackfill, type QueueBackfillOptions } from "../src/queue/backfill.ts";
import { decode, decodeError, encode, encodeError } from "../src/queue/codec.ts";
import { PARTITION_QUEUE, connectionFor, type PartitionTask } from "../src/queue/connection.ts";
import { parseQueueUrl } from "../src/queue/queue-url.ts";
import { startLoader } from "../src/queue/loader.ts";
import { queueStatus } from "../src/queue/status.ts";
import { printQueueStatus } from "../src/cli/commands/status.ts";
import events from "../jobs/events.ts";
import {
  FAST_TUNING,
  cleanups,
  demoApiFor,
  queuedEvents,
  redisFor,
  spawnWorker,
  waitForStatus,
  type Defer,
} from "./fixtures/queue-processes.ts";
import { redisUnavailable, type RedisServer } from "./fixtures/redis.ts";
import { tempDataDir } from "./support/dirs.ts";

const DAYS = dayRange("2026-11-10", "2026-11-13");
const EVENTS_PER_DAY = 2000;
const TUNING = FAST_TUNING;
const skip = redisUnavailable();
const log = createLogger({ level: "silent", pretty: false });

const redis = (defer: Defer): Promise<RedisServer> => redisFor(defer);
const demoApi = (defer: Defer): Promise<DemoApi> => demoApiFor(defer, EVENTS_PER_DAY);

function queued(queueUrl: string, dataDir: string, signal: AbortSignal, extra: Partial<QueueBackfillOptions> = {}): Promise<PartitionOutcome[]> {
  return queuedEvents(queueUrl, dataDir, DAYS, { tuning: TUNING, ...extra }, signal);
}

test("status shows queued, active, retrying, failed and done partitions; BullMQ retries what may pass and dead-letters what cannot", { skip, timeout: 120_000 }, async (t) => {
  const defer = cleanups(t);
  const [server, api] = await Promise.all([redis(defer), demoApi(defer)]);
  const [failDay, lockedDay, slowDay] = DAYS as [string, string, string, string];
  // In front of the demo API: the fail day is a 404 (permanent), the slow day answers slowly.
  const proxy = createServer((req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? "/", "http://x");
    const day = url.searchParams.get("start")?.slice(0, 10);
    if (day === failDay) return void res.writeHead(404, { "content-type": "application/json" }).end('{"error":"no such day"}');
    const forward = async (): Promise<void> => {
      if (day === slowDay) await sleep(1_500);
      const upstream = await fetch(`${api.url}${req.url ?? "/"}`);
      res.writeHead(upstream.status, { "content-type": upstream.headers.get("content-type") ?? "application/json" }).end(Buffer.from(await upstream.arrayBuffer()));
    };
    forward().catch(() => res.destroy());
  });
  await new Promise<void>((r) => proxy.listen(0, "127.0.0.1", r));
  defer(() => new Promise<void>((r) => proxy.close(() => r())));
  const proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
  const shared = await tempDataDir(t);
  // Another live process (this one) holds the locked day's partition lock: a transient failure.
  const lock = await acquireLock(shared, `run-events-${lockedDay}`, { wait: false, owner: { runId: "test-holder" } });

  const notes: string[] = [];
  // Aborted at cleanup: after a failed assertion the backfill must not keep polling a stopped Redis (the file would hang).
  const stop = new AbortController();
  defer(async () => stop.abort());
  const backfill = queued(server.url, shared, stop.signal, { onNote: (m) => notes.push(m), tuning: { ...TUNING, backoffMs: 1_500 } });
  backfill.catch(() => undefined);
  const waiting = await waitForStatus(server.url, (s) => s.counts.waiting === DAYS.length, "four queued partitions");
  assert.deepEqual(waiting.partitions.map((p) => [p.dt, p.state]).sort(), DAYS.map((dt) => [dt, "waiting"]));
  assert.deepEqual(waiting.workers, []);

  spawnWorker(defer, server.url, shared, proxyUrl);
  // a status read can see the task delayed a moment before its attempt shows (seen once under load): wait for both
  const retrying = await waitForStatus(server.url, (s) => s.partitions.some((p) => p.dt === lockedDay && p.state === "delayed" && p.attemptsMade >= 1), "the locked day waiting for its retry");
  const entry = retrying.partitions.find((p) => p.dt === lockedDay);
  assert.equal(entry?.attemptsMade, 1);
  assert.match(entry?.error ?? "", /another run of events for .* is in progress/);
  await lock.release(); // the retry can now succeed
  await waitForStatus(server.url, (s) => s.partitions.some((p) => p.dt === slowDay && p.state === "active"), "the slow day running");

  const outcomes = await backfill;
  assert.deepEqual(outcomes.map((o) => [o.dt, o.status]), [
    [failDay, "failed"],
    [lockedDay, "succeeded"],
    [slowDay, "succeeded"],
    [DAYS[3], "succeeded"],
  ]);
  assert.match(outcomes[0]?.error ?? "", /404/, "the failed day's error is the run's own");
  assert.ok(notes.some((n) => n.includes(`${lockedDay}: attempt 1 of 3 failed, retrying`)), `the retry was announced: ${notes.join(" | ")}`);

  const final = await queueStatus(server.url);
  assert.deepEqual(final.counts, { waiting: 0, active: 0, delayed: 0, failed: 1, completed: 3 });
  const failed = final.partitions.find((p) => p.state === "failed");
  assert.equal(failed?.dt, failDay);
  assert.equal(failed?.attemptsMade, 1, "a 404 is not retried: straight to the failed set");
  assert.match(failed?.error ?? "", /404/);
  let printed = "";
  await printQueueStatus(server.url, "events", "table", { stdout: (x) => void (printed += x), stderr: () => undefined });
  assert.match(printed, /queued 0 \(waiting 0, retrying 0\), active 0, failed 1, done 3/);
  assert.match(printed, new RegExp(`events\\s+\\|?\\s*${failDay}\\s+\\|?\\s*failed`), printed);
  assert.equal(final.partitions.find((p) => p.dt === lockedDay)?.attemptsMade, 2, "the locked day succeeded on its second attempt (attempts count the finished ones)");
  const runs = await withWarehouse(shared, "read", (c) => query(c, "select strftime(dt, '%Y-%m-%d'), status from sluice.runs order by all"));
  assert.deepEqual(runs.rows, [
    [failDay, "failed"],
    [lockedDay, "succeeded"],
    [slowDay, "succeeded"],
    [DAYS[3], "succeeded"],
  ]);
});

test("a task that moves between two of status's reads (so Redis shows it in both lists) is listed once, in the state read last", { skip, timeout: 60_000 }, async (t) => {
  const defer = cleanups(t);
  const server = await redis(defer);
  const queue = new Queue(PARTITION_QUEUE, { connection: connectionFor(server.url) });
  defer(() => queue.close());
  const task: PartitionTask = { job: "events", dt: "2026-11-10", refetch: false, keepRaw: false, backfillId: "b1" };
  const added = await queue.add("events", task, { jobId: "b1-events-2026-11-10" });
  await queue.add("events", { ...task, dt: "2026-11-11" }, { jobId: "b1-events-2026-11-11" });
  // What a worker taking the task between the read of waiting and the read of active leaves behind
  // for that one status call: the id in the wait list and, already, in the active list.
  const raw = new Redis(server.url, { maxRetriesPerRequest: 1 });
  defer(async () => void raw.disconnect());
  await raw.lpush(`bull:${PARTITION_QUEUE}:active`, added.id ?? "");

  const status = await queueStatus(server.url);
  assert.deepEqual(status.partitions.map((p) => [p.dt, p.state]), [["2026-11-11", "waiting"], ["2026-11-10", "active"]]);
});

test("a standalone loader serves a backfill, a second loader is refused, and the backfill takes over when it stops", { skip, timeout: 120_000 }, async (t) => {
  const defer = cleanups(t);
  const [server, api] = await Promise.all([redis(defer), demoApi(defer)]);
  const shared = await tempDataDir(t);
  const days = DAYS.slice(0, 2);
  const loader = await startLoader({ queueUrl: server.url, dataDir: shared, log, signal: new AbortController().signal });
  defer(() => loader.close());
  await assert.rejects(startLoader({ queueUrl: server.url, dataDir: shared, log, signal: new AbortController().signal }), (e: unknown) => e instanceof UsageError && /another loader is already serving/.test(e.message));
  spawnWorker(defer, server.url, shared, api.url);
  // Aborted at cleanup, so that a backfill outliving a failed test does not hang the file.
  const stop = new AbortController();
  defer(async () => stop.abort());

  const notes: string[] = [];
  const outcomes = await enqueueBackfill(
    events,
    days,
    {
      queueUrl: server.url,
      force: false,
      retryFailed: false,
      tuning: TUNING,
      reconcileMs: 500,
      onNote: (m) => notes.push(m),
      // The standalone loader goes away after the first partition: the backfill must load the rest itself.
      onProgress: (p) => void (p.kind === "finish" && p.done === 1 ? loader.close() : undefined),
    },
    { dataDir: shared, signal: stop.signal, log, refetch: false, keepRaw: false },
  );
  assert.deepEqual(outcomes.map((o) => o.status), ["succeeded", "succeeded"]);
  assert.ok(notes.some((n) => n.startsWith("using the loader already connected")), notes.join(" | "));
  assert.ok(loader.executed > 0, "the standalone loader did the first loads");
  const runs = await withWarehouse(shared, "read", (c) => query(c, "select strftime(dt, '%Y-%m-%d'), status from sluice.runs order by all"));
  assert.deepEqual(runs.rows, days.map((dt) => [dt, "succeeded"]));
  // The second partition (concurrency 1, started after the first finished) still needed the warehouse.
  assert.ok(notes.some((n) => n.startsWith("no loader is connected any more")), `the backfill took over the loads: ${notes.join(" | ")}`);
});

test("a worker stopped with SIGTERM mid-partition hands its task back without using an attempt; cancelling a backfill withdraws queued tasks", { skip, timeout: 120_000 }, async (t) => {
  const defer = cleanups(t);
  const [server, api] = await Promise.all([redis(defer), demoApi(defer)]);
  // A slow source keeps the partition running long enough to stop its worker in the middle.
  const proxy = createServer((req: IncomingMessage, res: ServerResponse) => {
    void (async () => {
      await sleep(700);
      const upstream = await fetch(`${api.url}${req.url ?? "/"}`);
      res.writeHead(upstream.status, { "content-type": "application/json" }).end(Buffer.from(await upstream.arrayBuffer()));
    })().catch(() => res.destroy());
  });
  await new Promise<void>((r) => proxy.listen(0, "127.0.0.1", r));
  defer(() => new Promise<void>((r) => proxy.close(() => r())));
  const proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
  const shared = await tempDataDir(t);
  const first = spawnWorker(defer, server.url, shared, proxyUrl);
  const controller = new AbortController();
  const outcomes = queued(server.url, shared, controller.signal);
  await waitForStatus(server.url, (s) => s.counts.active === 1, "a running partition");
  first.child.kill("SIGTERM");
  const stopped = await first.exited;
  assert.equal(stopped.code, 0, `the worker stopped cleanly: ${first.stderr()}`);
  const handedBack = await queueStatus(server.url);
  assert.equal(handedBack.counts.active, 0);
  assert.equal(handedBack.counts.waiting, DAYS.length, "the running task is back in the queue with the others");
  assert.ok(handedBack.partitions.every((p) => p.attemptsMade === 0), "no attempt was used up");

  // Cancel the backfill while no worker runs: every task is withdrawn, none is left behind.
  controller.abort();
  const result = await outcomes;
  assert.deepEqual(result.map((o) => o.status), DAYS.map(() => "cancelled"));
  assert.match(result[0]?.error ?? "", /not started: the backfill was cancelled/);
  assert.deepEqual((await queueStatus(server.url)).counts, { waiting: 0, active: 0, delayed: 0, failed: 0, completed: 0 });
});

test("a bad queue URL is a usage error, and values and errors cross the queue intact", () => {
  assert.throws(() => parseQueueUrl("http://127.0.0.1:6379"), /must start with redis:\/\//);
  assert.throws(() => parseQueueUrl("not a url"), /is not a URL/);
  assert.equal(parseQueueUrl("redis://127.0.0.1:6379/2"), "redis://127.0.0.1:6379/2");

  const value = { id: 2n ** 62n, at: new Date("2026-11-20T10:00:00.123Z"), list: [1, "a", null, Number.NaN], nested: { ok: true } };
  assert.deepEqual(decode(JSON.parse(JSON.stringify(encode(value)))), value);

  const roundTrip = (e: Error): Error => decodeError(JSON.parse(JSON.stringify(encodeError(e))));
  const blocked = roundTrip(new ValidationBlockedError("blocked", { context: { job: "events", partition: "2026-11-10" }, hint: "look" }));
  assert.ok(blocked instanceof ValidationBlockedError);
  assert.equal(blocked.transient, false);
  assert.deepEqual(blocked.context, { job: "events", partition: "2026-11-10" });
  assert.equal(blocked.hint, "look");
  const http = roundTrip(new TransientHttpError("HTTP 503", { status: 503, retryAfterMs: 2000 }));
  assert.ok(http instanceof TransientHttpError && http.transient && http.status === 503 && http.retryAfterMs === 2000);
  const lock = roundTrip(new LockError("held"));
  assert.ok(lock instanceof LockError && lock.transient);
  const blockedChecks = roundTrip(new ValidationBlockedError("blocked", { blocked: [{ check: "c", table: "t", failingRows: 3 }] }));
  assert.ok(blockedChecks instanceof ValidationBlockedError);
  assert.deepEqual(blockedChecks.blocked, [{ check: "c", table: "t", failingRows: 3 }]);
  assert.ok(roundTrip(new SchemaError("bad type")) instanceof SchemaError);
  const plain = roundTrip(new TypeError("boom"));
  assert.equal(plain.message, "boom");
});
