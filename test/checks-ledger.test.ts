/**
 * The bookkeeping of history-aware checks: sluice.checks gains its new columns on an existing
 * warehouse, the history read (by date, last successful run per partition, weekday, limit), the
 * results `sluice checks` lists (and the command itself), the anomaly gauges, the report's history
 * charts, and the demo API's anomaly flags.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { parseAnomaly } from "../src/cli/commands/demo-api.ts";
import { buildProgram } from "../src/cli/main.ts";
import { renderChecks } from "../src/cli/commands/checks.ts";
import { UsageError } from "../src/core/errors.ts";
import { appendChecks, upsertRun, type PartitionCheck } from "../src/load/run-ledger.ts";
import type { RunRecord } from "../src/load/types.ts";
import { query, readCheckHistory, readCheckResults, recordRun, withWarehouse } from "../src/load/warehouse.ts";
import { RunMetrics } from "../src/metrics/index.ts";
import type { PartitionOutcome } from "../src/pipeline/index.ts";
import { historyCharts, renderRunReport } from "../src/report/index.ts";
import type { CheckReport, CheckResult, HistoryPoint } from "../src/validate/index.ts";
import { tempDataDir } from "./support/dirs.ts";
import { runSluice } from "./support/sluice.ts";

function runRecord(runId: string, dt: string, status: RunRecord["status"], startedAt: string, job = "events"): RunRecord {
  return { runId, job, dt, status, startedAt: new Date(startedAt), finishedAt: new Date(startedAt), rowsIn: 0, rowsLoaded: 0, rowsQuarantined: 0, error: null };
}

function checkRow(dt: string, check: string, over: Partial<PartitionCheck> = {}): PartitionCheck {
  return { check, table: "events", columns: [], severity: "error", action: "block", passed: true, failingRows: 0, sample: [], dt, kind: "volume", ...over };
}

/** Records a run of `dt` with its checks, as a load transaction would. */
async function recordRunWithChecks(dataDir: string, run: RunRecord, checks: PartitionCheck[]): Promise<void> {
  await withWarehouse(dataDir, "write", async (conn) => {
    await recordRun(conn, run);
    await appendChecks(conn, run, checks);
    await upsertRun(conn, run);
  });
}

test("a warehouse created before observed values gains the new sluice.checks columns, its old rows kept as NULL", async (t) => {
  const dataDir = await tempDataDir(t);
  await withWarehouse(dataDir, "write", async (conn) => {
    await conn.run("CREATE SCHEMA sluice");
    await conn.run(`CREATE TABLE sluice.checks (run_id VARCHAR, job VARCHAR, table_name VARCHAR, dt DATE, check_name VARCHAR, columns VARCHAR, severity VARCHAR,
      action VARCHAR, passed BOOLEAN, failing_rows BIGINT, sample VARCHAR, checked_at TIMESTAMPTZ)`);
    await conn.run("INSERT INTO sluice.checks VALUES ('old', 'events', 'events', DATE '2026-11-01', 'event_id: not_null', 'event_id', 'error', 'quarantine', true, 0, '[]', now())");
  });
  // Before any write evolves it, reads cope with the old shape.
  assert.deepEqual((await withWarehouse(dataDir, "read", (conn) => readCheckResults(conn, { job: "events" }))).map((r) => [r.check, r.result, r.observed]), [["event_id: not_null", "passed", null]]);
  const history = await withWarehouse(dataDir, "read", (conn) => readCheckHistory(conn, { job: "events", table: "events", before: "2026-12-01", series: [{ check: "events: volume", limit: 14, weekday: null }] }));
  assert.deepEqual(history, { "events: volume": [] });
  await recordRunWithChecks(dataDir, runRecord("new", "2026-11-02", "succeeded", "2026-11-03T00:00:00Z"), [checkRow("2026-11-02", "events: volume", { observed: 1234, lower: 1000, upper: 1500, detail: "observed 1234" })]);
  const rows = await withWarehouse(dataDir, "read", (conn) =>
    query(conn, "select run_id, observed, lower_bound, upper_bound, skipped, detail from sluice.checks order by run_id desc"),
  );
  assert.deepEqual(rows.rows, [["old", null, null, null, null, null], ["new", 1234, 1000, 1500, false, "observed 1234"]]);
});

