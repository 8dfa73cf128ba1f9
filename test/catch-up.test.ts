/**
 * planCatchUp: which days a catch-up runs, from partition statuses, the start, today and the
 * lookback; and `sluice catch-up` exiting like a backfill (1 with a failed day, 2 without a start).
 */
import assert from "node:assert/strict";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { test } from "node:test";
import { addDays, formatDay } from "../src/core/dates.ts";
import { UsageError } from "../src/core/errors.ts";
import { startDemoApi } from "../src/demo-api/index.ts";
import { planCatchUp, type CatchUpInput, type PartitionLastStatus } from "../src/pipeline/catch-up.ts";
import { tempDataDir } from "./support/dirs.ts";
import { runSluice } from "./support/sluice.ts";
import { EVENTS_PER_DAY_ANY_DATE } from "./support/events.ts";

const TODAY = "2026-11-20";

function history(entries: Record<string, string>): PartitionLastStatus[] {
  return Object.entries(entries).map(([dt, status]) => ({ dt, status }));
}

function plan(over: Partial<CatchUpInput>): ReturnType<typeof planCatchUp> {
  return planCatchUp({ job: "events", statuses: [], today: TODAY, lookback: 0, ...over });
}

function days(over: Partial<CatchUpInput>): string[] {
  return plan(over).days.map((d) => d.dt);
}

test("five missed nights after the last success are exactly the days to run, plus the lookback", () => {
  const statuses = history({ "2026-11-12": "succeeded", "2026-11-13": "succeeded", "2026-11-14": "succeeded" });
  const result = plan({ statuses, lookback: 0 });
  assert.equal(result.from, "2026-11-14");
  assert.deepEqual(result.days, ["2026-11-15", "2026-11-16", "2026-11-17", "2026-11-18", "2026-11-19"].map((dt) => ({ dt, reason: "missing", lastStatus: null })));
  // A lookback of 7 reaches back over the last successes: those are rerun for late data.
  assert.deepEqual(days({ statuses, lookback: 7 }), ["2026-11-13", "2026-11-14", "2026-11-15", "2026-11-16", "2026-11-17", "2026-11-18", "2026-11-19"]);
  assert.deepEqual(plan({ statuses, lookback: 7 }).days[0], { dt: "2026-11-13", reason: "lookback", lastStatus: "succeeded" });
});

