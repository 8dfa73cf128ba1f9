/**
 * A worker whose Redis has gone away stops on one SIGTERM within seconds, even with a partition
 * running: it does not wait for a Redis that is gone to hand the task back (BullMQ's stall check
 * does that once Redis is back). A real `sluice worker` process and a real redis-server.
 */
import assert from "node:assert/strict";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { test } from "node:test";
import { partitionTaskOptions, resolveTuning, taskId } from "../src/queue/connection.ts";
import { partitionQueue } from "../src/queue/schedule.ts";
import { FAST_TUNING, cleanups, redisFor, spawnWorker, waitForStatus } from "./fixtures/queue-processes.ts";
import { redisUnavailable } from "./fixtures/redis.ts";
import { tempDataDir } from "./support/dirs.ts";

const skip = redisUnavailable();
const DAY = "2026-11-10";

test("a worker whose Redis is down stops on one SIGTERM within seconds, a running partition and all", { skip, timeout: 120_000 }, async (t) => {
  const defer = cleanups(t);
  const server = await redisFor(defer, { appendOnly: true });
  // A source that never answers keeps the partition running until the worker is stopped.
  const hanging = createServer(() => undefined);
  await new Promise<void>((resolve) => hanging.listen(0, "127.0.0.1", resolve));
  defer(() => new Promise<void>((resolve) => {
    hanging.closeAllConnections();
    hanging.close(() => resolve());
  }));
  const shared = await tempDataDir(t);
  const hangingUrl = `http://127.0.0.1:${(hanging.address() as AddressInfo).port}`;
  const worker = spawnWorker(defer, server.url, shared, hangingUrl);
  await waitForStatus(server.url, (s) => s.workers.length === 1, "the worker", 60_000);
  // A task straight on the queue (no loader: its run waits for one, as runs do when the loader is slow).
  const tasks = partitionQueue(server.url);
  await tasks.add("events", { job: "events", dt: DAY, refetch: false, keepRaw: false, backfillId: "faults" }, partitionTaskOptions(taskId("faults", "events", DAY), resolveTuning(FAST_TUNING)));
  await tasks.close();
  await waitForStatus(server.url, (s) => s.counts.active === 1, "the running partition");

  await server.halt();
  const stopping = Date.now();
  worker.child.kill("SIGTERM");
  const exit = await worker.exited;
  const took = Date.now() - stopping;
  assert.equal(exit.code, 0, `a clean stop: ${worker.stderr()}`);
  // Before the fix it waited 30 s for BullMQ's close and 5 s more for the warehouse queue, then needed a second signal in practice.
  assert.ok(took < 15_000, `stopped ${took} ms after one SIGTERM`);
  assert.match(worker.stderr(), /Redis does not answer: stopping without waiting for it/);
  assert.equal((worker.stderr().match(/SIGTERM/g) ?? []).length, 1, "one signal was enough");

  // Once Redis is back, the task of the stopped worker is not lost: the next worker's stall check takes it up.
  await server.resume();
  const next = spawnWorker(defer, server.url, shared, hangingUrl);
  const back = await waitForStatus(server.url, (s) => s.workers.length === 1 && s.counts.active === 1 && s.partitions.some((p) => p.state === "active" && p.worker !== null && !p.worker.endsWith(`:${worker.child.pid}`)), "the task running on the next worker", 60_000);
  assert.deepEqual(back.partitions.map((p) => p.dt), [DAY]);
  next.child.kill("SIGTERM");
  assert.equal((await next.exited).code, 0, next.stderr());
});
