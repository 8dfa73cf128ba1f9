/** The date domain and the size of a backfill: no day past 9999-12-30, no ten-year range without --yes. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { UsageError } from "../src/core/errors.ts";
import { LAST_DAY, addDays, dayCount, dayRange, dayWindow, parseDay } from "../src/core/dates.ts";
import { tempDataDir } from "./support/dirs.ts";
import { runSluice } from "./support/sluice.ts";

test("days run from 0001-01-01 to 9999-12-30; the last day's window ends at a four-digit midnight", () => {
  assert.equal(parseDay("9999-12-30"), "9999-12-30");
  // Years 1-99 parse once the calendar check handles them (a separate fix); the day arithmetic already does.
  assert.equal(addDays("0001-01-01", 1), "0001-01-02");
  assert.throws(() => dayRange("0000-12-31", "0001-01-01"), /outside the days/);
  assert.throws(() => parseDay("9999-12-31", "to"), (e: unknown) => e instanceof UsageError && /--to "9999-12-31" is outside the days Sluice partitions, 0001-01-01 to 9999-12-30/.test(e.message));
  assert.equal(dayWindow(LAST_DAY).endIso, "9999-12-31T00:00:00Z");
  assert.deepEqual(dayRange("9999-12-28", LAST_DAY), ["9999-12-28", "9999-12-29", "9999-12-30"]);
  assert.throws(() => dayRange("9999-12-28", "9999-12-31"), /outside the days/);
  assert.equal(dayCount("2026-02-27", "2026-03-01"), 3);
  assert.equal(dayCount("2000-01-01", "2026-11-19"), 9820);
  assert.equal(addDays("2024-02-28", 1), "2024-02-29");
});

test("--to 9999-12-31 is a usage error at once instead of a loop", async (t) => {
  const dataDir = await tempDataDir(t);
  const result = await runSluice(["backfill", "events", "--from", "9999-12-01", "--to", "9999-12-31", "--data-dir", dataDir]);
  assert.equal(result.code, 2, result.stderr);
  assert.match(result.stderr, /"9999-12-31" is outside the days Sluice partitions, 0001-01-01 to 9999-12-30/);
  const run = await runSluice(["run", "events", "--date", "9999-12-31", "--data-dir", dataDir]);
  assert.equal(run.code, 2, run.stderr);
});

test("a range longer than SLUICE_BACKFILL_MAX_DAYS needs --yes, and the refusal says how many days and how long", async (t) => {
  const server = createServer((req, res) => {
    const start = new URL(req.url ?? "/", "http://x").searchParams.get("start") ?? "";
    const record = { event_id: `e-${start.slice(0, 10)}`, user_id: 1, ts: start.replace("00:00:00", "12:00:00"), event_type: "login" };
    res.setHeader("content-type", "application/json").end(JSON.stringify({ data: [record], next_cursor: null }));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  t.after(() => new Promise<void>((r) => server.close(() => r())));
  const apiUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const dataDir = await tempDataDir(t);

  const tenYears = await runSluice(["backfill", "events", "--from", "2000-01-01", "--to", "2026-11-19", "--data-dir", dataDir]);
  assert.equal(tenYears.code, 2, tenYears.stderr);
  assert.match(tenYears.stderr, /is 9820 days, more than 3660 \(SLUICE_BACKFILL_MAX_DAYS\); pass --yes/);

  // Once the job has run, the refusal gives an estimate from its runs.
  assert.equal((await runSluice(["run", "events", "--date", "2026-11-10", "--api-url", apiUrl, "--data-dir", dataDir])).code, 0);
  const args = ["backfill", "events", "--from", "2026-11-11", "--to", "2026-11-14", "--api-url", apiUrl, "--data-dir", dataDir];
  const refused = await runSluice(args, { SLUICE_BACKFILL_MAX_DAYS: "3" });
  assert.equal(refused.code, 2, refused.stderr);
  assert.match(refused.stderr, /is 4 days, more than 3 \(SLUICE_BACKFILL_MAX_DAYS\), about [\d.]+ h at [\d.]+ s a day with --concurrency 2; pass --yes/);
  assert.ok(refused.stderr.trim().split("\n").length <= 2, refused.stderr);

  const confirmed = await runSluice([...args, "--yes"], { SLUICE_BACKFILL_MAX_DAYS: "3" });
  assert.equal(confirmed.code, 0, confirmed.stderr);
  assert.match(confirmed.stdout, /4 succeeded/);
  const bad = await runSluice(args, { SLUICE_BACKFILL_MAX_DAYS: "many" });
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /SLUICE_BACKFILL_MAX_DAYS "many" must be a whole number/);
});
