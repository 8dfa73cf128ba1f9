/**
 * The history-aware checks of the built-in events job over 30 demo days, in date order: the demo
 * API serves 2026-11-24 half-empty and 2026-11-27 with every purchase amount zero. The normal days
 * load; the volume check blocks day 24 and the purchase-amount aggregate warns about day 27.
 * (checks-shuffle.test.ts runs the same days in a shuffled order and expects the same verdicts.)
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { BUILTIN_JOBS_DIR } from "../src/core/config.ts";
import { dayRange } from "../src/core/dates.ts";
import { startDemoApi } from "../src/demo-api/index.ts";
import { readCheckResults, withWarehouse } from "../src/load/warehouse.ts";
import { RunMetrics } from "../src/metrics/index.ts";
import { runBackfill } from "../src/pipeline/backfill.ts";
import { JobCatalog } from "../src/pipeline/job-catalog.ts";
import { historyCharts } from "../src/report/index.ts";
import { assertVerdicts, DAYS, DEMO, anomalyResults } from "./checks-demo-days.ts";
import { tempDataDir } from "./support/dirs.ts";
import { testRunSettings } from "./support/settings.ts";

const { get: getJob } = await JobCatalog.load(BUILTIN_JOBS_DIR);

test("a 30-day backfill loads the normal days, blocks the half-empty day by volume and warns about the zero-amount day", async (t) => {
  const api = await startDemoApi(DEMO);
  t.after(() => api.close());
  const dataDir = await tempDataDir(t);
  // One day at a time, so which days are loaded before each one is exactly the days before it.
  const outcomes = await runBackfill(getJob("events"), DAYS, { concurrency: 1, force: false, retryFailed: false }, testRunSettings(dataDir, api.url));
  assertVerdicts(outcomes);

  // Below the minimum history (7 earlier days) the anomaly checks are skipped, and say so.
  const first = anomalyResults(outcomes[0]);
  assert.ok(first.every((r) => r.skipped === true && r.passed), JSON.stringify(first));
  const day8 = anomalyResults(outcomes[7]).find((r) => r.check === "events: volume");
  assert.equal(day8?.skipped, false, "the 8th day has 7 earlier days: judged");

  // Day 24 was compared with the 14 days before it by date, and its history chart shows them.
  const day24 = outcomes[23] as (typeof outcomes)[number];
  assert.match(day24.error ?? "", /hint: nothing of 2026-11-24 was loaded; see the failed checks with: sluice checks events --failed --since 2026-11-24/);
  const volume = anomalyResults(day24).find((r) => r.check === "events: volume") as (typeof day24.checks)[number] & { history?: Array<{ dt: string }> };
  assert.deepEqual(volume.history?.map((p) => p.dt), dayRange("2026-11-10", "2026-11-23"));
  assert.ok(typeof volume.lower === "number" && typeof volume.observed === "number" && volume.observed < volume.lower, JSON.stringify(volume));
  assert.match(volume.detail ?? "", /below the median; expected [\d.]+ to [\d.]+ \(median [\d.]+ of 14 partitions, 2026-11-10 to 2026-11-23\)/);
  const chart = historyCharts(day24.dt, day24.checks).find((c) => c.title === "events: events: volume (history)");
  assert.deepEqual(chart?.labels, [...dayRange("2026-11-10", "2026-11-23"), "2026-11-24"]);
  assert.equal(chart?.passed, false);

  // Every anomaly check stored what it measured, passed or not, for the next days' history.
  const stored = await withWarehouse(dataDir, "read", (conn) => readCheckResults(conn, { job: "events" }));
  const volumes = stored.filter((r) => r.check === "events: volume");
  assert.equal(volumes.length, 30);
  assert.ok(volumes.every((r) => typeof r.observed === "number" && r.observed > 0));
  assert.deepEqual(volumes.filter((r) => r.result === "skipped").map((r) => r.dt), DAYS.slice(0, 7));
  const failedAnomalies = (await withWarehouse(dataDir, "read", (conn) => readCheckResults(conn, { job: "events", failed: true })))
    .filter((r) => r.check === "events: volume" || r.check === "amount: mean over purchases" || r.check === "sessions: volume")
    .map((r) => [r.dt, r.check]);
  assert.deepEqual(failedAnomalies, [["2026-11-24", "events: volume"], ["2026-11-27", "amount: mean over purchases"]]);

  // The gauges show the latest day (30, normal); with the backfill stopped after day 24 they alert.
  const latest = new RunMetrics();
  for (const o of outcomes) latest.observe(o);
  const text = await latest.text();
  assert.ok(text.includes(`pipeline_check_anomaly{job="events",table="events",check="events: volume"} 0`), text);
  assert.ok(text.includes(`pipeline_check_observed_value{job="events",table="events",check="events: volume"} ${anomalyResults(outcomes[29]).find((r) => r.check === "events: volume")?.observed}`));
  const upTo24 = new RunMetrics();
  for (const o of outcomes.slice(0, 24)) upTo24.observe(o);
  assert.ok((await upTo24.text()).includes(`pipeline_check_anomaly{job="events",table="events",check="events: volume"} 1`));
});
