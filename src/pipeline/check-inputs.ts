/**
 * What a suite's history-aware checks need besides the frame: the earlier observed values of its
 * anomaly checks (from sluice.checks, through the WarehouseGateway, so queue workers ask the
 * loader), and the reference tables of its foreign keys (lazy scans of the lake's Parquet, so the
 * reference keys never enter JavaScript and no warehouse is opened for them).
 */
import pl from "nodejs-polars";
import { lakePartitionPath, listLakePartitions } from "../load/lake.ts";
import { historySeries, referenceOf, type Suite, type ValidationContext } from "../validate/index.ts";
import type { WarehouseGateway } from "./warehouse-gateway.ts";

/** Where the inputs come from. */
export interface CheckInputScope {
  job: string;
  dt: string;
  dataDir: string;
  warehouse: WarehouseGateway;
}

/** The history and reference tables of a suite's checks for one partition (empty when it needs none). */
export async function checkInputs(suite: Suite, scope: CheckInputScope): Promise<Pick<ValidationContext, "history" | "references">> {
  const out: Pick<ValidationContext, "history" | "references"> = {};
  const series = historySeries(suite, scope.dt);
  if (series.length > 0) out.history = await scope.warehouse.checkHistory({ job: scope.job, table: suite.table, before: scope.dt, series });
  const tables = [...new Set(suite.checks.flatMap((c) => (c.kind === "foreign_key" ? [referenceOf(c).table] : [])))];
  if (tables.length > 0) {
    out.references = {};
    for (const table of tables) out.references[table] = await lakeReference(scope.dataDir, table);
  }
  return out;
}

/**
 * Every lake partition of a table as one lazy frame (null when it has none: the check is then
 * skipped). The union of the partitions is the warehouse table's key set: partitioned tables hold
 * one day per file, upserted ones a snapshot or a delta per run date.
 */
export async function lakeReference(dataDir: string, table: string): Promise<pl.LazyDataFrame | null> {
  const dts = await listLakePartitions(dataDir, table);
  if (dts.length === 0) return null;
  const scans = dts.map((dt) => pl.scanParquet(lakePartitionPath(dataDir, table, dt)));
  // Partitions written before a schema change may differ in columns or widths.
  return scans.length === 1 ? (scans[0] as pl.LazyDataFrame) : pl.concat(scans, { how: "diagonalRelaxed" });
}
