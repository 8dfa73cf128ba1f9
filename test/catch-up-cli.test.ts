/**
 * `sluice catch-up` on the demo API: after missed nights it runs exactly the missed days plus the
 * lookback, and reports the days it leaves to a backfill (its failure paths: test/catch-up.test.ts).
 * On the `late` test job: without history it starts at the job's declared start, and its lookback
 * loads records that arrived after a day's first run.
 */
import assert from "node:assert/strict";
import path from "node:path";
import { test } from "node:test";
import pl from "nodejs-polars";
import { addDays, formatDay } from "../src/core/dates.ts";
import { silentLogger } from "../src/core/log.ts";
import { startDemoApi } from "../src/demo-api/index.ts";
import { lakePartitionPath } from "../src/load/lake.ts";
import { query, withWarehouse } from "../src/load/warehouse.ts";
import { runBackfill } from "../src/pipeline/backfill.ts";
import events from "../jobs/events.ts";
import late from "./fixtures/jobs/late.ts";
import { startLateApi } from "./fixtures/late-api.ts";
import { tempDataDir } from "./support/dirs.ts";
import { runSluice } from "./support/sluice.ts";
import { testRunSettings } from "./support/settings.ts";
import { EVENTS_PER_DAY_ANY_DATE } from "./support/events.ts";

/** Runs `days` of the events job in this process, as earlier nights would have. */
async function loadNights(dataDir: string, apiUrl: string, days: string[]): Promise<void> {
  const settings = { dataDir, signal: new AbortController().signal, log: silentLogger(), env: { SLUICE_API_URL: apiUrl }, refetch: false, keepRaw: false, preview: false };
  const outcomes = await runBackfill(events, days, { concurrency: 2, force: false, retryFailed: false }, settings);
  assert.deepEqual(outcomes.map((o) => o.status), days.map(() => "succeeded"));
}

/** Runs per day, and the days the events table holds. */
async function ledger(dataDir: string): Promise<{ runs: Record<string, string[]>; eventDays: string[] }> {
  return withWarehouse(dataDir, "read", async (conn) => {
    const runs: Record<string, string[]> = {};
    for (const [dt, status] of (await query(conn, "select strftime(dt, '%Y-%m-%d'), status from sluice.runs order by started_at")).rows as Array<[string, string]>) {
      (runs[dt] ??= []).push(status);
    }
    const eventDays = (await query(conn, "select distinct strftime(dt, '%Y-%m-%d') from events order by 1")).rows.map((r) => String(r[0]));
    return { runs, eventDays };
  });
}

test("a catch-up after five missed nights runs exactly those five plus the lookback, and names the gap it leaves", async (t) => {
  const today = formatDay(new Date());
  const day = (n: number): string => addDays(today, -n);
  const api = await startDemoApi({ eventsPerDay: EVENTS_PER_DAY_ANY_DATE, seed: 7 });
  t.after(() => api.close());
  const dataDir = await tempDataDir(t);
  // Nights 9 and 6 days ago ran; 8 and 7 never did (a gap before the last success); the last five nights were missed.
  await loadNights(dataDir, api.url, [day(9), day(6)]);

  const result = await runSluice(["catch-up", "events", "--lookback", "6", "--api-url", api.url, "--data-dir", dataDir]);
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stderr, new RegExp(`catch-up events: 6 partition\\(s\\) from ${day(6)} to ${day(1)}: 5 never ran, 1 rerun for late data \\(lookback 6\\)`));
  assert.match(result.stderr, new RegExp(`2 day\\(s\\) from ${day(8)} to ${day(7)} never ran .*sluice backfill events --from ${day(8)} --to ${day(7)}`));
  assert.match(result.stdout, /6 succeeded, 0 skipped, 0 failed, 0 cancelled/);
  if (formatDay(new Date()) !== today) return t.skip("the test ran over midnight UTC");

  const { runs, eventDays } = await ledger(dataDir);
  assert.deepEqual(runs, {
    [day(9)]: ["succeeded"],
    [day(6)]: ["succeeded", "succeeded"],
    [day(5)]: ["succeeded"],
    [day(4)]: ["succeeded"],
    [day(3)]: ["succeeded"],
    [day(2)]: ["succeeded"],
    [day(1)]: ["succeeded"],
  });
  assert.deepEqual(eventDays, [day(9), day(6), day(5), day(4), day(3), day(2), day(1)]);

  // The next night, with nothing missed and no lookback, there is nothing to do.
  const again = await runSluice(["catch-up", "events", "--api-url", api.url, "--data-dir", dataDir]);
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stderr, new RegExp(`catch-up events: up to date through ${day(1)} \\(last success ${day(1)}\\); nothing to run`));
  assert.equal(again.stdout, "");
});