test("with no history and no start it is a usage error that says to pass --from or declare a start", () => {
  assert.throws(
    () => plan({ statuses: [] }),
    (error: unknown) => {
      assert.ok(error instanceof UsageError);
      assert.equal(error.exitCode, 2);
      assert.match(error.message, /no partition of events has run yet and the job declares no start date/);
      assert.match(error.hint ?? "", /--from YYYY-MM-DD .*sluice catch-up events --from 2026-11-19.*declare the job's start date/);
      return true;
    },
  );
});

test("with no history, a start runs every day from it to yesterday", () => {
  const result = plan({ start: "2026-11-17" });
  assert.equal(result.from, "2026-11-17");
  assert.deepEqual(result.days.map((d) => [d.dt, d.reason]), [["2026-11-17", "missing"], ["2026-11-18", "missing"], ["2026-11-19", "missing"]]);
});

test("failures inside the range and before the last success are all run; successes in between are not", () => {
  const statuses = history({
    "2026-11-10": "succeeded",
    "2026-11-11": "failed",
    "2026-11-12": "succeeded",
    "2026-11-13": "succeeded",
    "2026-11-14": "failed",
    "2026-11-15": "cancelled",
    "2026-11-17": "abandoned",
    "2026-11-18": "running",
  });
  // The last success is the 13th: the 11th failed before it and still runs.
  const result = plan({ statuses });
  assert.equal(result.from, "2026-11-13");
  assert.deepEqual(result.days.map((d) => [d.dt, d.reason, d.lastStatus]), [
    ["2026-11-11", "not-succeeded", "failed"],
    ["2026-11-14", "not-succeeded", "failed"],
    ["2026-11-15", "not-succeeded", "cancelled"],
    ["2026-11-16", "missing", null],
    ["2026-11-17", "not-succeeded", "abandoned"],
    ["2026-11-18", "not-succeeded", "running"],
    ["2026-11-19", "missing", null],
  ]);
});

test("days that never ran before the last success are reported as gaps, not run", () => {
  const statuses = history({ "2026-11-10": "succeeded", "2026-11-13": "succeeded", "2026-11-19": "succeeded" });
  const result = plan({ statuses });
  assert.deepEqual(result.days, []);
  assert.deepEqual(result.gaps, ["2026-11-11", "2026-11-12", "2026-11-14", "2026-11-15", "2026-11-16", "2026-11-17", "2026-11-18"]);
  // With a declared start, the days from it to the first run are gaps too.
  assert.deepEqual(plan({ statuses, start: "2026-11-08" }).gaps.slice(0, 3), ["2026-11-08", "2026-11-09", "2026-11-11"]);
});

test("lookback 0 after a success yesterday runs nothing", () => {
  const statuses = history({ "2026-11-18": "succeeded", "2026-11-19": "succeeded" });
  assert.deepEqual(plan({ statuses, lookback: 0 }), { from: "2026-11-19", days: [], gaps: [] });
});

test("a lookback longer than the history stops at the start, and without a start runs what it names", () => {
  const statuses = history({ "2026-11-17": "succeeded", "2026-11-18": "succeeded", "2026-11-19": "succeeded" });
  assert.deepEqual(days({ statuses, lookback: 10, start: "2026-11-16" }), ["2026-11-16", "2026-11-17", "2026-11-18", "2026-11-19"]);
  assert.deepEqual(plan({ statuses, lookback: 10, start: "2026-11-16" }).days[0], { dt: "2026-11-16", reason: "missing", lastStatus: null });
  assert.equal(days({ statuses, lookback: 10 }).length, 10);
  assert.equal(days({ statuses, lookback: 10 })[0], "2026-11-10");
});

test("today and later are never run, and a success today does not hide the missed days before it", () => {
  const statuses = history({ "2026-11-15": "succeeded", "2026-11-20": "succeeded", "2026-11-21": "failed" });
  const result = plan({ statuses, lookback: 1 });
  assert.equal(result.from, "2026-11-15");
  assert.deepEqual(result.days.map((d) => d.dt), ["2026-11-16", "2026-11-17", "2026-11-18", "2026-11-19"]);
});

test("partitions before the declared start are ignored, even failed ones", () => {
  const statuses = history({ "2026-11-01": "failed", "2026-11-18": "succeeded" });
  assert.deepEqual(days({ statuses, start: "2026-11-10" }), ["2026-11-19"]);
  assert.deepEqual(days({ statuses }), ["2026-11-01", "2026-11-19"]);
});

test("history without any success starts at the earliest day that ran", () => {
  const statuses = history({ "2026-11-17": "failed", "2026-11-18": "failed" });
  const result = plan({ statuses });
  assert.equal(result.from, "2026-11-17");
  assert.deepEqual(result.days.map((d) => d.dt), ["2026-11-17", "2026-11-18", "2026-11-19"]);
});

test("a bad lookback, today or start is a usage error quoting the value", () => {
  for (const lookback of [-1, 1.5, Number.NaN]) {
    assert.throws(() => plan({ statuses: history({ "2026-11-18": "succeeded" }), lookback }), (e: unknown) => e instanceof UsageError && e.message.includes(`--lookback "${lookback}"`));
  }
  assert.throws(() => plan({ today: "2026-02-30", start: "2026-01-01" }), /--today "2026-02-30" is not a real calendar date/);
  assert.throws(() => plan({ start: "20261101" }), /--from "20261101" is not a date of the form YYYY-MM-DD/);
});

test("a catch-up whose day fails exits 1 and runs the failed day again next time; without history or a start it is a usage error", async (t) => {
  const today = formatDay(new Date());
  const failing = addDays(today, -1);
  let fail = true;
  const api = await startDemoApi({ eventsPerDay: EVENTS_PER_DAY_ANY_DATE, seed: 8 });
  t.after(() => api.close());
  // In front of the demo API: yesterday answers 404 until told otherwise.
  const proxy = createServer((req, res) => {
    const start = new URL(req.url ?? "/", "http://x").searchParams.get("start") ?? "";
    if (fail && start.startsWith(failing)) return void res.writeHead(404, { "content-type": "application/json" }).end('{"error":"not yet"}');
    void fetch(`${api.url}${req.url ?? "/"}`).then(async (up) => res.writeHead(up.status, { "content-type": "application/json" }).end(Buffer.from(await up.arrayBuffer())), () => res.destroy());
  });
  await new Promise<void>((resolve) => proxy.listen(0, "127.0.0.1", resolve));
  t.after(() => new Promise<void>((resolve) => proxy.close(() => resolve())));
  const proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
  const dataDir = await tempDataDir(t);

  const none = await runSluice(["catch-up", "events", "--api-url", proxyUrl, "--data-dir", dataDir]);
  assert.equal(none.code, 2, none.stderr);
  assert.match(none.stderr, /no partition of events has run yet and the job declares no start date/);
  assert.match(none.stderr, /pass --from YYYY-MM-DD/);

  const first = await runSluice(["catch-up", "events", "--from", addDays(today, -2), "--api-url", proxyUrl, "--data-dir", dataDir]);
  assert.equal(first.code, 1, first.stderr);
  assert.match(first.stdout, new RegExp(`${failing}\\s+failed.*404`));
  assert.match(first.stdout, /1 succeeded, 0 skipped, 1 failed/);

  fail = false;
  const second = await runSluice(["catch-up", "events", "--api-url", proxyUrl, "--data-dir", dataDir]);
  assert.equal(second.code, 0, second.stderr);
  assert.match(second.stderr, /1 partition\(s\) from .* 1 did not succeed/);
  assert.match(second.stdout, new RegExp(`${failing}\\s+succeeded`));
  assert.match(second.stdout, /1 succeeded, 0 skipped, 0 failed/);
});
