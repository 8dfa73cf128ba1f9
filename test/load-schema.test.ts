/** The warehouse schema: safe evolution of a table when its spec changes, and the lake views. */
import { test } from "node:test";
import assert from "node:assert/strict";
import pl from "nodejs-polars";
import { SchemaError } from "../src/core/errors.ts";
import { writeLakePartition } from "../src/load/lake.ts";
import type { TableSpec } from "../src/load/types.ts";
import { ensureWarehouse, withWarehouse } from "../src/load/warehouse.ts";
import { EVENTS, USERS, eventRows, eventsFrame, expectedEvents, loadEvents, rows, snapshot, usersFrame, writeEvents } from "./fixtures/load.ts";
import { tempDataDir } from "./support/dirs.ts";

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
  await loadEvents(dataDir, "run-null-2", [["2026-11-23", await writeEvents(dataDir, "2026-11-23", [])]], { allowShrink: true }, withCountry);
  // A safe widening (INTEGER -> BIGINT) is applied in place and keeps the old values.
  const widened: TableSpec = { ...withCountry, columns: withCountry.columns.map((c) => (c.name === "n" ? { ...c, type: "BIGINT" } : c)) };
  await loadEvents(dataDir, "run-4", [["2026-11-22", await writeEvents(dataDir, "2026-11-22", eventRows([5]))]], {}, widened);
  assert.deepEqual(await rows(dataDir, "SELECT data_type FROM information_schema.columns WHERE table_schema = 'main' AND table_name = 'events' AND column_name = 'n'"), [["BIGINT"]]);
  assert.deepEqual(await rows(dataDir, "SELECT event_id, n FROM events ORDER BY event_id"), [[1, 1], [2, 2], [3, 3], [5, 5]]);
  // A writer that names its all-null columns spares the load a read of the Parquet schema, and the
  // load believes it: a Null column it does not name reads as INTEGER, which a TIMESTAMP refuses.
  const nullDay = async (dt: string, id: number) => writeLakePartition(dataDir, "events", dt, eventsFrame(dt, eventRows([id])).withColumns(pl.lit(null).alias("ts"), pl.lit(null).alias("country")));
  const named = { table: widened, dt: "2026-11-24", parquetPath: await nullDay("2026-11-24", 7), nullColumns: ["ts", "country"] };
  await loadEvents(dataDir, "run-null-named", [], { loads: [named] }, widened);
  assert.deepEqual(await rows(dataDir, "SELECT event_id, ts, country FROM events WHERE dt = '2026-11-24'"), [[7, null, null]]);
  const unnamed = { table: widened, dt: "2026-11-25", parquetPath: await nullDay("2026-11-25", 8), nullColumns: ["country"] };
  await assert.rejects(loadEvents(dataDir, "run-null-unnamed", [], { loads: [unnamed] }, widened), (error: unknown) => error instanceof SchemaError && /column ts is .* but the lake file has INTEGER/.test(error.message));

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
