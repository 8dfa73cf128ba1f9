/** The run ledger: sluice.quarantine replaced per job and day, sluice.runs healing and partition status. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { loadPartitions, markAbandonedRuns, readPartitionStatus, recordRun, withWarehouse, type DuckDBConnection } from "../src/load/warehouse.ts";
import { existsSync } from "node:fs";
import path from "node:path";
import pl from "nodejs-polars";
import { silentLogger } from "../src/core/log.ts";
import { bookkeepingDir } from "../src/load/bookkeeping-copy.ts";
import { emptiedQuarantine, recordStartedRun } from "../src/load/run-ledger.ts";
import { localWarehouse } from "../src/pipeline/warehouse-gateway.ts";
import { sqlValue } from "../src/load/sql-values.ts";
import { eventRows, loadEvents, rows, runRecord, writeEvents } from "./fixtures/load.ts";
import { tempDataDir } from "./support/dirs.ts";

test("the warehouse quarantine is replaced per job and day: gone rows deleted, new rows inserted, unchanged rows keep their run_id", async (t) => {
  const dataDir = await tempDataDir(t);
  const p = await writeEvents(dataDir, "2026-11-20", eventRows([1]));
  const q = (...reasons: string[]) => ({ rows: reasons.map((reason) => ({ table: "events", record: `{"r":"${reason}"}`, reason })) });
  await loadEvents(dataDir, "run-1", [["2026-11-20", p]], { quarantine: q("a", "b") });
  await withWarehouse(dataDir, "write", (conn) =>
    loadPartitions(conn, { run: runRecord("other-1", "2026-11-21"), loads: [], quarantine: q("z"), checks: [] }),
  );
  await loadEvents(dataDir, "run-2", [["2026-11-20", p]], { quarantine: q("b", "c") });
  assert.deepEqual(await rows(dataDir, "SELECT run_id, dt, reason FROM sluice.quarantine ORDER BY dt, reason"), [
    ["run-1", "2026-11-20", "b"],
    ["run-2", "2026-11-20", "c"],
    ["other-1", "2026-11-21", "z"],
  ]);
  // An explicit empty scope touches nothing (used to record a failed run's checks).
  await withWarehouse(dataDir, "write", (conn) => loadPartitions(conn, { run: runRecord("run-3", "2026-11-20", "failed"), loads: [], quarantine: { rows: [], dts: [] }, checks: [] }));
  assert.deepEqual(await rows(dataDir, "SELECT count(*) FROM sluice.quarantine"), [[3]]);
  // The default scope is the run's dt: an empty set clears it.
  await withWarehouse(dataDir, "write", (conn) => loadPartitions(conn, { run: runRecord("run-4", "2026-11-20"), loads: [], quarantine: { rows: [] }, checks: [] }));
  assert.deepEqual(await rows(dataDir, "SELECT dt, reason FROM sluice.quarantine"), [["2026-11-21", "z"]]);
});

test("markAbandonedRuns marks running rows of dead processes only, and partition status shows the last run per day", async (t) => {
  const dataDir = await tempDataDir(t);
  assert.deepEqual(await withWarehouse(dataDir, "read", (conn) => readPartitionStatus(conn)), []);
  const at = (iso: string) => new Date(iso);
  await withWarehouse(dataDir, "write", async (conn: DuckDBConnection) => {
    await recordRun(conn, { ...runRecord("old", "2026-11-20", "failed"), startedAt: at("2026-11-21T00:00:00Z"), error: "boom" });
    await recordRun(conn, { ...runRecord("dead", "2026-11-20", "running"), startedAt: at("2026-11-21T02:00:00Z") });
    await recordRun(conn, { ...runRecord("alive", "2026-11-21", "running"), startedAt: at("2026-11-21T02:00:00Z") });
    await recordRun(conn, { ...runRecord("done", "2026-11-22"), startedAt: at("2026-11-21T02:00:00Z") });
    await recordRun(conn, { ...runRecord("u1", "2026-11-20", "succeeded", "users"), startedAt: at("2026-11-21T02:00:00Z") });
    // recordRun upserts: the final state replaces the start row.
    await recordRun(conn, { ...runRecord("done", "2026-11-22"), startedAt: at("2026-11-21T02:00:00Z"), rowsLoaded: 42 });
    assert.equal(await markAbandonedRuns(conn, (id) => id === "alive"), 1);
    assert.equal(await markAbandonedRuns(conn, (id) => id === "alive"), 0);
  });
  const status = await withWarehouse(dataDir, "read", (conn) => readPartitionStatus(conn, "events"));
  assert.deepEqual(
    status.map((s) => [s.dt, s.status, s.rows_loaded, s.started_at, s.finished_at === null, s.error === null]),
    [
      ["2026-11-20", "abandoned", 9, "2026-11-21T02:00:00.000Z", false, false],
      ["2026-11-21", "running", 9, "2026-11-21T02:00:00.000Z", true, true],
      ["2026-11-22", "succeeded", 42, "2026-11-21T02:00:00.000Z", false, true],
    ],
  );
  assert.equal((await withWarehouse(dataDir, "read", (conn) => readPartitionStatus(conn))).length, 4);
  assert.deepEqual(await rows(dataDir, "SELECT count(*) FROM sluice.runs WHERE run_id = 'done'"), [[1]]);
});

test("run rows and check rows keep every value exactly: quotes, NUL, emoji and backslashes in text, large counts, NaN as NULL", async (t) => {
  const dataDir = await tempDataDir(t);
  const nasty = "it's \"quoted\" \\ back\\slash; --not a comment\u0000NUL after 🌊 $1 :name";
  const started = { ...runRecord("r'1", "2026-11-20", "running"), error: null };
  const finished = { ...runRecord("r'1", "2026-11-20", "failed"), rowsIn: 2 ** 53 - 1, error: nasty };
  const check = { check: nasty, table: "events", columns: ["a'b", "c"], dt: "2026-11-20", severity: "error" as const, action: "quarantine" as const, passed: false, failingRows: 3, sample: [{ key: { id: "x'y" }, value: nasty }], observed: Number.NaN, lower: 0.125, upper: null };
  await withWarehouse(dataDir, "write", async (conn) => {
    await recordStartedRun(conn, started);
    await loadPartitions(conn, { run: finished, loads: [], quarantine: { rows: [] }, checks: [check] });
  });
  assert.deepEqual(await rows(dataDir, "SELECT run_id, status, rows_in, error FROM sluice.runs"), [["r'1", "failed", 2 ** 53 - 1, nasty]]);
  const [row] = await rows(dataDir, "SELECT check_name, columns, sample, observed, lower_bound, upper_bound FROM sluice.checks");
  assert.deepEqual(row, [nasty, "a'b,c", JSON.stringify(check.sample), null, 0.125, null]);
  assert.deepEqual([sqlValue(true), sqlValue(null), sqlValue(Number.POSITIVE_INFINITY), sqlValue(12n), sqlValue(1e21)], ["TRUE", "NULL", "NULL", "12", "1000000000000000000000"]);
});

test("the lake's bookkeeping copy has no quarantine file for a day that never quarantined a row, and an empty one for a day whose quarantine emptied", async (t) => {
  const dataDir = await tempDataDir(t);
  const warehouse = localWarehouse(dataDir, { signal: new AbortController().signal, log: silentLogger() });
  const dt = "2026-11-20";
  const copyOf = (table: string) => path.join(bookkeepingDir(dataDir), table, "job=events", `dt=${dt}`, "data.parquet");
  const copied = (table: string) => (existsSync(copyOf(table)) ? pl.readParquet(copyOf(table)).height : null);
  const commit = (runId: string, reasons: string[]) =>
    warehouse.commit({ run: runRecord(runId, dt), loads: [], quarantine: { rows: reasons.map((reason) => ({ table: "events", record: "{}", reason })) }, checks: [] });

  await commit("run-1", []);
  assert.deepEqual([copied("runs"), copied("checks"), copied("quarantine")], [1, 0, null], "no quarantine file for a day with none");
  await commit("run-2", ["a", "b"]);
  assert.deepEqual([copied("runs"), copied("quarantine")], [2, 2]);
  await commit("run-3", []);
  assert.deepEqual([copied("runs"), copied("quarantine")], [3, 0], "the emptied day's file is rewritten empty, not left with its old rows");
  assert.deepEqual(await rows(dataDir, "SELECT count(*) FROM sluice.quarantine"), [[0]]);
});

test("emptiedQuarantine names the days of a load's quarantine scope that end with no rows", () => {
  const run = runRecord("r", "2026-11-20");
  const row = (dt?: string) => ({ table: "events", record: "{}", reason: "x", ...(dt ? { dt } : {}) });
  assert.deepEqual(emptiedQuarantine(run, { rows: [] }), ["2026-11-20"]);
  assert.deepEqual(emptiedQuarantine(run, { rows: [row()] }), []);
  assert.deepEqual(emptiedQuarantine(run, { rows: [row("2026-11-21")], dts: ["2026-11-20", "2026-11-22"] }), ["2026-11-20", "2026-11-22"]);
  assert.deepEqual(emptiedQuarantine(run, { rows: [], dts: [] }), []);
});

test("the bookkeeping tables every run appends to store their text as a dictionary, without the FSST analysis that took half of each run's checkpoint", async (t) => {
  const dataDir = await tempDataDir(t);
  const warehouse = localWarehouse(dataDir, { signal: new AbortController().signal, log: silentLogger() });
  const check = { check: "not_null(user_id)", table: "events", columns: ["user_id"], severity: "error" as const, action: "quarantine" as const, passed: true, failingRows: 0, sample: [] };
  // Many long names sharing most of their bytes: text DuckDB would analyse with every method it has.
  const checks = Array.from({ length: 300 }, (_, i) => ({ ...check, check: `values of events.amount within the bounds learned from the last 28 days, variant ${i}`, dt: "2026-11-20" }));
  await warehouse.commit({ run: runRecord("events-2026-11-20-0123abcd", "2026-11-20"), loads: [], quarantine: { rows: [] }, checks });
  const text = (table: string) => `SELECT DISTINCT compression FROM pragma_storage_info('${table}') WHERE segment_type = 'VARCHAR'`;
  const compressions = (await rows(dataDir, `${text("sluice.runs")} UNION ${text("sluice.checks")}`)).map((r) => String(r[0]));
  assert.ok(compressions.length > 0, "the tables have text segments on disk");
  // DuckDB's own choice here is Uncompressed for the names, after trying FSST and the rest.
  assert.deepEqual(compressions.filter((c) => c !== "Constant"), ["Dictionary"]);
});