const TEST_JOBS = path.resolve(import.meta.dirname, "fixtures", "jobs");

/** Per day of late_items: rows and distinct ids in the warehouse. */
async function lateItems(dataDir: string): Promise<Record<string, [number, number]>> {
  const result = await withWarehouse(dataDir, "read", (conn) => query(conn, "select day, count(*), count(distinct id) from late_items group by day order by day"));
  return Object.fromEntries(result.rows.map((r) => [String(r[0]), [Number(r[1]), Number(r[2])]]));
}

test("a catch-up without history runs from the job's declared start to yesterday, and nothing before it", async (t) => {
  const today = formatDay(new Date());
  const days = [3, 2, 1].map((n) => addDays(today, -n));
  const api = await startLateApi({ perDay: 4, lateOnes: 0, lateDays: [] });
  t.after(() => api.close());
  const dataDir = await tempDataDir(t);

  const result = await runSluice(["catch-up", "late", "--jobs-dir", TEST_JOBS, "--data-dir", dataDir], { LATE_API_URL: api.url });
  assert.equal(result.code, 0, result.stderr);
  assert.equal(late.start, days[0], "the fixture declares its start three days back");
  assert.match(result.stderr, new RegExp(`catch-up late: 3 partition\\(s\\) from ${days[0]} to ${days[2]}: 3 never ran`));
  if (formatDay(new Date()) !== today) return t.skip("the test ran over midnight UTC");
  assert.deepEqual([...api.asked].sort(), days, "the API was asked for the declared start's days only");
  const runs = await withWarehouse(dataDir, "read", (conn) => query(conn, "select strftime(dt, '%Y-%m-%d'), status from sluice.runs order by dt"));
  assert.deepEqual(runs.rows, days.map((dt) => [dt, "succeeded"]));
  assert.deepEqual(await lateItems(dataDir), Object.fromEntries(days.map((dt) => [dt, [4, 4]])));
});

test("a record that arrives after a day's first run is loaded by the next catch-up's lookback, into the warehouse and the lake, nothing doubled", async (t) => {
  const today = formatDay(new Date());
  const [early, lateDay] = [addDays(today, -2), addDays(today, -1)];
  const api = await startLateApi({ perDay: 5, lateOnes: 2, lateDays: [lateDay] });
  t.after(() => api.close());
  const dataDir = await tempDataDir(t);
  // The nights' runs, while the API still holds two of yesterday's records back.
  const settings = testRunSettings(dataDir, "http://unused.invalid", { LATE_API_URL: api.url });
  const first = await runBackfill(late, [addDays(today, -3), early, lateDay], { concurrency: 1, force: false, retryFailed: false }, settings);
  assert.deepEqual(first.map((o) => o.status), ["succeeded", "succeeded", "succeeded"]);
  assert.deepEqual((await lateItems(dataDir))[lateDay], [3, 3]);

  api.release();
  const caught = await runSluice(["catch-up", "late", "--lookback", "1", "--jobs-dir", TEST_JOBS, "--data-dir", dataDir], { LATE_API_URL: api.url });
  assert.equal(caught.code, 0, caught.stderr);
  assert.match(caught.stderr, new RegExp(`catch-up late: 1 partition\\(s\\) from ${lateDay} to ${lateDay}: 1 rerun for late data \\(lookback 1\\)`));
  if (formatDay(new Date()) !== today) return t.skip("the test ran over midnight UTC");
  const items = await lateItems(dataDir);
  assert.deepEqual(items[lateDay], [5, 5], "the late records are in, each once");
  assert.deepEqual(items[early], [5, 5], "a day outside the lookback is untouched");
  const lake = pl.readParquet(lakePartitionPath(dataDir, "late_items", lateDay));
  assert.deepEqual([...lake.getColumn("id").toArray()].sort(), Array.from({ length: 5 }, (_, i) => `${lateDay}-${i}`).sort());
});
