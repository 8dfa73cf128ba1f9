/**
 * The alert of a scheduled catch-up: a `sluice worker` with SLUICE_ALERT_WEBHOOK runs the catch-ups
 * a per-second schedule fires (real redis-server) and, when one of the days fails, posts one
 * summary naming it, with no secret in it; later fires of the same day post nothing more.
 */
import assert from "node:assert/strict";
import path from "node:path";
import { test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { addDays, formatDay } from "../src/core/dates.ts";
import { silentLogger } from "../src/core/log.ts";
import { query, withWarehouse } from "../src/load/warehouse.ts";
import { startLoader } from "../src/queue/loader.ts";
import { Schedules } from "../src/queue/schedule.ts";
import { startMeteredApi } from "./fixtures/metered-api.ts";
import { FAST_TUNING, cleanups, redisFor, spawnWorker } from "./fixtures/queue-processes.ts";
import { redisUnavailable } from "./fixtures/redis.ts";
import { tempDataDir } from "./support/dirs.ts";
import { webhookReceiver } from "./support/net.ts";

const skip = redisUnavailable();
const TEST_JOBS = path.resolve(import.meta.dirname, "fixtures", "jobs");

interface Summary {
  text: string;
  job: string;
  command: string;
  counts: Record<string, number>;
  failed: Array<{ partition: string; error: string }>;
}

test("a worker's scheduled catch-up whose day fails posts one summary to SLUICE_ALERT_WEBHOOK naming that day, with no secret in it", { skip, timeout: 60_000 }, async (t) => {
  const defer = cleanups(t);
  const key = "sk_live_4e1b7c9d03a2f658";
  const token = "tok-8a2c5e1f9b73d046";
  const today = formatDay(new Date());
  const [good, forbidden] = [addDays(today, -2), addDays(today, -1)];
  const api = await startMeteredApi({ key, pages: 1, forbiddenDays: [forbidden] });
  defer(() => api.close());
  const hook = await webhookReceiver(t);
  const redis = await redisFor(defer);
  const dataDir = await tempDataDir(t);
  const loader = await startLoader({ queueUrl: redis.url, dataDir, log: silentLogger(), signal: new AbortController().signal, tuning: FAST_TUNING });
  defer(() => loader.close());
  const env = { METERED_API_URL: api.url, METERED_API_KEY: key, SLUICE_API_TOKEN: token, SLUICE_ALERT_WEBHOOK: hook.url, SLUICE_LOG_LEVEL: "info" };
  const worker = spawnWorker(defer, redis.url, dataDir, "http://127.0.0.1:9", env, ["--jobs-dir", TEST_JOBS]);
  const schedules = new Schedules(redis.url);
  defer(() => schedules.close());
  await schedules.register({ job: "metered", cron: "* * * * * *", lookback: 0, from: good });

  const deadline = Date.now() + 45_000;
  while (hook.bodies.length === 0) {
    assert.ok(Date.now() < deadline, `timed out waiting for the alert; worker stderr:\n${worker.stderr()}`);
    await sleep(100);
  }
  // Later fires of the same day find the days already queued: nothing runs again, nothing more is posted.
  await sleep(2_500);
  await schedules.remove("metered");
  if (formatDay(new Date()) !== today) return t.skip("the test ran over midnight UTC");
  assert.equal(hook.bodies.length, 1, "one summary for the fire day");
  const payload = JSON.parse(hook.bodies[0] as string) as Summary;
  assert.deepEqual([payload.job, payload.command, payload.counts["failed"], payload.counts["succeeded"]], ["metered", "scheduled catch-up", 1, 1]);
  assert.deepEqual(payload.failed.map((f) => f.partition), [forbidden]);
  assert.match(payload.failed[0]?.error ?? "", /403/);
  assert.match(payload.text, new RegExp(`metered: 1 of 2 partition\\(s\\) failed \\(${forbidden}: .*403`));
  assert.match(worker.stderr(), /alert posted to the webhook/);
  for (const secret of [key, token, "hook-path-secret"]) {
    assert.equal(hook.bodies[0]?.includes(secret), false, `${secret} in the alert`);
    assert.equal(worker.stderr().includes(secret), false, `${secret} in the worker's log`);
  }
  const runs = await withWarehouse(dataDir, "read", (conn) => query(conn, "select strftime(dt, '%Y-%m-%d'), status from sluice.runs order by dt"));
  assert.deepEqual(runs.rows, [[good, "succeeded"], [forbidden, "failed"]]);
});
