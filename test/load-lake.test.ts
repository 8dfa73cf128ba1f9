/** The Parquet lake: atomic partition writes, the Parquet types the warehouse reads, stale temp files, listing and reading partitions. */
import { mkdir, readdir, rm, utimes, writeFile } from "node:fs/promises";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { test } from "node:test";
import assert from "node:assert/strict";
import pl from "nodejs-polars";
import { LAKE_ROW_GROUP, hasLakePartition, lakePartitionExists, lakePartitionPath, listLakePartitions, readLakePartitions, writeLakePartition } from "../src/load/lake.ts";
import { query, withWarehouse } from "../src/load/warehouse.ts";
import { eventRows, eventsFrame, spawnChild, writeEvents } from "./fixtures/load.ts";
import { tempDataDir } from "./support/dirs.ts";
import { assertFramesEqual } from "./support/frames.ts";
import { distinctKeysByHash, dtIs, epochDay, keyFaults, splitByDt } from "../src/pipeline/frames.ts";
import { defineJob, runPartition } from "../src/pipeline/index.ts";
import type { TableSpec } from "../src/load/types.ts";
import { testRunSettings } from "./support/settings.ts";

test("a lake partition is written atomically: only data.parquet remains, and a rerun replaces it", async (t) => {
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

test("a lake partition keeps its rows in order, in row groups of LAKE_ROW_GROUP rows that DuckDB's load reads in parallel", async (t) => {
  const dataDir = await tempDataDir(t);
  const n = 2 * LAKE_ROW_GROUP + 1000;
  const frame = pl.DataFrame({ id: Array.from({ length: n }, (_, i) => n - i), v: Array.from({ length: n }, (_, i) => `v${i % 7}`) });
  const file = await writeLakePartition(dataDir, "big", "2026-11-20", frame);
  assert.ok(pl.readParquet(file).frameEqual(frame, true), "the rows, in their order");
  const groups = await withWarehouse(dataDir, "write", async (conn) => (await query(conn, `SELECT row_group_id, any_value(row_group_num_rows) FROM parquet_metadata('${file}') GROUP BY ALL ORDER BY 1`)).rows);
  assert.deepEqual(groups.map((g) => Number(g[1])), [LAKE_ROW_GROUP, LAKE_ROW_GROUP, 1000]);
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

test("a writer killed before its rename leaves the old partition whole, and the next write removes its temp file", async (t) => {
  const dataDir = await tempDataDir(t);
  const file = await writeEvents(dataDir, "2026-11-20", eventRows([1, 2]));
  const fixtures = pathToFileURL(path.join(import.meta.dirname, "fixtures", "load.ts")).href;
  const failpoints = pathToFileURL(path.join(import.meta.dirname, "..", "src", "core", "failpoints.ts")).href;
  const { child, exited } = await spawnChild(
    `(async () => {
      const { eventRows, writeEvents } = await import(${JSON.stringify(fixtures)});
      (await import(${JSON.stringify(failpoints)})).armFailpoint(process.env.SLUICE_FAILPOINT);
      process.stdout.write("ready\\n");
      await writeEvents(process.env.DATA_DIR, "2026-11-20", eventRows([7, 8, 9]));
      process.stdout.write("not killed\\n");
    })()`,
    { DATA_DIR: dataDir, SLUICE_FAILPOINT: "lake.write" },
  );
  assert.equal(await exited, null, "killed by the lake.write failpoint");
  const left = await readdir(path.dirname(file));
  assert.equal(left.length, 2, left.join(", "));
  assert.ok(left.includes("data.parquet"));
  assert.ok(left.some((f) => new RegExp(`^\\.data\\.parquet\\.${child.pid}-[0-9a-f]+\\.tmp$`).test(f)), left.join(", "));
  assertFramesEqual(pl.readParquet(file), eventsFrame("2026-11-20", eventRows([1, 2])));

  await writeEvents(dataDir, "2026-11-20", eventRows([3]));
  assert.deepEqual(await readdir(path.dirname(file)), ["data.parquet"]);
});

test("lake partitions are listed sorted (a day without its data file is none), read back concatenated, and missing ones are skipped", async (t) => {
  const dataDir = await tempDataDir(t);
  assert.deepEqual(await listLakePartitions(dataDir, "events"), []);
  assert.equal(await hasLakePartition(dataDir, "events"), false);
  assert.equal(await readLakePartitions(dataDir, "events", ["2026-11-20"]), null);
  // A day directory without its data file (a write that never finished) is not a partition.
  await mkdir(path.join(dataDir, "lake", "events", "dt=2026-11-19"), { recursive: true });
  assert.deepEqual([await listLakePartitions(dataDir, "events"), await hasLakePartition(dataDir, "events")], [[], false]);
  await writeEvents(dataDir, "2026-11-22", eventRows([5]));
  assert.equal(await hasLakePartition(dataDir, "events"), true);
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

test("splitting by day compares a Date column by its stored day: the rows of comparing it as text, in order, nulls and other days left out", () => {
  const days = [20412, null, 20413, 20412, -719162, 2932896, 20411, 20412];
  const frame = pl.DataFrame({ id: [0, 1, 2, 3, 4, 5, 6, 7], dt: pl.Series("dt", days, pl.Int32).cast(pl.Date) });
  const asText = (dt: string) => frame.filter(pl.col("dt").cast(pl.Utf8).eq(pl.lit(dt)));
  const dts = ["2025-11-20", "2025-11-21", "0001-01-01", "9999-12-30", "2025-11-25"];
  const parts = splitByDt(frame, dts);
  assert.deepEqual([...parts.keys()], dts);
  for (const dt of dts) assertFramesEqual(parts.get(dt)!, asText(dt));
  assert.deepEqual(parts.get("2025-11-20")!.getColumn("id").toArray(), [0, 3, 7]);
  assert.equal(parts.get("2025-11-25")!.height, 0);
  // a day that is not a real YYYY-MM-DD matches nothing, exactly as the text comparison says
  for (const odd of ["2025-11-31", "2025-1-20"]) assert.equal(splitByDt(frame, ["2025-11-20", odd]).get(odd)!.height, asText(odd).height);
  assert.equal(epochDay("2025-11-20"), 20412);
  assert.equal(epochDay("2025-02-29"), null);
  // the same expression on a text dt column compares text
  const text = frame.withColumns(pl.col("dt").cast(pl.Utf8));
  assert.deepEqual(text.filter(dtIs("2025-11-20", text.schema["dt"])).getColumn("id").toArray(), [0, 3, 7]);
});

test("a small frame's key counts: null keys, repeated keys (timestamps a microsecond apart and 64-bit ids past 2^53 differ), composite keys; a large frame is left to the load", () => {
  const ts = pl.Series("ts", [1_000, 1_001, 1_001, 2_000]).cast(pl.Int64).cast(pl.Datetime("us", "UTC"));
  const frame = pl.DataFrame({ id: pl.Series("id", [1, 2, 2, null], pl.Int64), ts, s: ["a", "b", "b", "c"] });
  assert.deepEqual(keyFaults(frame, ["id"]), { nullKeys: 1, duplicateKeys: 1 });
  assert.deepEqual(keyFaults(frame, ["ts"]), { nullKeys: 0, duplicateKeys: 1 });
  assert.deepEqual(keyFaults(frame.head(2), ["ts"]), { nullKeys: 0, duplicateKeys: 0 }, "1,000 and 1,001 µs are the same millisecond, not the same key");
  assert.deepEqual(keyFaults(frame, ["s", "ts"]), { nullKeys: 0, duplicateKeys: 1 });
  assert.deepEqual(keyFaults(frame, ["id", "s"]), { nullKeys: 1, duplicateKeys: 1 });
  // Past 2^53 a JS number merges neighbours: 64-bit keys and nanosecond times are compared exactly.
  const big = pl.Series("big", ["9007199254740993", "9007199254740992", "9007199254740993"]).cast(pl.Int64);
  const ns = pl.Series("ns", ["1796148708648000123", "1796148708648000124", "1796148708648000124"]).cast(pl.Int64).cast(pl.Datetime("ns", "UTC"));
  assert.deepEqual(keyFaults(pl.DataFrame({ big, ns }), ["big"]), { nullKeys: 0, duplicateKeys: 1 });
  assert.deepEqual(keyFaults(pl.DataFrame({ big, ns }), ["ns"]), { nullKeys: 0, duplicateKeys: 1 });
  assert.deepEqual(keyFaults(pl.DataFrame({ big, ns }), ["big", "ns"]), { nullKeys: 0, duplicateKeys: 0 });
  assert.equal(keyFaults(pl.DataFrame({ id: pl.Series("id", Array.from({ length: 50_001 }, (_, i) => i), pl.Int64) }), ["id"]), undefined);
});

test("a large frame's one-column key is certified free of repeats by distinct hashes; a repeat, a float or a composite key is left to the load", async () => {
  const n = 60_000;
  const ids = Array.from({ length: n }, (_, i) => (i % 1000 === 7 ? null : `e-${i}`));
  const strings = pl.DataFrame({ id: pl.Series("id", ids, pl.Utf8), x: pl.Series("x", Array.from({ length: n }, (_, i) => i * 0.5), pl.Float64) });
  assert.deepEqual(await distinctKeysByHash(strings, ["id"]), { nullKeys: 60, duplicateKeys: 0 });
  const repeated = strings.withColumns(pl.when(pl.col("x").eq(pl.lit(100))).then(pl.lit("e-3")).otherwise(pl.col("id")).alias("id"));
  assert.equal(await distinctKeysByHash(repeated, ["id"]), undefined, "e-3 twice");
  assert.equal(await distinctKeysByHash(strings, ["x"]), undefined, "a float key");
  assert.equal(await distinctKeysByHash(strings, ["id", "x"]), undefined, "a composite key");
  // 64-bit ids past 2^53 that a JS number would merge are distinct.
  const big = pl.Series("big", Array.from({ length: n }, (_, i) => String(9_007_199_254_740_992n + BigInt(i)))).cast(pl.Int64);
  assert.deepEqual(await distinctKeysByHash(pl.DataFrame({ big }), ["big"]), { nullKeys: 0, duplicateKeys: 0 });
});

test("a run whose lake write fails for one partition puts back the partitions it wrote beside it, and loads nothing", async (t) => {
  const dataDir = await tempDataDir(t);
  const DAY = "2026-11-20";
  const table = (name: string): TableSpec => ({ name, key: ["id"], partitioned: true, columns: [{ name: "id", type: "BIGINT" }, { name: "v", type: "VARCHAR" }, { name: "dt", type: "DATE" }] });
  const [first, second] = [table("first_part"), table("second_part")];
  let version = "v1";
  const job = defineJob({
    name: "two_parts",
    description: "two tables, one partition each",
    tables: [first, second],
    async run(ctx) {
      const rows = () => pl.DataFrame({ id: [1, 2, 3], v: [version, version, version], dt: [DAY, DAY, DAY] }).withColumns(pl.col("dt").str.strptime(pl.Date, "%Y-%m-%d"), pl.col("id").cast(pl.Int64));
      await ctx.materialize([{ table: first, frame: rows() }, { table: second, frame: rows() }]);
    },
  });
  const settings = testRunSettings(dataDir, "http://127.0.0.1:9");
  assert.equal((await runPartition(job, DAY, settings)).status, "succeeded");
  // the second table's partition file becomes a directory: keeping it for a restore fails at once,
  // while the first table's partition is being written beside it
  const blocked = lakePartitionPath(dataDir, second.name, DAY);
  await rm(blocked);
  await mkdir(path.join(blocked, "in-the-way"), { recursive: true });
  version = "v2";
  const failed = await runPartition(job, DAY, settings);
  assert.equal(failed.status, "failed");
  assert.deepEqual(pl.readParquet(lakePartitionPath(dataDir, first.name, DAY)).getColumn("v").toArray(), ["v1", "v1", "v1"], "the first table's partition is the one loaded before");
  const loaded = await withWarehouse(dataDir, "read", async (conn) => (await query(conn, `SELECT DISTINCT v FROM main.${first.name}`)).rows);
  assert.deepEqual(loaded, [["v1"]], "the warehouse keeps the first load");
  assert.equal((await readdir(path.dirname(lakePartitionPath(dataDir, first.name, DAY)))).length, 1, "no kept or temp file is left beside it");
});