test("the history is each earlier partition's value from its last successful run, newest first, by date", async (t) => {
  const dataDir = await tempDataDir(t);
  const days = ["2026-11-10", "2026-11-11", "2026-11-12", "2026-11-13", "2026-11-14", "2026-11-17"];
  // Run in a shuffled order; 11-12 ran twice (the later run wins), 11-13's rerun failed (its earlier success counts),
  // 11-14 only ever failed (blocked: no value), 11-17 is after the partition asked about.
  const runs: Array<[string, string, RunRecord["status"], string, number]> = [
    ["r17", "2026-11-17", "succeeded", "2026-11-18T01:00:00Z", 9999],
    ["r12a", "2026-11-12", "succeeded", "2026-11-18T02:00:00Z", 120],
    ["r10", days[0] as string, "succeeded", "2026-11-18T03:00:00Z", 100],
    ["r13", "2026-11-13", "succeeded", "2026-11-18T04:00:00Z", 130],
    ["r12b", "2026-11-12", "succeeded", "2026-11-18T05:00:00Z", 125],
    ["r14", "2026-11-14", "failed", "2026-11-18T06:00:00Z", 1],
    ["r13b", "2026-11-13", "failed", "2026-11-18T07:00:00Z", 2],
    ["r11", "2026-11-11", "succeeded", "2026-11-18T08:00:00Z", 110],
  ];
  for (const [id, dt, status, at, value] of runs) {
    await recordRunWithChecks(dataDir, runRecord(id, dt, status, at), [
      checkRow(dt, "events: volume", { observed: value }),
      checkRow(dt, "amount: mean", { observed: value / 10, kind: "aggregate" }),
      checkRow(dt, "event_id: not_null", { observed: null, kind: "not_null" }),
    ]);
  }
  await recordRunWithChecks(dataDir, runRecord("other", "2026-11-12", "succeeded", "2026-11-19T00:00:00Z", "users"), [checkRow("2026-11-12", "events: volume", { observed: 5 })]);
  const read = (before: string, series: Array<{ check: string; limit: number; weekday: number | null }>) =>
    withWarehouse(dataDir, "read", (conn) => readCheckHistory(conn, { job: "events", table: "events", before, series }));
  const h = await read("2026-11-15", [{ check: "events: volume", limit: 14, weekday: null }, { check: "amount: mean", limit: 2, weekday: null }, { check: "nope", limit: 3, weekday: null }]);
  assert.deepEqual(h["events: volume"], [
    { dt: "2026-11-13", value: 130 },
    { dt: "2026-11-12", value: 125 },
    { dt: "2026-11-11", value: 110 },
    { dt: "2026-11-10", value: 100 },
  ]);
  assert.deepEqual(h["amount: mean"], [{ dt: "2026-11-13", value: 13 }, { dt: "2026-11-12", value: 12.5 }], "limit");
  assert.deepEqual(h["nope"], []);
  // 2026-11-10 and 2026-11-17 are Tuesdays (dayofweek 2).
  assert.deepEqual((await read("2026-11-24", [{ check: "events: volume", limit: 5, weekday: 2 }]))["events: volume"], [{ dt: "2026-11-17", value: 9999 }, { dt: "2026-11-10", value: 100 }]);
});

