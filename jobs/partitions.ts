/** Small frame helpers shared by job files. */
import pl from "nodejs-polars";
import type { TableSpec } from "../src/load/types.ts";
import type { TableOutput } from "../src/pipeline/job.ts";

/** Splits a frame by its `dt` Date column into the given partitions (missing ones become empty frames). */
export function partitionsByDt(table: TableSpec, frame: pl.DataFrame, dts: readonly string[]): TableOutput {
  const keyed = frame.withColumns(pl.col("dt").cast(pl.Utf8).alias("__dt"));
  const partitions = new Map<string, pl.DataFrame>();
  for (const dt of dts) partitions.set(dt, keyed.filter(pl.col("__dt").eq(pl.lit(dt))).drop("__dt"));
  return { table, partitions };
}
