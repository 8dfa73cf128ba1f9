/**
 * Benchmark: warehouse open+close, and loadPartitions (staging from Parquet + key checks + one MERGE
 * + commit) of one 1M-row partition into an empty table, a rerun with identical data (full table,
 * nothing changes), and a rerun where 10% of rows changed and 1% are gone. Prints milliseconds.
 * Run: cd /work/main && npx tsx bench/merge.ts [rows=1000000] [runs=3]
 */
import { rm } from "node:fs/promises";
import { availableParallelism, loadavg } from "node:os";
import pl from "nodejs-polars";
import { writeLakePartition } from "../src/load/lake.ts";
import type { RunRecord, TableSpec } from "../src/load/types.ts";
import { loadPartitions, withWarehouse } from "../src/load/warehouse.ts";
import { tempDir } from "../test/support/dirs.ts";
import { LOAD_TEST_EVENTS } from "../test/support/tables.ts";
import { median } from "./lib.ts";

const N = Number(process.argv[2] ?? 1_000_000);
const RUNS = Number(process.argv[3] ?? 3);
const DT = "2026-11-20";

/** The load tests' events table with one more string column, as an event log has. */
const EVENTS: TableSpec = { ...LOAD_TEST_EVENTS, columns: [...LOAD_TEST_EVENTS.columns, { name: "event_type", type: "VARCHAR" }] };

/** 1M events of one day; `variant` 1 changes the amount of every 10th row and drops every 100th. */
function frame(variant: 0 | 1): pl.DataFrame {
  const dayUs = Date.parse(`${DT}T00:00:00Z`) * 1000;
  let df = pl
    .DataFrame({ i: pl.Series("i", Array.from({ length: N }, (_, i) => i), pl.Int64) })
    .select(
      pl.col("i").alias("event_id"),
      pl.lit(new Date(`${DT}T00:00:00Z`)).cast(pl.Date).alias("dt"),
      pl.lit("u").add(pl.col("i").modulo(50_000).cast(pl.Int64).cast(pl.Utf8)).alias("user_id"),
      pl.col("i").mul(0.25).alias("amount"),
      pl.col("i").mul(86_000).add(dayUs).cast(pl.Datetime("us")).alias("ts"),
      pl.col("i").modulo(100).cast(pl.Int32).alias("n"),
      pl.when(pl.col("i").modulo(10).eq(0)).then(pl.lit("purchase")).otherwise(pl.lit("view_page")).alias("event_type"),
    );
  if (variant === 1) {
    df = df
      .filter(pl.col("event_id").modulo(100).neq(1))
      .withColumns(pl.when(pl.col("event_id").modulo(10).eq(0)).then(pl.col("amount").add(1)).otherwise(pl.col("amount")).alias("amount"));
  }
  return df;
}

function run(runId: string): RunRecord {
  return { runId, job: "events", dt: DT, status: "succeeded", startedAt: new Date(), finishedAt: new Date(), rowsIn: N, rowsLoaded: N, rowsQuarantined: 0, error: null };
}

const fmt = (ms: number): string => `${Math.round(ms)} ms`;

async function main(): Promise<void> {
  const base = frame(0);
  const changed = frame(1);
  const results: Record<string, number[]> = { openCloseWrite: [], openCloseRead: [], lakeWrite: [], mergeEmpty: [], mergeFullSame: [], mergeFullChanged: [] };
  let counts: Record<string, unknown> = {};
  // CPU time (all DuckDB threads) is steadier than wall time on a busy shared machine.
  const cpuMs: Record<string, number[]> = {};
  for (let r = 0; r < RUNS; r++) {
    const dataDir = await tempDir("sluice-bench-merge-");
    try {
      await withWarehouse(dataDir, "write", async () => undefined); // create the file
      for (let i = 0; i < 10; i++) {
        let t = performance.now();
        await withWarehouse(dataDir, "write", async () => undefined);
        results["openCloseWrite"]?.push(performance.now() - t);
        t = performance.now();
        await withWarehouse(dataDir, "read", async () => undefined);
        results["openCloseRead"]?.push(performance.now() - t);
      }
      let t = performance.now();
      const p0 = await writeLakePartition(dataDir, "events", DT, base);
      results["lakeWrite"]?.push(performance.now() - t);
      const load = async (id: string, parquetPath: string, key: string) => {
        const t0 = performance.now();
        const cpu0 = process.cpuUsage();
        const c = await withWarehouse(dataDir, "write", (conn) => loadPartitions(conn, { run: run(id), loads: [{ table: EVENTS, dt: DT, parquetPath }], quarantine: { rows: [] }, checks: [] }));
        results[key]?.push(performance.now() - t0);
        const cpu = process.cpuUsage(cpu0);
        (cpuMs[key] ??= []).push((cpu.user + cpu.system) / 1000);
        counts[key] = c;
      };
      await load("r1", p0, "mergeEmpty");
      await load("r2", await writeLakePartition(dataDir, "events", DT, base), "mergeFullSame");
      await load("r3", await writeLakePartition(dataDir, "events", DT, changed), "mergeFullChanged");
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  }
  console.log(`rows: ${N}, runs: ${RUNS} (medians; each load = open + BEGIN + staging + key checks + MERGE ... RETURNING + bookkeeping + COMMIT + close)`);
  console.log(`warehouse open+close (write, empty fn): ${median(results["openCloseWrite"] ?? []).toFixed(1)} ms`);
  console.log(`warehouse open+close (read, empty fn):  ${median(results["openCloseRead"] ?? []).toFixed(1)} ms`);
  console.log(`lake write (Polars writeParquet zstd + fsync + rename): ${fmt(median(results["lakeWrite"] ?? []))}`);
  console.log(`load into empty table:              ${fmt(median(results["mergeEmpty"] ?? []))} wall, ${fmt(median(cpuMs["mergeEmpty"] ?? []))} CPU  ${JSON.stringify(counts["mergeEmpty"])}`);
  console.log(`rerun, identical data (full table): ${fmt(median(results["mergeFullSame"] ?? []))} wall, ${fmt(median(cpuMs["mergeFullSame"] ?? []))} CPU  ${JSON.stringify(counts["mergeFullSame"])}`);
  console.log(`rerun, 10% changed, 1% removed:     ${fmt(median(results["mergeFullChanged"] ?? []))} wall, ${fmt(median(cpuMs["mergeFullChanged"] ?? []))} CPU  ${JSON.stringify(counts["mergeFullChanged"])}`);
  console.log(`load average (1 min) at the end: ${loadavg()[0]?.toFixed(2)} on ${availableParallelism()} cores`);
  counts = {};
}

await main();
