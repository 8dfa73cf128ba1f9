/** Partition loads into the warehouse: exact change counts, idempotent reruns, upserts, key checks, and all-or-nothing transactions. */
import path from "node:path";
import { test } from "node:test";
import assert from "node:assert/strict";
import pl from "nodejs-polars";
import { SchemaError } from "../src/core/errors.ts";
import { listLakePartitions, writeLakePartition } from "../src/load/lake.ts";
import { ensureWarehouse, loadPartitions, warehousePath, withWarehouse } from "../src/load/warehouse.ts";
import { EVENTS, USERS, eventRows, eventsFrame, expectedEvents, loadEvents, rows, runRecord, snapshot, spawnChild, usersFrame, writeEvents } from "./fixtures/load.ts";
import { tempDataDir } from "./support/dirs.ts";

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

  // An empty partition empties that day only (a shrink past the table's maxShrink: the run allows it).
  const empty = await loadEvents(dataDir, "run-3", [["2026-11-20", await writeEvents(dataDir, "2026-11-20", [])]], { allowShrink: true });
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

test("a load that fails mid-transaction rolls back everything, the run row included", async (t) => {
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

test("the writer's key counts stand in for the load's own: a partition they call duplicated is refused, unless a cast of its key makes them moot", async (t) => {
  const dataDir = await tempDataDir(t);
  await withWarehouse(dataDir, "write", (conn) => ensureWarehouse(conn, [EVENTS], dataDir));
  const file = await writeEvents(dataDir, "2026-11-20", eventRows([1, 2, 3]));
  const claim = (keyFaults: { nullKeys: number; duplicateKeys: number }, table = EVENTS) =>
    withWarehouse(dataDir, "write", (conn) =>
      loadPartitions(conn, { run: runRecord("run-1", "2026-11-20"), loads: [{ table, dt: "2026-11-20", parquetPath: file, rows: 3, keyFaults }], quarantine: { rows: [] }, checks: [] }),
    );
  // The file's keys are unique: only the writer's counts can make these loads fail, so they are what the load read.
  await assert.rejects(claim({ nullKeys: 0, duplicateKeys: 1 }), (e: unknown) => e instanceof SchemaError && /1 rows with a duplicate key \(event_id\)/.test(e.message));
  await assert.rejects(claim({ nullKeys: 2, duplicateKeys: 0 }), (e: unknown) => e instanceof SchemaError && /2 rows .* have a NULL key/.test(e.message));
  assert.deepEqual(await rows(dataDir, "SELECT count(*) FROM events"), [[0]]);
  // A key staged with a cast (the file's BIGINT into a DECIMAL column) may merge two keys: the load counts for itself.
  const widened = { ...EVENTS, name: "events_dec", columns: EVENTS.columns.map((c) => (c.name === "event_id" ? { ...c, type: "DECIMAL(20,0)" } : c)) };
  assert.equal((await claim({ nullKeys: 0, duplicateKeys: 1 }, widened)).inserted, 3);
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

/** A partitioned table with a narrowing cast (the file's BIGINT read as INTEGER): a value past INTEGER fails only when read. */
const COUNTS = { name: "counts", key: ["id"], partitioned: true, columns: [{ name: "id", type: "BIGINT" }, { name: "n", type: "INTEGER" }, { name: "dt", type: "DATE" }] };

/** Loads one counts partition; `rows` given (as the engine gives it) stages a small file as a copy, absent as a view over the file. */
async function loadCounts(dataDir: string, runId: string, ids: number[], ns: number[], staged: "copy" | "view") {
  const frame = pl.DataFrame({ id: pl.Series("id", ids, pl.Int64), n: pl.Series("n", ns, pl.Int64) });
  const parquetPath = await writeLakePartition(dataDir, "counts", "2026-11-20", frame);
  const load = { table: COUNTS, dt: "2026-11-20", parquetPath, ...(staged === "copy" ? { rows: frame.height } : {}) };
  return withWarehouse(dataDir, "write", (conn) => loadPartitions(conn, { run: runRecord(runId, "2026-11-20", "succeeded", "counts"), loads: [load], quarantine: { rows: [] }, checks: [] }));
}

test("a small partition staged as a copy and one staged as a view over its file load the same rows with the same counts, and both refuse a value the table cannot take", async (t) => {
  const results: Record<string, unknown[]> = {};
  for (const staged of ["copy", "view"] as const) {
    const dataDir = await tempDataDir(t);
    const first = await loadCounts(dataDir, "run-1", [1, 2, 3], [10, 20, 30], staged);
    const second = await loadCounts(dataDir, "run-2", [2, 3, 4], [20, 31, 40], staged);
    const table = await rows(dataDir, "SELECT id, n FROM counts ORDER BY id");
    await assert.rejects(loadCounts(dataDir, "run-3", [5], [2 ** 40], staged), (e: unknown) => e instanceof SchemaError && /could not read .* as table counts/.test(e.message), `${staged}: the out-of-range value is refused as a SchemaError`);
    assert.deepEqual(await rows(dataDir, "SELECT id, n FROM counts ORDER BY id"), table, `${staged}: the refused load changed nothing`);
    assert.deepEqual(await rows(dataDir, "SELECT run_id FROM sluice.runs ORDER BY run_id"), [["run-1"], ["run-2"]], `${staged}: the refused load recorded no run`);
    results[staged] = [first, second, table];
  }
  assert.deepEqual(results["copy"], [{ inserted: 3, updated: 0, deleted: 0 }, { inserted: 1, updated: 1, deleted: 1 }, [[2, 20], [3, 31], [4, 40]]]);
  assert.deepEqual(results["view"], results["copy"]);
});
