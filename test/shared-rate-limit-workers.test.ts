/**
 * The source rate limit shared by every worker: three `sluice worker` processes backfilling a job
 * whose source allows 8 requests/s stay under a server that refuses (429) above 12/s, where their
 * three own buckets would send up to 24/s. Real processes, a real redis-server.
 */
import assert from "node:assert/strict";
import path from "node:path";
import { test } from "node:test";
import { addDays } from "../src/core/dates.ts";
import { silentLogger } from "../src/core/log.ts";
import { enqueueBackfill } from "../src/queue/backfill.ts";
import metered from "./fixtures/jobs/metered.ts";
import { maxInSpan, startMeteredApi } from "./fixtures/metered-api.ts";
import { FAST_TUNING, cleanups, spawnWorker, waitForStatus } from "./fixtures/queue-processes.ts";
import { redisUnavailable, startRedis } from "./fixtures/redis.ts";
import { tempDataDir } from "./support/dirs.ts";

const skip = redisUnavailable();

test("three sluice worker processes running a backfill of a job limited to 8 requests/s stay under a server limit of 12 together: no 429", { skip, timeout: 120_000 }, async (t) => {
  const defer = cleanups(t);
  const key = "sk_test_4e1f9a0c7b3d2e58";
  const limit = 12;
  const pages = 10;
  const api = await startMeteredApi({ key, pages, limitPerSecond: limit });
  defer(() => api.close());
  const dataDir = await tempDataDir(t);
  const jobsDir = path.join(import.meta.dirname, "fixtures", "jobs");
  const server = await startRedis();
  defer(() => server.stop());
  const queueUrl = server.url;
  // Alone, each worker's own bucket would allow 8/s: together 24/s, twice what the server takes.
  for (let i = 0; i < 3; i++) spawnWorker(defer, queueUrl, dataDir, "http://127.0.0.1:9", { METERED_API_URL: api.url, METERED_API_KEY: key }, ["--jobs-dir", jobsDir]);
  await waitForStatus(queueUrl, (s) => s.workers.length === 3, "three connected workers", 60_000);

  const days = Array.from({ length: 4 }, (_, i) => addDays("2026-11-10", i));
  const outcomes = await enqueueBackfill(metered, days, { queueUrl, force: false, retryFailed: false, tuning: FAST_TUNING, reconcileMs: 1_000 }, {
    dataDir,
    signal: new AbortController().signal,
    log: silentLogger(),
    refetch: false,
    keepRaw: false,
  });
  assert.deepEqual(outcomes.map((o) => o.status), days.map(() => "succeeded"), outcomes.map((o) => o.error).join(" | "));
  assert.ok(outcomes.every((o) => o.rowsLoaded === pages * 5), "every page of every day loaded");
  assert.deepEqual(api.statuses, { "200": days.length * pages }, "no request was refused");
  const peak = maxInSpan(api.arrivals, 1000);
  assert.ok(peak <= limit, `at most ${limit} requests in any second, got ${peak}`);
});
