/** Materialization: the atomic Parquet lake, the DuckDB warehouse (one-transaction MERGE loads), and file locks. */
import { spawn, type ChildProcess } from "node:child_process";
import { readdir, readFile, stat, utimes, writeFile } from "node:fs/promises";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import pl from "nodejs-polars";
import { LockError, SchemaError } from "../src/core/errors.ts";
import { lakePartitionExists, lakePartitionPath, listLakePartitions, readLakePartitions, writeLakePartition } from "../src/load/lake.ts";
import { LEASE_MS, acquireLock, isLockHeld, lockPath } from "../src/load/locks.ts";
import type { TableSpec, RunRecord } from "../src/load/types.ts";
import {
  ensureWarehouse,
  loadPartitions,
  markAbandonedRuns,
  query,
  readPartitionStatus,
  recordRun,
  warehousePath,
  withWarehouse,
  type DuckDBConnection,
  type LoadTransaction,
} from "../src/load/warehouse.ts";
import { tempDataDir } from "./support/dirs.ts";
import { assertFramesEqual } from "./support/frames.ts";
import { LOAD_TEST_EVENTS as EVENTS, LOAD_TEST_USERS as USERS } from "./support/tables.ts";

const ROOT = path.resolve(import.meta.dirname, "..");

// ---------------------------------------------------------------------------------------------
// Fixtures

interface EventRow {
  event_id: number;
  user_id: string;
  amount: number;
  /** Seconds after midnight of dt. */
  sec: number;
  n: number;
}

function eventRows(ids: number[], tag = ""): EventRow[] {
  return ids.map((id) => ({ event_id: id, user_id: `u${id % 7}${tag}`, amount: id * 1.5, sec: id, n: id % 100 }));
}

function eventsFrame(dt: string, rows: EventRow[]): pl.DataFrame {
  const day = Date.parse(`${dt}T00:00:00Z`);
  return pl.DataFrame({
    event_id: pl.Series("event_id", rows.map((r) => r.event_id), pl.Int64),
    dt: pl.Series("dt", rows.map(() => new Date(day)), pl.Date),
    user_id: pl.Series("user_id", rows.map((r) => r.user_id), pl.Utf8),
    amount: pl.Series("amount", rows.map((r) => r.amount), pl.Float64),
    ts: pl.Series("ts", rows.map((r) => new Date(day + r.sec * 1000)), pl.Datetime("ms")).cast(pl.Datetime("us", "UTC")),
    n: pl.Series("n", rows.map((r) => r.n), pl.Int32),
  });
}

/** The rows query() should return for these events, computed independently of the loader. */
function expectedEvents(parts: Array<[string, EventRow[]]>): unknown[][] {
  const out: unknown[][] = [];
  for (const [dt, rows] of parts) {
    for (const r of rows) out.push([r.event_id, dt, r.user_id, r.amount, new Date(Date.parse(`${dt}T00:00:00Z`) + r.sec * 1000).toISOString(), r.n]);
  }
  return out.sort((a, b) => Number(a[0]) - Number(b[0]));
}

function usersFrame(rows: Array<[string, string, string]>): pl.DataFrame {
  return pl.DataFrame({
    user_id: pl.Series("user_id", rows.map((r) => r[0]), pl.Utf8),
    name: pl.Series("name", rows.map((r) => r[1]), pl.Utf8),
    updated_at: pl.Series("updated_at", rows.map((r) => new Date(r[2])), pl.Datetime("ms")).cast(pl.Datetime("us", "UTC")),
  });
}

function runRecord(runId: string, dt: string, status: RunRecord["status"] = "succeeded", job = "events"): RunRecord {
  return {
    runId,
    job,
    dt,
    status,
    startedAt: new Date("2026-11-21T01:00:00Z"),
    finishedAt: status === "running" ? null : new Date("2026-11-21T01:05:00Z"),
    rowsIn: 10,
    rowsLoaded: 9,
    rowsQuarantined: 1,
    error: null,
  };
}

async function writeEvents(dataDir: string, dt: string, rows: EventRow[]): Promise<string> {
  return writeLakePartition(dataDir, "events", dt, eventsFrame(dt, rows));
}

/** One load transaction of events partitions, in its own warehouse session. */
async function loadEvents(dataDir: string, runId: string, parts: Array<[string, string]>, extra: Partial<LoadTransaction> = {}, spec: TableSpec = EVENTS) {
  const dt = parts[0]?.[0] ?? "2026-11-20";
  return withWarehouse(dataDir, "write", (conn) =>
    loadPartitions(conn, {
      run: runRecord(runId, dt),
      loads: parts.map(([d, parquetPath]) => ({ table: spec, dt: d, parquetPath })),
      quarantine: { rows: [] },
      checks: [],
      ...extra,
    }),
  );
}

async function rows(dataDir: string, sql: string): Promise<unknown[][]> {
  return withWarehouse(dataDir, "read", async (conn) => (await query(conn, sql)).rows);
}