test("check results are each partition's last run, filtered by --failed and --since, and rendered as table, CSV or JSON", async (t) => {
  const dataDir = await tempDataDir(t);
  await recordRunWithChecks(dataDir, runRecord("a1", "2026-11-23", "failed", "2026-11-24T00:00:00Z"), [checkRow("2026-11-23", "events: volume", { passed: false, observed: 1 })]);
  await recordRunWithChecks(dataDir, runRecord("a2", "2026-11-23", "succeeded", "2026-11-24T01:00:00Z"), [
    checkRow("2026-11-23", "event_id: not_null", { kind: "not_null", action: "quarantine", failingRows: 0 }),
    checkRow("2026-11-23", "events: volume", { observed: 2000, lower: 1400, upper: 2900.5, detail: "observed 2000; expected 1400 to 2900.5" }),
  ]);
  await recordRunWithChecks(dataDir, runRecord("b1", "2026-11-24", "failed", "2026-11-25T00:00:00Z"), [
    checkRow("2026-11-24", "events: volume", { passed: false, observed: 1230, lower: 1426, upper: 2963, detail: "observed 1230, 44.0% below the median" }),
    checkRow("2026-11-24", "amount: mean", { kind: "aggregate", skipped: true, observed: 80.6, detail: "skipped: history of 3 partitions" }),
  ]);
  const read = (filter: { failed?: boolean; since?: string }) => withWarehouse(dataDir, "read", (conn) => readCheckResults(conn, { job: "events", ...filter }));
  const all = await read({});
  assert.deepEqual(all.map((r) => [r.dt, r.check, r.result, r.run_id]), [
    ["2026-11-23", "event_id: not_null", "passed", "a2"],
    ["2026-11-23", "events: volume", "passed", "a2"],
    ["2026-11-24", "events: volume", "failed", "b1"],
    ["2026-11-24", "amount: mean", "skipped", "b1"],
  ]);
  assert.deepEqual((await read({ failed: true })).map((r) => [r.dt, r.check]), [["2026-11-24", "events: volume"]]);
  assert.deepEqual((await read({ since: "2026-11-24" })).map((r) => r.check), ["events: volume", "amount: mean"]);
  const table = renderChecks(all, "table");
  assert.match(table, /2026-11-24 +events +events: volume +failed +error +block +0 +1230 +1426 to 2963 +observed 1230, 44\.0% below the median/);
  assert.match(table, /2026-11-23 +events +events: volume +passed .* 2000 +1400 to 2900\.5/);
  const json = JSON.parse(renderChecks(all, "json")) as Array<Record<string, unknown>>;
  assert.deepEqual(json[3], {
    dt: "2026-11-24", table: "events", check: "amount: mean", result: "skipped", severity: "error", action: "block", failing_rows: 0,
    observed: 80.6, expected: null, detail: "skipped: history of 3 partitions", run_id: "b1", checked_at: json[3]?.["checked_at"],
  });
  assert.match(String(json[3]?.["checked_at"]), /^\d{4}-\d\d-\d\dT/);
  assert.equal(renderChecks(all, "csv").split("\n")[0], "dt,table,check,result,severity,action,failing_rows,observed,expected,detail,run_id,checked_at");
});

/** Runs the CLI in-process (buildProgram with captured output); resolves to stdout, rejects with the command's error. */
async function sluiceInProcess(args: string[]): Promise<string> {
  let out = "";
  const program = buildProgram({ stdout: (text) => (out += text), stderr: () => undefined }, () => undefined, {});
  await program.parseAsync(args, { from: "user" });
  return out;
}

test("sluice checks lists a job's results, and names a bad job or date as a usage error", async (t) => {
  const dataDir = await tempDataDir(t);
  assert.match(await sluiceInProcess(["checks", "events", "--data-dir", dataDir]), /no runs yet in /);
  await recordRunWithChecks(dataDir, runRecord("b1", "2026-11-24", "failed", "2026-11-25T00:00:00Z"), [
    checkRow("2026-11-24", "events: volume", { passed: false, observed: 1230, lower: 1426, upper: 2963 }),
    checkRow("2026-11-24", "event_id: not_null", { kind: "not_null" }),
  ]);
  assert.match(await sluiceInProcess(["checks", "events", "--data-dir", dataDir]), /2026-11-24 +events +events: volume +failed .*\n2026-11-24 +events +event_id: not_null +passed/);
  await assert.rejects(sluiceInProcess(["checks", "nope", "--data-dir", dataDir]), (e: unknown) => e instanceof UsageError && /nope/.test(e.message));
  await assert.rejects(sluiceInProcess(["checks", "events", "--since", "2026-02-30"]), (e: unknown) => e instanceof UsageError && /--since "2026-02-30" is not a real calendar date/.test(e.message));
  // And as its own process: the exit code and the JSON on stdout.
  const failed = await runSluice(["checks", "events", "--failed", "--since", "2026-11-20", "--format", "json", "--data-dir", dataDir]);
  assert.equal(failed.code, 0, failed.stderr);
  assert.deepEqual((JSON.parse(failed.stdout) as Array<{ check: string; expected: string }>).map((r) => [r.check, r.expected]), [["events: volume", "1426 to 2963"]]);
});

/** A partition outcome carrying one anomaly check result. */
function outcomeWith(dt: string, check: Partial<CheckReport>): PartitionOutcome {
  const result = { check: "events: volume", kind: "volume", table: "events", columns: [], severity: "error", action: "block", passed: true, failingRows: 0, sample: [], ...check };
  return { job: "events", dt, runId: `r-${dt}`, status: result.passed ? "succeeded" : "failed", rowsIn: 0, rowsLoaded: 0, rowsQuarantined: 0, failedChecks: result.passed ? 0 : 1, checks: [{ ...(result as CheckReport), dt }], steps: [], durationMs: 1, error: null };
}

