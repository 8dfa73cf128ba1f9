/**
 * `sluice catch-up` on the demo API: after missed nights it runs exactly the missed days plus the
 * lookback, and reports the days it leaves to a backfill (its failure paths: test/catch-up.test.ts).
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { addDays, formatDay } from "../src/core/dates.ts";
import { silentLogger } from "../src/core/log.ts";
import { startDemoApi } from "../src/demo-api/index.ts";
import { query, withWarehouse } from "../src/load/warehouse.ts";
import { runBackfill } from "../src/pipeline/backfill.ts";
import events from "../jobs/events.ts";
import { tempDataDir } from "./support/dirs.ts";
import { runSluice } from "./support/sluice.ts";

const EVENTS_PER_DAY = 100;

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
  const api = await startDemoApi({ eventsPerDay: EVENTS_PER_DAY, seed: 7 });
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