/** Every user-visible row of the warehouse: the events table, quarantine and runs. */
async function snapshot(dataDir: string): Promise<Record<string, unknown[][]>> {
  return withWarehouse(dataDir, "read", async (conn) => {
    const out: Record<string, unknown[][]> = {};
    for (const t of ["main.events", "sluice.quarantine", "sluice.runs", "sluice.checks"]) out[t] = (await query(conn, `SELECT * FROM ${t} ORDER BY ALL`)).rows;
    return out;
  });
}

/** Spawns `node --import tsx -e code` in the project root; resolves once it printed `ready`. */
async function spawnChild(code: string, env: Record<string, string>): Promise<{ child: ChildProcess; exited: Promise<number | null> }> {
  const child = spawn(process.execPath, ["--import", "tsx", "-e", code], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  let stderr = "";
  child.stderr?.on("data", (d: Buffer) => (stderr += d.toString()));
  await new Promise<void>((resolve, reject) => {
    let out = "";
    child.stdout?.on("data", (d: Buffer) => {
      out += d.toString();
      if (out.includes("ready")) resolve();
    });
    child.on("exit", (c) => reject(new Error(`child exited (${c}) before it was ready: ${stderr}`)));
  });
  return { child, exited };
}

// ---------------------------------------------------------------------------------------------
// Lake

describe("lake", () => {
  test("a partition is written atomically: only data.parquet remains, and a rerun replaces it", async (t) => {
    const dataDir = await tempDataDir(t);
    const first = eventsFrame("2026-11-20", eventRows([1, 2, 3]));
    const file = await writeLakePartition(dataDir, "events", "2026-11-20", first);
    assert.equal(file, path.join(dataDir, "lake", "events", "dt=2026-11-20", "data.parquet"));
    assert.equal(file, lakePartitionPath(dataDir, "events", "2026-11-20"));
    assert.deepEqual(await readdir(path.dirname(file)), ["data.parquet"]);
    assertFramesEqual(pl.readParquet(file), first);

    const second = eventsFrame("2026-11-20", eventRows([4, 5]));
    await writeLakePartition(dataDir, "events", "2026-11-20", second);
    assert.deepEqual(await readdir(path.dirname(file)), ["data.parquet"]);
    assertFramesEqual(pl.readParquet(file), second);
  });

  test("Polars types land as the Parquet types DuckDB reads as TIMESTAMPTZ, DATE and INTEGER", async (t) => {
    const dataDir = await tempDataDir(t);
    // A naive millisecond datetime on purpose: the lake normalizes it to microseconds, UTC.
    const naive = pl.Series("ts", [new Date("2026-11-20T00:00:01Z")], pl.Datetime("ms"));
    assert.equal(naive.dtype.toString(), "DataType(Datetime(ms,))");
    const frame = eventsFrame("2026-11-20", eventRows([1])).withColumns(naive);
    const file = await writeLakePartition(dataDir, "events", "2026-11-20", frame);
    const schema = await withWarehouse(dataDir, "write", async (conn) => {
      const r = await query(conn, `SELECT name, type, logical_type FROM parquet_schema('${file}') WHERE name <> 'duckdb_schema' ORDER BY name`);
      const d = await query(conn, `SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM read_parquet('${file}')) ORDER BY column_name`);
      return { physical: r.rows, described: d.rows };
    });
    const byName = Object.fromEntries(schema.physical.map((r) => [String(r[0]), r]));
    assert.match(String(byName["ts"]?.[2]), /isAdjustedToUTC=1.*MICROS=MicroSeconds/);
    assert.equal(byName["n"]?.[1], "INT32");
    assert.match(String(byName["dt"]?.[2]), /DateType/);
    assert.deepEqual(Object.fromEntries(schema.described.map((r) => [r[0], r[1]])), {
      amount: "DOUBLE",
      dt: "DATE",
      event_id: "BIGINT",
      n: "INTEGER",
      ts: "TIMESTAMP WITH TIME ZONE",
      user_id: "VARCHAR",
    });
  });

  test("temp files of killed writers are cleaned on the next write, and lake globs never see temp files", async (t) => {
    const dataDir = await tempDataDir(t);
    const file = await writeEvents(dataDir, "2026-11-20", eventRows([1, 2]));
    const dir = path.dirname(file);
    const dead = path.join(dir, ".data.parquet.2147483646-deadbeef.tmp"); // no such pid
    const liveRecent = path.join(dir, `.data.parquet.${process.pid}-aaaa.tmp`); // a live writer's: keep
    const liveOld = path.join(dir, `.data.parquet.${process.pid}-bbbb.tmp`); // live pid but hours old: abandoned
    for (const f of [dead, liveRecent, liveOld]) await writeFile(f, "half a parquet file");
    const old = new Date(Date.now() - 3 * 3600_000);
    await utimes(liveOld, old, old);

    // A half-written temp file in the partition does not break readers of the glob.
    const count = await withWarehouse(dataDir, "write", async (conn) => (await query(conn, `SELECT count(*) FROM read_parquet('${dataDir}/lake/events/*/*.parquet')`)).rows);
    assert.deepEqual(count, [[2]]);

    await writeEvents(dataDir, "2026-11-20", eventRows([3]));
    assert.deepEqual((await readdir(dir)).sort(), [path.basename(liveRecent), "data.parquet"].sort());
  });

  test("partitions are listed sorted, read back concatenated, and missing ones are skipped", async (t) => {
    const dataDir = await tempDataDir(t);
    assert.deepEqual(await listLakePartitions(dataDir, "events"), []);
    assert.equal(await readLakePartitions(dataDir, "events", ["2026-11-20"]), null);
    await writeEvents(dataDir, "2026-11-22", eventRows([5]));
    await writeEvents(dataDir, "2026-11-20", eventRows([1, 2]));
    await writeEvents(dataDir, "2026-11-21", eventRows([3, 4]));
    assert.deepEqual(await listLakePartitions(dataDir, "events"), ["2026-11-20", "2026-11-21", "2026-11-22"]);
    assert.equal(await lakePartitionExists(dataDir, "events", "2026-11-21"), true);
    assert.equal(await lakePartitionExists(dataDir, "events", "2026-11-23"), false);

    const got = await readLakePartitions(dataDir, "events", ["2026-11-22", "2026-11-20", "2026-11-19"]);
    assert.ok(got);
    const expected = pl.concat([eventsFrame("2026-11-20", eventRows([1, 2])), eventsFrame("2026-11-22", eventRows([5]))]);
    assertFramesEqual(got, expected, { sortBy: ["event_id"] });
  });
});

// ---------------------------------------------------------------------------------------------
// Warehouse loads

describe("warehouse loads", () => {
  test("a first load inserts every row, and a rerun with identical data changes no row at all", async (t) => {
    const dataDir = await tempDataDir(t);
    const day1 = eventRows([1, 2, 3, 4, 5]);
    const day2 = eventRows([10, 11]);
    const p1 = await writeEvents(dataDir, "2026-11-20", day1);
    const p2 = await writeEvents(dataDir, "2026-11-21", day2);
    const quarantine = {
      rows: [
        { table: "events", record: '{"event_id":"x"}', reason: "event_id: not an integer" },
        { table: "events", record: '{"event_id":"x"}', reason: "event_id: not an integer" },
        { table: "events", record: '{"user":null}', reason: "user_id: required" },
      ],
    };
    const checks = [
      { check: "not_null", table: "events", columns: ["user_id"], severity: "error" as const, action: "quarantine" as const, passed: false, failingRows: 1, sample: [{ key: { event_id: 7n }, value: null }], dt: "2026-11-20" },
    ];
    const first = await loadEvents(dataDir, "run-1", [["2026-11-20", p1], ["2026-11-21", p2]], { quarantine, checks });
    assert.deepEqual(first, { inserted: 7, updated: 0, deleted: 0 });
    assert.deepEqual(await rows(dataDir, "SELECT * FROM events ORDER BY event_id"), expectedEvents([["2026-11-20", day1], ["2026-11-21", day2]]));
    assert.deepEqual(await rows(dataDir, "SELECT run_id, dt, record, reason FROM sluice.quarantine ORDER BY ALL"), [
      ["run-1", "2026-11-20", '{"event_id":"x"}', "event_id: not an integer"],
      ["run-1", "2026-11-20", '{"event_id":"x"}', "event_id: not an integer"],
      ["run-1", "2026-11-20", '{"user":null}', "user_id: required"],
    ]);
    assert.deepEqual(await rows(dataDir, "SELECT run_id, job, table_name, dt, check_name, columns, passed, failing_rows, sample FROM sluice.checks"), [
      ["run-1", "events", "events", "2026-11-20", "not_null", "user_id", false, 1, '[{"key":{"event_id":7},"value":null}]'],
    ]);
    assert.deepEqual(await rows(dataDir, "SELECT run_id, status, rows_loaded FROM sluice.runs"), [["run-1", "succeeded", 9]]);

    const before = await snapshot(dataDir);
    // Rewrite the lake files too, exactly as a rerun would.
    const again = await loadEvents(dataDir, "run-2", [["2026-11-20", await writeEvents(dataDir, "2026-11-20", day1)], ["2026-11-21", await writeEvents(dataDir, "2026-11-21", day2)]], { quarantine, checks: [] });
    assert.deepEqual(again, { inserted: 0, updated: 0, deleted: 0 });
    const after = await snapshot(dataDir);
    assert.deepEqual(after["main.events"], before["main.events"]);
    // Unchanged quarantine rows keep the run_id of the run that first found them.
    assert.deepEqual(after["sluice.quarantine"], before["sluice.quarantine"]);
    assert.deepEqual(await rows(dataDir, "SELECT run_id FROM sluice.runs ORDER BY run_id"), [["run-1"], ["run-2"]]);
  });

  test("changed data updates changed rows, inserts new ones and deletes removed ones only within the partition", async (t) => {
    const dataDir = await tempDataDir(t);
    const day1 = eventRows([1, 2, 3, 4, 5, 6]);
    const day2 = eventRows([10, 11, 12]);
    await loadEvents(dataDir, "run-1", [["2026-11-20", await writeEvents(dataDir, "2026-11-20", day1)], ["2026-11-21", await writeEvents(dataDir, "2026-11-21", day2)]]);

    // Day 1 again: 1-2 unchanged, 3-4 changed, 5-6 gone, 7-8 new.
    const changed = [...eventRows([1, 2]), ...eventRows([3, 4], "-changed"), ...eventRows([7, 8])];
    const counts = await loadEvents(dataDir, "run-2", [["2026-11-20", await writeEvents(dataDir, "2026-11-20", changed)]]);
    assert.deepEqual(counts, { inserted: 2, updated: 2, deleted: 2 });
    assert.deepEqual(await rows(dataDir, "SELECT * FROM events ORDER BY event_id"), expectedEvents([["2026-11-20", changed], ["2026-11-21", day2]]));

    // An empty partition empties that day only.
    const empty = await loadEvents(dataDir, "run-3", [["2026-11-20", await writeEvents(dataDir, "2026-11-20", [])]]);
    assert.deepEqual(empty, { inserted: 0, updated: 0, deleted: 6 });
    assert.deepEqual(await rows(dataDir, "SELECT * FROM events ORDER BY event_id"), expectedEvents([["2026-11-21", day2]]));
  });

  test("an upserted table keeps rows missing from the snapshot and never lets the version column go backwards", async (t) => {
    const dataDir = await tempDataDir(t);
    const load = async (runId: string, dt: string, data: Array<[string, string, string]>) =>
      withWarehouse(dataDir, "write", async (conn) =>
        loadPartitions(conn, {
          run: runRecord(runId, dt, "succeeded", "users"),
          loads: [{ table: USERS, dt, parquetPath: await writeLakePartition(dataDir, "users", dt, usersFrame(data)) }],
          quarantine: { rows: [] },
          checks: [],
        }),
      );
    await load("u-1", "2026-11-20", [
      ["a", "Ann", "2026-11-20T10:00:00Z"],
      ["b", "Bob", "2026-11-20T10:00:00Z"],
      ["d", "Dan", "2026-11-20T10:00:00Z"],
    ]);
    const counts = await load("u-2", "2026-11-21", [
      ["a", "Ann B.", "2026-11-21T09:00:00Z"], // newer: updated
      ["b", "Bobby", "2026-11-19T09:00:00Z"], // older version: ignored
      ["c", "Cy", "2026-11-21T09:00:00Z"], // new: inserted
      // d is missing from this snapshot: kept
    ]);
    assert.deepEqual(counts, { inserted: 1, updated: 1, deleted: 0 });
    assert.deepEqual(await rows(dataDir, "SELECT * FROM users ORDER BY user_id"), [
      ["a", "Ann B.", "2026-11-21T09:00:00.000Z"],
      ["b", "Bob", "2026-11-20T10:00:00.000Z"],
      ["c", "Cy", "2026-11-21T09:00:00.000Z"],
      ["d", "Dan", "2026-11-20T10:00:00.000Z"],
    ]);
    assert.deepEqual(await listLakePartitions(dataDir, "users"), ["2026-11-20", "2026-11-21"]);
  });

  test("schema evolution adds a new nullable column, and an incompatible type change throws SchemaError naming table and column", async (t) => {
    const dataDir = await tempDataDir(t);
    const day1 = eventRows([1, 2]);
    await loadEvents(dataDir, "run-1", [["2026-11-20", await writeEvents(dataDir, "2026-11-20", day1)]]);

    const withCountry: TableSpec = { ...EVENTS, columns: [...EVENTS.columns, { name: "country", type: "VARCHAR" }] };
    const day2 = eventsFrame("2026-11-21", eventRows([3])).withColumns(pl.lit("NL").alias("country"));
    const p2 = await writeLakePartition(dataDir, "events", "2026-11-21", day2);
    await loadEvents(dataDir, "run-2", [["2026-11-21", p2]], {}, withCountry);
    assert.deepEqual(await rows(dataDir, "SELECT event_id, country FROM events ORDER BY event_id"), [[1, null], [2, null], [3, "NL"]]);
    // The lake view follows: old partitions read the new column as NULL.
    assert.deepEqual(await rows(dataDir, "SELECT event_id, country FROM lake.events ORDER BY event_id"), [[1, null], [2, null], [3, "NL"]]);

    const before = await snapshot(dataDir);
    const retyped: TableSpec = { ...withCountry, columns: withCountry.columns.map((c) => (c.name === "user_id" ? { ...c, type: "BIGINT" } : c)) };
    const p3 = await writeLakePartition(dataDir, "events", "2026-11-22", eventsFrame("2026-11-22", eventRows([4])).withColumns(pl.lit(4).cast(pl.Int64).alias("user_id")));
    await assert.rejects(loadEvents(dataDir, "run-3", [["2026-11-22", p3]], {}, retyped), (error: unknown) => {
      assert.ok(error instanceof SchemaError, String(error));
      assert.match(error.message, /table events column user_id is VARCHAR in the warehouse but the job now declares BIGINT/);
      assert.ok(error.hint && /drop table main\.events/.test(error.hint), error.hint);
      assert.equal(error.context.table, "events");
      return true;
    });
    assert.deepEqual(await snapshot(dataDir), before);

    // An all-null Polars column (dtype Null) loads into any declared type.
    const allNull = eventsFrame("2026-11-23", eventRows([6])).withColumns(pl.lit(null).alias("ts"), pl.lit(null).alias("country"));
    await loadEvents(dataDir, "run-null", [["2026-11-23", await writeLakePartition(dataDir, "events", "2026-11-23", allNull)]], {}, withCountry);
    assert.deepEqual(await rows(dataDir, "SELECT event_id, ts, country FROM events WHERE dt = '2026-11-23'"), [[6, null, null]]);
    await loadEvents(dataDir, "run-null-2", [["2026-11-23", await writeEvents(dataDir, "2026-11-23", [])]], {}, withCountry);

    // A safe widening (INTEGER -> BIGINT) is applied in place and keeps the old values.
    const widened: TableSpec = { ...withCountry, columns: withCountry.columns.map((c) => (c.name === "n" ? { ...c, type: "BIGINT" } : c)) };
    await loadEvents(dataDir, "run-4", [["2026-11-22", await writeEvents(dataDir, "2026-11-22", eventRows([5]))]], {}, widened);
    assert.deepEqual(await rows(dataDir, "SELECT data_type FROM information_schema.columns WHERE table_schema = 'main' AND table_name = 'events' AND column_name = 'n'"), [["BIGINT"]]);
    assert.deepEqual(await rows(dataDir, "SELECT event_id, n FROM events ORDER BY event_id"), [[1, 1], [2, 2], [3, 3], [5, 5]]);
  });

  test("a failure mid-transaction rolls back everything, the run row included", async (t) => {
    const dataDir = await tempDataDir(t);
    const day1 = eventRows([1, 2, 3]);
    await loadEvents(dataDir, "run-1", [["2026-11-20", await writeEvents(dataDir, "2026-11-20", day1)]], {
      quarantine: { rows: [{ table: "events", record: "{}", reason: "old" }] },
    });
    const before = await snapshot(dataDir);

    const good = await writeEvents(dataDir, "2026-11-20", eventRows([1, 9], "-new")); // would update 1, insert 9, delete 2-3
    const missing = path.join(dataDir, "lake", "events", "dt=2026-11-21", "data.parquet");
    await assert.rejects(
      loadEvents(dataDir, "run-2", [["2026-11-20", good], ["2026-11-21", missing]], {
        quarantine: { rows: [{ table: "events", record: "{}", reason: "new" }] },
        checks: [{ check: "unique", table: "events", columns: ["event_id"], severity: "error", action: "block", passed: true, failingRows: 0, sample: [], dt: "2026-11-20" }],
      }),
      /could not read the lake file/,
    );
    assert.deepEqual(await snapshot(dataDir), before);
    assert.deepEqual(await rows(dataDir, "SELECT count(*) FROM sluice.runs WHERE run_id = 'run-2'"), [[0]]);
  });

  test("duplicate or NULL keys in a partition are refused before anything is merged", async (t) => {
    const dataDir = await tempDataDir(t);
    await withWarehouse(dataDir, "write", (conn) => ensureWarehouse(conn, [EVENTS], dataDir));
    const dup = await writeEvents(dataDir, "2026-11-20", [...eventRows([1, 2]), ...eventRows([2])]);
    await assert.rejects(loadEvents(dataDir, "run-1", [["2026-11-20", dup]]), (e: unknown) => e instanceof SchemaError && /1 rows with a duplicate key \(event_id\)/.test(e.message));
    assert.deepEqual(await rows(dataDir, "SELECT count(*) FROM events"), [[0]]);

    const nullKey = await writeLakePartition(dataDir, "events", "2026-11-21", eventsFrame("2026-11-21", eventRows([1])).withColumns(pl.lit(null).cast(pl.Int64).alias("event_id")));
    await assert.rejects(loadEvents(dataDir, "run-2", [["2026-11-21", nullKey]]), (e: unknown) => e instanceof SchemaError && /NULL key/.test(e.message));
  });

  test("quarantine is replaced per job and day: gone rows deleted, new rows inserted, unchanged rows keep their run_id", async (t) => {
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

  test("lake views exist for loaded tables and return the lake's rows, also to a read-only session", async (t) => {
    const dataDir = await tempDataDir(t);
    const day1 = eventRows([1, 2, 3]);
    const day2 = eventRows([4]);
    await withWarehouse(dataDir, "write", (conn) => ensureWarehouse(conn, [EVENTS, USERS], dataDir));
    assert.deepEqual(await rows(dataDir, "SELECT table_name FROM information_schema.tables WHERE table_schema = 'lake'"), []);
    await loadEvents(dataDir, "run-1", [["2026-11-20", await writeEvents(dataDir, "2026-11-20", day1)], ["2026-11-21", await writeEvents(dataDir, "2026-11-21", day2)]]);
    assert.deepEqual(await rows(dataDir, "SELECT event_id, dt, user_id, amount, ts, n FROM lake.events ORDER BY event_id"), expectedEvents([["2026-11-20", day1], ["2026-11-21", day2]]));
    assert.deepEqual(await rows(dataDir, "SELECT table_name FROM information_schema.tables WHERE table_schema = 'lake' ORDER BY 1"), [["events"]]);
    // A partition written to the lake after the load shows up at once (the view reads the files).
    await writeLakePartition(dataDir, "events", "2026-11-22", eventsFrame("2026-11-22", eventRows([5])));
    assert.deepEqual(await rows(dataDir, "SELECT count(*), max(dt) FROM lake.events"), [[5, "2026-11-22"]]);
    // ensureWarehouse (re)creates views for every table with partitions.
    await writeLakePartition(dataDir, "users", "2026-11-20", usersFrame([["a", "Ann", "2026-11-20T10:00:00Z"]]));
    await withWarehouse(dataDir, "write", (conn) => ensureWarehouse(conn, [EVENTS, USERS], dataDir));
    assert.deepEqual(await rows(dataDir, "SELECT user_id, dt FROM lake.users"), [["a", "2026-11-20"]]);
  });
});

// ---------------------------------------------------------------------------------------------
// Warehouse sessions and bookkeeping

describe("warehouse sessions", () => {
  const holdWarehouse = `
    const { DuckDBInstance } = await import("@duckdb/node-api");
    const inst = await DuckDBInstance.create(process.env.WAREHOUSE);
    const conn = await inst.connect();
    await conn.run("CREATE TABLE IF NOT EXISTS held (i INTEGER)");
    process.stdout.write("ready\\n");
    await new Promise((r) => setTimeout(r, Number(process.env.HOLD_MS)));
    conn.closeSync();
    inst.closeSync();`;

  test("a reader waits while another process holds the warehouse, then succeeds; with a short wait it throws LockError", async (t) => {
    const dataDir = await tempDataDir(t);
    await withWarehouse(dataDir, "write", (conn) => ensureWarehouse(conn, [EVENTS], dataDir));
    const env = { WAREHOUSE: warehousePath(dataDir), HOLD_MS: "1500" };

    const holder = await spawnChild(`(async () => { ${holdWarehouse} })()`, env);
    const messages: string[] = [];
    const t0 = Date.now();
    const result = await withWarehouse(dataDir, "read", async (conn) => (await query(conn, "SELECT count(*) FROM held")).rows, {
      waitMs: 20_000,
      onWait: (m) => messages.push(m),
    });
    const waited = Date.now() - t0;
    assert.deepEqual(result, [[0]]);
    assert.deepEqual(messages, ["warehouse is busy (a load is running); waiting…"]);
    assert.ok(waited >= 1000, `waited only ${waited} ms`);
    assert.equal(await holder.exited, 0);

    const second = await spawnChild(`(async () => { ${holdWarehouse} })()`, env);
    t.after(() => second.child.kill("SIGKILL"));
    const t1 = Date.now();
    await assert.rejects(withWarehouse(dataDir, "read", async () => 1, { waitMs: 300 }), (e: unknown) => {
      assert.ok(e instanceof LockError, String(e));
      assert.equal(e.retryable, true);
      assert.ok(e.hint?.includes("another process"));
      return true;
    });
    assert.ok(Date.now() - t1 < 1400, "gave up after waitMs, not after the holder let go");
    second.child.kill("SIGKILL");
    await second.exited;
  });

  test("a load killed mid-transaction leaves the warehouse as it was", async (t) => {
    const dataDir = await tempDataDir(t);
    await loadEvents(dataDir, "run-1", [["2026-11-20", await writeEvents(dataDir, "2026-11-20", eventRows([1, 2, 3]))]]);
    const before = await snapshot(dataDir);
    const { child, exited } = await spawnChild(
      `(async () => {
        const { DuckDBInstance } = await import("@duckdb/node-api");
        const inst = await DuckDBInstance.create(process.env.WAREHOUSE);
        const conn = await inst.connect();
        await conn.run("BEGIN TRANSACTION");
        await conn.run("DELETE FROM main.events");
        await conn.run("INSERT INTO sluice.runs (run_id, status) VALUES ('killed', 'succeeded')");
        process.stdout.write("ready\\n");
        setInterval(() => {}, 1000);
      })()`,
      { WAREHOUSE: warehousePath(dataDir) },
    );
    child.kill("SIGKILL");
    await exited;
    assert.deepEqual(await snapshot(dataDir), before);
  });

  test("in one process, readers share the warehouse and a writer waits for them", async (t) => {
    const dataDir = await tempDataDir(t);
    await withWarehouse(dataDir, "write", (conn) => ensureWarehouse(conn, [EVENTS], dataDir));
    const order: string[] = [];
    const slowRead = (name: string) =>
      withWarehouse(dataDir, "read", async (conn) => {
        order.push(`${name} start`);
        await query(conn, "SELECT count(*) FROM events");
        await new Promise((r) => setTimeout(r, 200));
        order.push(`${name} end`);
      });
    const waits: string[] = [];
    const reads = [slowRead("r1"), slowRead("r2")];
    const write = withWarehouse(dataDir, "write", async () => void order.push("write"), { onWait: (m) => waits.push(m) });
    await Promise.all([...reads, write]);
    assert.deepEqual(order.slice(0, 2).sort(), ["r1 start", "r2 start"]);
    assert.equal(order.at(-1), "write");
    assert.equal(waits.length, 1);
  });

  test("a nested withWarehouse on the same file fails at once instead of waiting on itself", async (t) => {
    const dataDir = await tempDataDir(t);
    const t0 = Date.now();
    await assert.rejects(
      withWarehouse(dataDir, "write", () => withWarehouse(dataDir, "read", async () => 1)),
      /inside another withWarehouse/,
    );
    assert.ok(Date.now() - t0 < 5000);
    // A different data dir is a different warehouse: nesting is fine.
    const other = await tempDataDir(t);
    assert.equal(await withWarehouse(dataDir, "write", () => withWarehouse(other, "write", async () => 7)), 7);
  });

  test("an aborted signal cancels a wait for the warehouse", async (t) => {
    const dataDir = await tempDataDir(t);
    const controller = new AbortController();
    let release!: () => void;
    let entered!: () => void;
    const inside = new Promise<void>((r) => (entered = r));
    const held = withWarehouse(dataDir, "write", () => new Promise<void>((r) => ((release = r), entered())));
    await inside; // the writer holds the warehouse now, however slow the machine is
    const waiting = withWarehouse(dataDir, "read", async () => 1, { signal: controller.signal });
    controller.abort();
    await assert.rejects(waiting, (e: unknown) => (e as Error).name === "CancelledError");
    release();
    await held;
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

  test("query returns JSON-friendly values", async (t) => {
    const dataDir = await tempDataDir(t);
    const result = await withWarehouse(dataDir, "read", (conn) =>
      query(
        conn,
        `SELECT 42::BIGINT AS small, 9007199254740993::BIGINT AS big, TIMESTAMPTZ '2026-11-20 10:00:00.123456+00' AS us,
                TIMESTAMPTZ '2026-11-20 10:00:00+02' AS ms, DATE '2026-11-20' AS d, 1.50::DECIMAL(10,2) AS dec, [1, 2] AS list, NULL AS nothing`,
      ),
    );
    assert.deepEqual(result.columns, ["small", "big", "us", "ms", "d", "dec", "list", "nothing"]);
    assert.equal(result.types[2], "TIMESTAMP WITH TIME ZONE");
    assert.deepEqual(result.rows, [[42, "9007199254740993", "2026-11-20T10:00:00.123456Z", "2026-11-20T08:00:00.000Z", "2026-11-20", "1.50", [1, 2], null]]);
  });
});

// ---------------------------------------------------------------------------------------------
// Locks

describe("locks", () => {
  test("a lock of another host is held while its lease is renewed, and taken over once the lease ran out", async (t) => {
    const dataDir = await tempDataDir(t);
    const file = lockPath(dataDir, "job-events");
    await acquireLock(dataDir, "job-events", { wait: false, owner: { runId: "probe" } }).then((l) => l.release());
    const foreign = JSON.stringify({ runId: "run-on-b", pid: process.pid, host: "worker-b.example", since: new Date().toISOString() }) + "\n";
    await writeFile(file, foreign);
    // Renewed a moment ago: the holder on host b is alive as far as we can tell.
    await assert.rejects(acquireLock(dataDir, "job-events", { wait: false, owner: { runId: "mine" } }), (e: unknown) => e instanceof LockError && /worker-b\.example/.test((e as Error).message) && /lease/.test((e as LockError).hint ?? ""));
    assert.equal((await isLockHeld(dataDir, "job-events")).held, true);
    // Not renewed for longer than the lease: host b's holder is gone.
    const old = new Date(Date.now() - LEASE_MS - 5_000);
    await utimes(file, old, old);
    assert.equal((await isLockHeld(dataDir, "job-events")).held, false);
    const lock = await acquireLock(dataDir, "job-events", { wait: false, owner: { runId: "mine" } });
    assert.match(await readFile(file, "utf8"), /"runId":"mine"/);
    await lock.release();
  });

  test("a holder renews its lease while it holds the lock, and stops when it releases", async (t) => {
    const dataDir = await tempDataDir(t);
    const lock = await acquireLock(dataDir, "job-users", { wait: false, owner: { runId: "holder" }, heartbeatMs: 50 });
    const file = lockPath(dataDir, "job-users");
    const old = new Date(Date.now() - LEASE_MS - 5_000);
    await utimes(file, old, old);
    await new Promise((r) => setTimeout(r, 200));
    assert.ok(Date.now() - (await stat(file)).mtimeMs < 1_000, "the heartbeat moved the mtime forward");
    await lock.release();
    await assert.rejects(stat(file), "released");
  });

  test("a lock is exclusive: a second taker fails at once naming the holder, and can take it after release", async (t) => {
    const dataDir = await tempDataDir(t);
    const lock = await acquireLock(dataDir, "job-events-2026-11-20", { wait: false, owner: { runId: "run-a" } });
    const content = JSON.parse(await readFile(lockPath(dataDir, "job-events-2026-11-20"), "utf8")) as Record<string, unknown>;
    assert.equal(content["runId"], "run-a");
    assert.equal(content["pid"], process.pid);
    assert.deepEqual(await isLockHeld(dataDir, "job-events-2026-11-20"), { held: true, owner: { runId: "run-a", pid: process.pid } });
    await assert.rejects(acquireLock(dataDir, "job-events-2026-11-20", { wait: false, owner: { runId: "run-b" } }), (e: unknown) => {
      assert.ok(e instanceof LockError);
      assert.match(e.message, new RegExp(`held by run run-a \\(pid ${process.pid}`));
      return true;
    });
    // Another name is another lock.
    const other = await acquireLock(dataDir, "warehouse-load-events", { wait: false, owner: { runId: "run-b" } });
    await other.release();
    await lock.release();
    await lock.release(); // idempotent
    assert.deepEqual(await isLockHeld(dataDir, "job-events-2026-11-20"), { held: false });
    const again = await acquireLock(dataDir, "job-events-2026-11-20", { wait: false, owner: { runId: "run-b" } });
    await again.release();
    assert.deepEqual(await readdir(path.join(dataDir, "locks")), []);
  });

  test("wait:true polls until the holder releases, and gives up with LockError after timeoutMs", async (t) => {
    const dataDir = await tempDataDir(t);
    const lock = await acquireLock(dataDir, "job-x", { wait: false, owner: { runId: "a" } });
    await assert.rejects(acquireLock(dataDir, "job-x", { wait: true, timeoutMs: 250, owner: { runId: "b" } }), LockError);
    setTimeout(() => void lock.release(), 300);
    const t0 = Date.now();
    const second = await acquireLock(dataDir, "job-x", { wait: true, timeoutMs: 5000, owner: { runId: "b" } });
    assert.ok(Date.now() - t0 >= 250);
    assert.deepEqual(await isLockHeld(dataDir, "job-x"), { held: true, owner: { runId: "b", pid: process.pid } });
    const controller = new AbortController();
    const waiting = acquireLock(dataDir, "job-x", { wait: true, signal: controller.signal, owner: { runId: "c" } });
    setTimeout(() => controller.abort(), 50);
    await assert.rejects(waiting, (e: unknown) => (e as Error).name === "CancelledError");
    await second.release();
  });

  test("the lock of a killed holder is stale and taken over, by exactly one of several takers", async (t) => {
    const dataDir = await tempDataDir(t);
    const url = pathToFileURL(path.join(ROOT, "src/load/locks.ts")).href;
    const { child, exited } = await spawnChild(
      `(async () => {
        const { acquireLock } = await import(${JSON.stringify(url)});
        await acquireLock(process.env.DATA_DIR, "job-events-2026-11-20", { wait: false, owner: { runId: "killed-run" } });
        process.stdout.write("ready\\n");
        setInterval(() => {}, 1000);
      })()`,
      { DATA_DIR: dataDir },
    );
    const held = await isLockHeld(dataDir, "job-events-2026-11-20");
    assert.deepEqual(held, { held: true, owner: { runId: "killed-run", pid: child.pid } });
    await assert.rejects(acquireLock(dataDir, "job-events-2026-11-20", { wait: false, owner: { runId: "too-early" } }), LockError);
    child.kill("SIGKILL");
    await exited;
    assert.deepEqual(await isLockHeld(dataDir, "job-events-2026-11-20"), { held: false });

    const attempts = await Promise.allSettled(
      Array.from({ length: 8 }, (_, i) => acquireLock(dataDir, "job-events-2026-11-20", { wait: false, owner: { runId: `taker-${i}` } })),
    );
    const winners = attempts.filter((a) => a.status === "fulfilled");
    assert.equal(winners.length, 1, JSON.stringify(attempts.map((a) => (a.status === "rejected" ? String(a.reason) : "won"))));
    for (const a of attempts) if (a.status === "rejected") assert.ok(a.reason instanceof LockError, String(a.reason));
    const owner = (await isLockHeld(dataDir, "job-events-2026-11-20")).owner;
    assert.ok(owner?.runId.startsWith("taker-"));
    // No claim or temp files are left behind.
    assert.deepEqual(await readdir(path.join(dataDir, "locks")), ["job-events-2026-11-20.lock"]);
    if (winners[0]?.status === "fulfilled") await winners[0].value.release();
  });

  test("release removes the lock only while we still own it", async (t) => {
    const dataDir = await tempDataDir(t);
    const lock = await acquireLock(dataDir, "job-y", { wait: false, owner: { runId: "a" } });
    const file = lockPath(dataDir, "job-y");
    // Someone took it over (we looked dead to them): our release must not remove their lock.
    const theirs = JSON.stringify({ runId: "b", pid: process.pid, host: "elsewhere", since: new Date().toISOString() });
    await writeFile(file, theirs);
    await lock.release();
    assert.equal(await readFile(file, "utf8"), theirs);
    assert.ok((await stat(file)).isFile());
  });
});
