/**
 * Redis restarted in the middle of a backfill (AOF on): workers, loader and backfill reconnect by
 * themselves, the backfill finishes, and the tables are exact (a worker stopped while Redis is down:
 * test/worker-shutdown.test.ts). Real `sluice worker` processes, a real redis-server, and the small
 * `metered` test job, whose exact table follows from its API.
 */
import assert from "node:assert/strict";
import path from "node:path";
import { test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { dayRange } from "../src/core/dates.ts";
import { silentLogger } from "../src/core/log.ts";
import { query, withWarehouse } from "../src/load/warehouse.ts";
import { enqueueBackfill } from "../src/queue/backfill.ts";
import metered from "./fixtures/jobs/metered.ts";
import { startMeteredApi } from "./fixtures/metered-api.ts";
import { FAST_TUNING, cleanups, redisFor, spawnWorker, waitForStatus } from "./fixtures/queue-processes.ts";
import { redisUnavailable } from "./fixtures/redis.ts";
import { tempDataDir } from "./support/dirs.ts";

const skip = redisUnavailable();
const DAYS = dayRange("2026-11-10", "2026-11-14");
const PAGES = 6;
const KEY = "sk_test_a0c3e5f7b9d1e2f4";
const JOBS_DIR = path.join(import.meta.dirname, "fixtures", "jobs");

test("Redis restarted in the middle of a backfill (AOF on): the backfill finishes and the tables are exact", { skip, timeout: 120_000 }, async (t) => {
  const defer = cleanups(t);
  const server = await redisFor(defer, { appendOnly: true });
  const api = await startMeteredApi({ key: KEY, pages: PAGES });
  defer(() => api.close());
  const shared = await tempDataDir(t);
  for (let i = 0; i < 2; i++) spawnWorker(defer, server.url, shared, "http://127.0.0.1:9", { METERED_API_URL: api.url, METERED_API_KEY: KEY }, ["--jobs-dir", JOBS_DIR]);
  await waitForStatus(server.url, (s) => s.workers.length === 2, "two connected workers", 60_000);

  const settings = { dataDir: shared, signal: new AbortController().signal, log: silentLogger(), refetch: false, keepRaw: false };
  const backfill = enqueueBackfill(metered, DAYS, { queueUrl: server.url, force: false, retryFailed: false, tuning: FAST_TUNING, reconcileMs: 500 }, settings);
  // Restart once some work is under way and some still queued: the queue must survive it.
  await waitForStatus(server.url, (s) => s.counts.active > 0 && s.counts.waiting > 0, "a running partition and queued ones");
  await server.halt();
  await sleep(500);
  await server.resume();
  const outcomes = await backfill;
  assert.deepEqual(outcomes.map((o) => [o.dt, o.status]), DAYS.map((dt) => [dt, "succeeded"]), outcomes.map((o) => o.error).join(" | "));

  const { rows, runs } = await withWarehouse(shared, "read", async (conn) => ({
    rows: (await query(conn, "select id, day, n from metered_items order by day, n")).rows,
    runs: (await query(conn, "select strftime(dt, '%Y-%m-%d'), status from sluice.runs order by all")).rows,
  }));
  const expected = DAYS.flatMap((day) => Array.from({ length: PAGES * 5 }, (_, n) => [`${day}-${Math.floor(n / 5)}-${n % 5}`, day, n]));
  assert.deepEqual(rows.map((r) => [r[0], r[1], Number(r[2])]), expected, "every item of every day, once");
  assert.deepEqual(runs.filter((r) => r[1] === "succeeded").map((r) => r[0]), DAYS, "exactly one succeeded run per day");
  const status = await waitForStatus(server.url, (s) => s.counts.active === 0, "no task left running");
  assert.deepEqual(status.partitions.map((p) => p.dt).sort(), DAYS, "the tasks survived the restart: none lost, none added");
  assert.deepEqual(status.counts, { waiting: 0, active: 0, delayed: 0, failed: 0, completed: DAYS.length });
});