test("the anomaly gauges show the latest partition's observed value and verdict, whatever order partitions finished in", async () => {
  const metrics = new RunMetrics();
  metrics.observe(outcomeWith("2026-11-25", { observed: 2100 }));
  metrics.observe(outcomeWith("2026-11-24", { observed: 1230, passed: false }));
  const labels = `{job="events",table="events",check="events: volume"}`;
  let text = await metrics.text();
  assert.ok(text.includes(`pipeline_check_observed_value${labels} 2100`), text);
  assert.ok(text.includes(`pipeline_check_anomaly${labels} 0`), "an earlier day finishing later does not overwrite the latest");
  metrics.observe(outcomeWith("2026-11-26", { observed: 800, passed: false }));
  metrics.observe(outcomeWith("2026-11-26", { check: "event_id: not_null", kind: "not_null", passed: false }));
  text = await metrics.text();
  assert.ok(text.includes(`pipeline_check_observed_value${labels} 800`));
  assert.ok(text.includes(`pipeline_check_anomaly${labels} 1`));
  assert.doesNotMatch(text, /pipeline_check_(anomaly|observed_value)\{[^}]*event_id: not_null/, "row checks have no anomaly gauges");
  // Skipped (too little history) is not an anomaly.
  metrics.observe(outcomeWith("2026-11-27", { observed: 10, skipped: true }));
  assert.ok((await metrics.text()).includes(`pipeline_check_anomaly${labels} 0`));
});

test("the run report draws a history chart per anomaly check: earlier values, the band and this partition", () => {
  const history: HistoryPoint[] = [{ dt: "2026-11-22", value: 2000 }, { dt: "2026-11-23", value: 2100 }];
  const base = { table: "events", columns: [], severity: "error" as const, action: "block" as const, failingRows: 0, sample: [], dt: "2026-11-24" };
  const checks: Array<CheckResult & { dt: string; history?: HistoryPoint[] }> = [
    { ...base, check: "events: volume", kind: "volume", observed: 1230, passed: false, lower: 1426, upper: 2963, history, detail: "observed 1230, 41.4% below the median" },
    { ...base, check: "amount: mean", kind: "aggregate", observed: 80, passed: true, skipped: true, lower: null, upper: null, history: history.slice(0, 1) },
    { ...base, check: "no history yet", kind: "volume", observed: 5, passed: true, history: [] },
    { ...base, check: "event_id: not_null", kind: "not_null", passed: true },
  ];
  const charts = historyCharts("2026-11-24", checks);
  assert.deepEqual(charts.map((c) => [c.title, c.labels, c.values, c.lower, c.upper, c.passed, c.skipped]), [
    ["events: events: volume (history)", ["2026-11-22", "2026-11-23", "2026-11-24"], [2000, 2100, 1230], 1426, 2963, false, false],
    ["events: amount: mean (history)", ["2026-11-22", "2026-11-24"], [2000, 80], null, null, true, true],
  ]);
  const outcome = { ...outcomeWith("2026-11-24", {}), checks };
  const html = renderRunReport(outcome, [], new Date("2026-11-25T00:00:00Z"));
  const data = JSON.parse(/<script type="application\/json" id="report-data">(.*?)<\/script>/s.exec(html)?.[1] ?? "{}") as { charts: Array<{ kind: string; title: string }> };
  assert.deepEqual(data.charts.map((c) => c.kind), ["history", "history"]);
  assert.match(html, /<canvas id="chart-0"[^>]*aria-label="events: events: volume \(history\)"/);
  assert.match(html, /<td class="num" data-field="band">1,426 to 2,963<\/td>/);
  assert.match(html, /<td class="num" data-field="band">none \(skipped: too little history\)<\/td>/);
});

test("the demo API's --anomaly flag takes YYYY-MM-DD=kind and names a bad value", () => {
  assert.deepEqual(parseAnomaly("2026-11-24=half_empty"), { "2026-11-24": "half_empty" });
  assert.deepEqual(parseAnomaly("2026-11-27=zero_amounts"), { "2026-11-27": "zero_amounts" });
  assert.throws(() => parseAnomaly("2026-11-24"), (e: unknown) => e instanceof UsageError && /must be YYYY-MM-DD=kind/.test(e.message));
  assert.throws(() => parseAnomaly("2026-11-24=sometimes"), (e: unknown) => e instanceof UsageError && /unknown kind "sometimes" \(one of half_empty, zero_amounts\)/.test(e.message));
  assert.throws(() => parseAnomaly("2026-13-01=half_empty"), (e: unknown) => e instanceof UsageError && /--anomaly "2026-13-01" is not a real calendar date/.test(e.message));
});
